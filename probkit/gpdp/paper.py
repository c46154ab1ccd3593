"""Bayesian parametric fits, their transition tensors, and the paper's full comparison."""

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.stats import norm

from probkit.core import validate
from probkit.gpdp.gp import (
    MODES,
    _paper_rows,
    _rownorm,
    check_data,
    check_grids,
    fit_gp,
    gp_transition_tensor,
)
from probkit.gpdp.models import MODELS, crashes, load_training_data, npv, simulate
from probkit.gpdp.sdp import solve_sdp

__all__ = [
    "PRIORS",
    "TRUTH",
    "fit_mle",
    "fit_parametric",
    "parametric_transition_tensor",
    "reproduce_paper",
]

TRUTH = {"r": 2.0, "K": 8.0, "C": 5.0, "sigma": 0.05}
# Uniform priors of the authors' JAGS models (sigma U(1e-6, 100) for all).
PRIORS = {
    "allen": {"r": (0.01, 6.0), "K": (0.01, 20.0), "C": (0.01, 20.0)},
    "ricker": {"r": (0.01, 20.0), "K": (0.01, 40.0)},
    "myers": {"r": (1e-4, 10.0), "theta": (1e-4, 10.0), "K": (1e-4, 40.0)},
}


def _pairs(data):
    d = np.asarray(check_data(data))
    keep = (d[:, 0] > 0) & (d[:, 1] > 0)
    return jnp.asarray(d[keep, 0]), jnp.asarray(d[keep, 1])


def fit_parametric(key, model: str, data, *, num_warmup=300, num_samples=300, num_chains=2):
    """NUTS posterior of a parametric model under the authors' uniform priors.

    Returns a dict of (num_chains * num_samples,) draws for the parameters and "sigma"; the
    (0, 0) pseudo-datum is dropped (its log-likelihood is undefined).
    """
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    key = validate.key("key", key)
    validate.one_of("model", model, list(PRIORS))
    x, y = _pairs(data)
    m = MODELS[model]

    def prob():
        p = {k: numpyro.sample(k, dist.Uniform(*b)) for k, b in PRIORS[model].items()}
        p["sigma"] = numpyro.sample("sigma", dist.Uniform(1e-6, 100.0))
        mu = jnp.maximum(m.growth(x, p), 1e-300)
        numpyro.sample("y", dist.LogNormal(jnp.log(mu), p["sigma"]), obs=y)

    mcmc = MCMC(
        NUTS(prob),
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method="vectorized",
        progress_bar=False,
    )
    mcmc.run(key)
    return mcmc.get_samples()


def fit_mle(data, *, mode="corrected") -> dict:
    """Maximum-likelihood Allen fit (Nelder-Mead). Paper mode keeps the authors' bug: it
    maximises the *sum of densities* (`-sum(dlnorm(...), log=TRUE)`) instead of the
    log-likelihood."""
    from scipy.optimize import minimize

    validate.one_of("mode", mode, MODES)
    x, y = (np.asarray(a, float) for a in _pairs(data))

    def obj(u):
        r, K, C, s = u
        if K <= 0 or s <= 0:
            return np.inf
        mu = x * np.exp(r * (1 - x / K) * (x - C) / K)
        if (mu <= 0).any() or not np.isfinite(mu).all():
            return np.inf
        logd = -np.log(y * s * np.sqrt(2 * np.pi)) - 0.5 * ((np.log(y) - np.log(mu)) / s) ** 2
        return -(np.exp(logd).sum() + 1.0) if mode == "paper" else -logd.sum()

    res = minimize(
        obj,
        np.array([1.5, 10.0, 5.0, 0.2]),
        method="Nelder-Mead",
        options={"maxiter": 20000, "xatol": 1e-8, "fatol": 1e-10},
    )
    r, K, C, s = res.x
    return {"r": float(r), "K": float(K), "C": float(C), "sigma": float(s)}


