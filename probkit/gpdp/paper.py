"""Bayesian parametric fits, the maximum-likelihood fit, their transition tensors, and the paper's
full comparison of six policies (`reproduce_paper`)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.stats import norm

from probkit.core import validate
from probkit.gpdp.gp import (
    MODES,
    check_data,
    check_grids,
    fit_gp,
    gp_transition_tensor,
    normalize_rows,
    nuts_sampler,
)
from probkit.gpdp.models import MODELS, crashes, load_training_data, npv, simulate_tables
from probkit.gpdp.rrng import r_rlnorm
from probkit.gpdp.sdp import solve_sdp_batch

__all__ = [
    "ARCHIVED_MLE",
    "ARCHIVED_RESULTS",
    "PAPER_MLE_START",
    "POLICIES",
    "PRIORS",
    "TRUTH",
    "fit_mle",
    "fit_parametric",
    "parametric_transition_tensor",
    "positive_pairs",
    "reproduce_paper",
]

TRUTH = {"r": 2.0, "K": 8.0, "C": 5.0, "sigma": 0.05}
"""The paper's true Allen parameters and noise sd."""
# Uniform priors of the authors' JAGS models (sigma U(1e-6, 100) for all).
PRIORS = {
    "allen": {"r": (0.01, 6.0), "K": (0.01, 20.0), "C": (0.01, 20.0)},
    "ricker": {"r": (0.01, 20.0), "K": (0.01, 40.0)},
    "myers": {"r": (1e-4, 10.0), "theta": (1e-4, 10.0), "K": (1e-4, 40.0)},
}
"""Uniform priors (bounds) of the authors' JAGS models, by model and parameter."""
# The start the authors' R code draws for `optim` (`set.seed(12345)`; truth times
# rlnorm(1, 0, 0.1) for r, K, C, sigma), recomputed with R's Mersenne-Twister and inversion.
PAPER_MLE_START = (2.120602109647663, 8.58819120032999, 4.945645937766525, 0.047783160569210024)
"""Starting point (r, K, C, sigma) the authors' R code uses for `optim`."""
# The authors' MLE (r, K, C): fitted exactly (to 1e-14) to the MLE curve in the archived
# manuscripts/components/data/figure2.csv. Its sigma is not archived.
ARCHIVED_MLE = {"r": 2.1676240952428505, "K": 7.535953685631105, "C": 6.9790116012309396}
"""The authors' MLE (r, K, C) recovered from the archived figure data."""
POLICIES = ("true", "allen", "gp", "mle", "ricker", "myers")
"""Policies `reproduce_paper` compares: the true model, Allen, GP, MLE, Ricker and Myers."""
# Recomputed from the archived figure5.csv / figure4.csv (crash: stock < 0.05 in some year).
ARCHIVED_RESULTS = {
    "true": {"npv_ratio": 1.0, "crashes": 0},
    "allen": {"npv_ratio": 0.9903, "crashes": 0},
    "gp": {"npv_ratio": 0.9384, "crashes": 21},
    "mle": {"npv_ratio": 0.5336, "crashes": 23},
    "ricker": {"npv_ratio": 0.2207, "crashes": 100},
    "myers": {"npv_ratio": 0.2257, "crashes": 100},
}
"""NPV ratio to the true policy and crash count per policy, from the archived data."""


def positive_pairs(data):
    """(x_t, x_t+1) pairs of the (n, 2) stock data with both entries positive."""
    d = np.asarray(check_data(data))
    keep = (d[:, 0] > 0) & (d[:, 1] > 0)
    return jnp.asarray(d[keep, 0]), jnp.asarray(d[keep, 1])


def _param_model(name, x, y):
    import numpyro
    import numpyro.distributions as dist

    p = {k: numpyro.sample(k, dist.Uniform(*b)) for k, b in PRIORS[name].items()}
    p["sigma"] = numpyro.sample("sigma", dist.Uniform(1e-6, 100.0))
    mu = jnp.maximum(MODELS[name].growth(x, p), 1e-300)
    numpyro.sample("y", dist.LogNormal(jnp.log(mu), p["sigma"]), obs=y)