def parametric_transition_tensor(model: str, draws: dict, x_grid, h_grid=None, *, mode="corrected"):
    """(H, S, S) tensor averaged over parameter draws (dict of (D,) arrays or scalars).

    Paper mode: `dlnorm(x_grid / mu, 0, sigma)` normalised, absorbing where the snapped mean is
    below the second grid point, and the Myers model subtracts h after growth (pdgControl).
    Corrected: lognormal mass binned on the grid cells by CDF differences.
    """
    validate.one_of("mode", mode, MODES)
    validate.one_of("model", model, list(MODELS))
    x_grid, h_grid = check_grids(x_grid, h_grid, mode)
    m = MODELS[model]
    draws = {k: jnp.atleast_1d(jnp.asarray(v, x_grid.dtype)) for k, v in draws.items()}
    xs, hs = x_grid[None, :], h_grid[:, None]

    def one(p):
        if mode == "paper" and model == "myers":
            mu = m.growth(jnp.broadcast_to(xs, (hs.shape[0], xs.shape[1])), p) - hs
        else:
            mu = m.growth(jnp.maximum(xs - hs, 0.0), p)
        sd = jnp.full(mu.shape, p["sigma"])
        if mode == "paper":
            return _paper_rows(x_grid, mu, sd)
        mid = 0.5 * (x_grid[1:] + x_grid[:-1])
        pos = mu > 0
        lm = jnp.log(jnp.where(pos, mu, 1.0))
        c = norm.cdf((jnp.log(mid) - lm[..., None]) / sd[..., None])
        lo = jnp.concatenate([jnp.zeros_like(c[..., :1]), c], -1)
        hi = jnp.concatenate([c, jnp.ones_like(c[..., :1])], -1)
        first = jnp.zeros_like(c[..., :1].repeat(x_grid.shape[0], -1)).at[..., 0].set(1.0)
        return _rownorm(jnp.where(pos[..., None], hi - lo, first))

    tot = jax.lax.map(one, draws)
    return tot.mean(0)


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
    horizon: int = 1000,
    discount: float = 0.99,
) -> dict:
    """The paper's comparison of six policies: true, allen, gp, mle, ricker, myers.

    Paper mode: V <- max_h [F_h V + discount * min(x, h)] for `horizon` sweeps (discount scales
    the reward, as coded); corrected: discounted infinite horizon V = max_h [R + discount F V].
    Each policy is simulated under the true Allen model with shared random numbers.

    Returns:
        dict policy name -> {"npv_ratio" (mean NPV / true policy's, per run then averaged),
        "npv_ratio_se", "crashes" (runs below `crash_threshold`), "harvest" (S,) policy table};
        plus "x_grid".
    """
    key = validate.key("key", key)
    validate.one_of("mode", mode, MODES)
    data = load_training_data() if data is None else data
    x_grid = jnp.linspace(0.0, 15.0, 50) if x_grid is None else x_grid
    data = check_data(data, x_grid)
    x_grid, h_grid = check_grids(x_grid, None, mode)
    discount = validate.probability("discount", discount, open_low=True)
    k_gp, k_par, k_sim = jax.random.split(key, 3)
    post = fit_gp(
        k_gp, data, mode=mode, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains
    )
    tensors = {
        "true": parametric_transition_tensor("allen", TRUTH, x_grid, h_grid, mode=mode),
        "gp": gp_transition_tensor(post, x_grid, h_grid, mode=mode),
        "mle": parametric_transition_tensor(
            "allen", fit_mle(data, mode=mode), x_grid, h_grid, mode=mode
        ),
    }
    for name, k in zip(("allen", "ricker", "myers"), jax.random.split(k_par, 3)):
        d = fit_parametric(
            k,
            name,
            data,
            num_warmup=num_warmup,
            num_samples=max(num_par_draws // num_chains, 1),
            num_chains=num_chains,
        )
        tensors[name] = parametric_transition_tensor(name, d, x_grid, h_grid, mode=mode)
    reward = jnp.minimum(x_grid[None, :], h_grid[:, None])
    out = {}
    for name, F in tensors.items():
        if mode == "paper":
            sol = solve_sdp(F, discount * reward, 1.0, horizon=horizon)
        else:
            sol = solve_sdp(F, reward, discount)
        harvest = h_grid[sol.policy]
        tr = simulate(k_sim, "allen", TRUTH, x0, harvest, num_years, num_reps, x_grid=x_grid)
        out[name] = {
            "harvest": harvest,
            "npv": npv(tr),
            "crashes": int(crashes(tr, crash_threshold)),
        }
    base = out["true"]["npv"]
    for row in out.values():
        ratio = row["npv"] / base
        row["npv_ratio"] = float(ratio.mean())
        row["npv_ratio_se"] = float(ratio.std() / np.sqrt(ratio.shape[0]))
    out["x_grid"] = x_grid
    out["gp_posterior"] = post
    return out