# module-level models, so that `nuts_sampler` caches one compiled sampler per model
_PARAM_MODELS = {name: functools.partial(_param_model, name) for name in PRIORS}


def fit_parametric(key, model: str, data, *, num_warmup=300, num_samples=300, num_chains=2):
    """NUTS posterior of a parametric model under the authors' uniform priors.

    Returns a dict of (num_chains * num_samples,) draws for the parameters and "sigma"; the
    (0, 0) pseudo-datum is dropped (its log-likelihood is undefined).

    Examples:
        Not run by the doctest suite (compiling NUTS takes about 13 s of CPU).

        >>> data = gpdp.load_training_data()  # (n, 2)
        >>> draws = gpdp.fit_parametric(
        ...     jax.random.key(0), "ricker", data, num_warmup=20, num_samples=10
        ... )  # doctest: +SKIP
        >>> sorted(draws), draws["r"].shape  # doctest: +SKIP
        (['K', 'r', 'sigma'], (20,))
    """
    key = validate.key("key", key)
    validate.one_of("model", model, list(PRIORS))
    x, y = positive_pairs(data)
    num_warmup = validate.positive_int("num_warmup", num_warmup)
    num_samples = validate.positive_int("num_samples", num_samples)
    num_chains = validate.positive_int("num_chains", num_chains)
    mcmc = nuts_sampler(_PARAM_MODELS[model], num_warmup, num_samples, num_chains)
    mcmc.run(key, x, y)
    return mcmc.get_samples()


def _allen_logpdf(u, x, y):
    r, K, C, s = u
    mu = x * np.exp(r * (1 - x / K) * (x - C) / K)
    return -np.log(y * s * np.sqrt(2 * np.pi)) - 0.5 * ((np.log(y) - np.log(mu)) / s) ** 2


def fit_mle(data, *, mode="corrected", start=None) -> dict:
    """Maximum-likelihood fit of the Allen model.

    Paper mode follows the published code: L-BFGS-B with bounds 1e-5 and central differences of
    step 1e-3 (R `optim` defaults) from `PAPER_MLE_START`, on the authors' objective
    `-sum(dlnorm(...), log=TRUE)`, which sums *densities* (plus TRUE = 1) instead of
    log-densities. That objective has no maximum (it grows without bound as sigma -> 0 around a
    single point), so the result is wherever the optimiser stops; scipy's L-BFGS-B stops at a
    different point than R's (see `ARCHIVED_MLE`). Corrected mode maximises the log-likelihood
    inside the support of the JAGS priors (`PRIORS`; unbounded, the Allen fit runs off to
    r -> -inf, K -> inf: these data, near the upper equilibrium, do not identify it).

    Examples:
        >>> theta = gpdp.fit_mle(gpdp.load_training_data())  # corrected mode
        >>> sorted(theta), all(v > 0 for v in theta.values())
        (['C', 'K', 'r', 'sigma'], True)
    """
    from scipy.optimize import minimize

    validate.one_of("mode", mode, MODES)
    x, y = (np.asarray(a, float) for a in positive_pairs(data))

    def obj(u):
        if u[1] <= 0 or u[3] <= 0:
            return np.inf
        with np.errstate(all="ignore"):
            logd = _allen_logpdf(u, x, y)
        if not np.isfinite(logd).all():
            return np.inf if mode == "corrected" else -(np.exp(logd[np.isfinite(logd)]).sum() + 1)
        return -(np.exp(logd).sum() + 1.0) if mode == "paper" else -logd.sum()

    if mode == "paper":

        def grad(u, eps=1e-3):
            e = np.eye(4) * eps
            return np.array([(obj(u + e[i]) - obj(u - e[i])) / (2 * eps) for i in range(4)])

        res = minimize(
            obj,
            np.asarray(PAPER_MLE_START if start is None else start, float),
            jac=grad,
            method="L-BFGS-B",
            bounds=[(1e-5, None)] * 4,
            options={"maxcor": 5, "ftol": 1e7 * np.finfo(float).eps, "gtol": 0.0},
        )
    else:
        bounds = [*PRIORS["allen"].values(), (1e-6, 100.0)]
        res = minimize(
            obj,
            np.array([1.5, 10.0, 5.0, 0.2]) if start is None else np.asarray(start, float),
            method="L-BFGS-B",
            bounds=bounds,
        )
    r, K, C, s = res.x
    return {"r": float(r), "K": float(K), "C": float(C), "sigma": float(s)}


def parametric_transition_tensor(
    model: str, draws: dict, x_grid, h_grid=None, *, mode="corrected", resample_key=None
):
    """(H, S, S) transition tensor mixed over parameter draws (dict of (D,) arrays or scalars).

    With `resample_key`, each harvest level mixes its own D draws picked with replacement as
    pdgControl does (`round(runif(n_mc, 1, D))` per h), which makes Q noisy across h (the
    staircase policies of the archived figure 3); without it every h mixes all D draws.

    Paper mode (pdgControl `par_F`/`parameter_uncertainty_SDP`): each draw's row is the density
    `dlnorm(x_grid / mu, 0, sigma)` read at the grid points, or a unit mass at 0 where the
    snapped mean is below the second grid point; the *unnormalised* rows are summed over draws
    and then normalised; the Myers model subtracts h after growth. Corrected: lognormal mass
    binned on the grid cells by CDF differences, then averaged over draws.

    Examples:
        >>> draws = {"r": jnp.array([1.0, 1.1]), "K": jnp.full(2, 8.0), "sigma": jnp.full(2, 0.05)}
        >>> F = gpdp.parametric_transition_tensor("ricker", draws, jnp.linspace(0.0, 15.0, 16))
        >>> F.shape, bool(jnp.allclose(F.sum(-1), 1.0, atol=1e-5))  # D = 2 draws; (H, S, S)
        ((16, 16, 16), True)
    """
    validate.one_of("mode", mode, MODES)
    validate.one_of("model", model, list(MODELS))
    x_grid, h_grid = check_grids(x_grid, h_grid, mode)
    missing = [k for k in (*MODELS[model].param_names, "sigma") if k not in draws]
    if missing:
        raise ValueError(f"draws is missing {missing} for model {model!r}")
    dtype = jnp.result_type(float)
    names = (*MODELS[model].param_names, "sigma")
    draws = {k: jnp.atleast_1d(jnp.asarray(draws[k], dtype)) for k in names}
    sizes = {k: v.shape[0] for k, v in draws.items()}
    if any(v.ndim != 1 for v in draws.values()) or len(set(sizes.values()) - {1}) > 1:
        raise ValueError(f"draws must hold scalars or (D,) arrays of one length D, got {sizes}")
    D = max(sizes.values())
    draws = {k: jnp.broadcast_to(v, (D,)) for k, v in draws.items()}  # scalars shared by all D
    if resample_key is not None:
        D = draws["sigma"].shape[0]
        u = jax.random.uniform(validate.key("resample_key", resample_key), (D, h_grid.shape[0]))
        idx = jnp.round(1.0 + u * (D - 1)).astype(int) - 1
        draws = {k: v[idx][..., None] for k, v in draws.items()}  # (D, H, 1)
    return _param_tensor(model, mode, draws, x_grid.astype(dtype), h_grid.astype(dtype))


def _paper_density_rows(x_grid, mu, sd):
    """Unnormalised `dlnorm(x_grid / mu, 0, sd)` rows; unit mass at 0 where snap(mu) < x[1]."""
    idx = jnp.argmin(jnp.abs(x_grid[None, :] - mu.reshape(-1)[:, None]), axis=1).reshape(mu.shape)
    absorbing = x_grid[idx] < x_grid[1]
    r = x_grid / jnp.where(absorbing, 1.0, mu)[..., None]
    pos = r > 0
    safe = jnp.where(pos, r, 1.0)
    s = sd[..., None]
    dens = jnp.where(pos, jnp.exp(-0.5 * (jnp.log(safe) / s) ** 2) / (safe * s), 0.0)
    dens = dens / jnp.sqrt(2.0 * jnp.pi)
    first = jnp.zeros_like(dens).at[..., 0].set(1.0)
    return jnp.where(absorbing[..., None], first, dens)


@functools.partial(jax.jit, static_argnames=("model", "mode"))
def _param_tensor(model, mode, draws, x_grid, h_grid):
    m = MODELS[model]
    xs, hs = x_grid[None, :], h_grid[:, None]

    def one(p):
        if mode == "paper" and model == "myers":
            mu = jnp.maximum(m.growth(jnp.broadcast_to(xs, (hs.shape[0], xs.shape[1])), p) - hs, 0)
        else:
            mu = m.growth(jnp.maximum(xs - hs, 0.0), p)
        sd = jnp.broadcast_to(p["sigma"], mu.shape)
        if mode == "paper":
            return _paper_density_rows(x_grid, mu, sd)
        mid = 0.5 * (x_grid[1:] + x_grid[:-1])
        pos = mu > 0
        lm = jnp.log(jnp.where(pos, mu, 1.0))
        c = norm.cdf((jnp.log(mid) - lm[..., None]) / sd[..., None])
        lo = jnp.concatenate([jnp.zeros_like(c[..., :1]), c], -1)
        hi = jnp.concatenate([c, jnp.ones_like(c[..., :1])], -1)
        first = jnp.zeros(mu.shape + x_grid.shape, mu.dtype).at[..., 0].set(1.0)
        return normalize_rows(jnp.where(pos[..., None], hi - lo, first))

    def body(acc, p):
        return acc + one(p), None

    first = jax.tree.map(lambda a: a[0], draws)
    rest = jax.tree.map(lambda a: a[1:], draws)
    tot, _ = jax.lax.scan(body, one(first), rest)
    return normalize_rows(tot)


def reproduce_paper(
    key,
    mode: str = "paper",
    *,
    data=None,
    x_grid=None,
    x0: float = 10.0,
    num_reps: int = 100,
    num_years: int = 50,
    crash_threshold: float = 0.05,
    num_warmup: int = 300,
    num_samples: int = 150,
    num_chains: int = 2,
    num_par_draws: int = 100,
    horizon: int = 999,
    discount: float = 0.99,
    mle: dict | None = None,
    r_noise_seed: int | None = None,
) -> dict:
    """The paper's comparison of six policies: true, allen, gp, mle, ricker, myers.

    Paper mode: V <- max_h [F_h V + discount * min(x, h)] for `horizon` sweeps (discount scales
    the reward, as coded; R's loop stops at time == MaxT = 1000, i.e. after 999 sweeps), NPV
    over the first `num_years - 1` harvests (R's `ForwardSimulate`
    books no profit in the last year). Corrected: discounted infinite horizon
    V = max_h [R + discount F V], NPV over all `num_years` harvests. Each policy is simulated
    under the true Allen model with shared random numbers.

    Args:
        mle: Allen parameters (r, K, C, sigma) to use for the "mle" policy instead of `fit_mle`
            (e.g. `ARCHIVED_MLE` with a chosen sigma).
        r_noise_seed: evaluate with the authors' random numbers: R's `set.seed(r_noise_seed)`
            then one `rlnorm(1, 0, sigma)` per year and run, runs in sequence (the paper used 1),
            instead of draws from `key`.

    Returns:
        dict policy name -> {"npv_ratio" (mean over runs of NPV / the true policy's NPV),
        "npv_ratio_se", "crashes" (runs below `crash_threshold`), "harvest" (S,) policy table,
        "npv" (num_reps,), "stock" (num_reps, num_years)}; plus "x_grid", "gp_posterior",
        "draws" (parametric posterior draws), "mle_params".

    Examples:
        Not run by the doctest suite (four NUTS fits: about a minute of CPU even this small);
        the shapes are `harvest` (S,) and `npv` (num_reps,).

        >>> out = gpdp.reproduce_paper(
        ...     jax.random.key(0), "corrected", x_grid=jnp.linspace(0.0, 15.0, 16), num_reps=4,
        ...     num_years=5, num_warmup=20, num_samples=10, num_par_draws=10,
        ...     mle={**gpdp.ARCHIVED_MLE, "sigma": 0.05},
        ... )  # doctest: +SKIP
        >>> [p for p in gpdp.POLICIES if p in out]  # doctest: +SKIP
        ['true', 'allen', 'gp', 'mle', 'ricker', 'myers']
        >>> out["gp"]["harvest"].shape, out["gp"]["npv"].shape  # doctest: +SKIP
        ((16,), (4,))
    """
    key = validate.key("key", key)
    validate.one_of("mode", mode, MODES)
    data = load_training_data() if data is None else data
    x_grid = jnp.linspace(0.0, 15.0, 50) if x_grid is None else x_grid
    x_grid, h_grid = check_grids(x_grid, None, mode)
    data = check_data(data, x_grid)
    discount = validate.probability("discount", discount, open_low=True)
    if mode == "corrected" and discount >= 1.0:
        raise ValueError("discount must be < 1 in corrected mode (infinite horizon)")
    num_reps = validate.positive_int("num_reps", num_reps)
    num_years = validate.positive_int("num_years", num_years)
    crash_threshold = validate.positive_float("crash_threshold", crash_threshold)
    k_gp, k_par, k_sim = jax.random.split(key, 3)
    post = fit_gp(
        k_gp, data, mode=mode, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains
    )
    mle = fit_mle(data, mode=mode) if mle is None else mle
    tensors = {
        "true": parametric_transition_tensor("allen", TRUTH, x_grid, h_grid, mode=mode),
        "gp": gp_transition_tensor(post, x_grid, h_grid, mode=mode),
        "mle": parametric_transition_tensor("allen", mle, x_grid, h_grid, mode=mode),
    }
    draws = {}
    for name, k in zip(("allen", "ricker", "myers"), jax.random.split(k_par, 3)):
        draws[name] = fit_parametric(
            k,
            name,
            data,
            num_warmup=num_warmup,
            num_samples=max(num_par_draws // num_chains, 1),
            num_chains=num_chains,
        )
        tensors[name] = parametric_transition_tensor(
            name,
            draws[name],
            x_grid,
            h_grid,
            mode=mode,
            resample_key=jax.random.fold_in(k, 1) if mode == "paper" else None,
        )
    reward = jnp.minimum(x_grid[None, :], h_grid[:, None])
    Fs = jnp.stack([tensors[n] for n in POLICIES])
    if mode == "paper":
        sol = solve_sdp_batch(Fs, discount * reward, 1.0, horizon=horizon)
    else:
        sol = solve_sdp_batch(Fs, reward, discount)
    harvest = h_grid[sol.policy]
    noise = None
    if r_noise_seed is not None:
        z = r_rlnorm(r_noise_seed, num_reps * (num_years - 1), TRUTH["sigma"])
        z = np.concatenate([z.reshape(num_reps, num_years - 1).T, np.ones((1, num_reps))])
        noise = jnp.asarray(z)
    tr = simulate_tables(
        k_sim, "allen", TRUTH, x0, harvest, x_grid, num_years, num_reps, noise=noise
    )
    booked = tr.harvest[..., : num_years - 1] if mode == "paper" else tr.harvest
    values = jax.vmap(lambda h: npv(tr._replace(harvest=h)))(booked)
    ratio = values / values[0]
    out = {}
    for i, name in enumerate(POLICIES):
        stock = tr.stock[i]
        out[name] = {
            "harvest": harvest[i],
            "npv": values[i],
            "stock": stock,
            "crashes": int(crashes(tr._replace(stock=stock), crash_threshold)),
            "npv_ratio": float(ratio[i].mean()),
            "npv_ratio_se": float(ratio[i].std() / np.sqrt(num_reps)),
            "failed": bool(sol.failed[i]),
        }
    out["x_grid"] = x_grid
    out["gp_posterior"] = post
    out["draws"] = draws
    out["mle_params"] = mle
    return out
