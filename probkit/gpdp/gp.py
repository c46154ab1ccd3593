"""GP regression of the stock-recruitment map, NUTS over hyperparameters, transition tensors.

GP prior: zero mean, unit-amplitude squared-exponential kernel exp(-(x-x')^2 / (2 l^2)), additive
N(0, sigma_n^2) observation noise. Hyperparameters (l, sigma_n) are sampled by NUTS on their logs.

Two modes for the posterior and the kernel construction:

* ``"paper"`` -- the published code: Gamma priors (l: shape 10, scale 10; sigma_n: shape 5,
  rate 5) evaluated at exp(u) with no Jacobian, -log det K (not -1/2 log det K) in the likelihood;
  row i under harvest j uses the mean E_f[i - j - 1] (0-based; R's `pmax(i - j, 1)` on 1-based
  indices), i.e. at one grid cell *below* the escapement, and 0 where that index reaches the first
  cell; sd sqrt(V_f[i]) at the pre-harvest state, no sigma_n^2, a normal density read at the grid
  points and normalised; rows whose snapped mean is below the second grid point are absorbing
  at 0.
* ``"corrected"`` -- inverse-gamma priors as the paper states (l: IG(10, 10), sigma_n: IG(5, 5)),
  the proper likelihood and Jacobian; the mean and variance at the escapement S = max(x - h, 0)
  with sigma_n^2 added; Gaussian mass binned on the grid cells by CDF differences (mass below the
  first midpoint goes to the first cell, above the last to the last).
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln
from jax.scipy.stats import norm

from probkit.core import validate
from probkit.core.types import Array

__all__ = [
    "GPPosterior",
    "check_data",
    "fit_gp",
    "normalize_rows",
    "gp_log_marginal",
    "gp_predict",
    "gp_transition_tensor",
    "nuts_sampler",
    "se_kernel",
]

MODES = ("paper", "corrected")


def se_kernel(x1, x2, ell):
    """Unit-amplitude squared-exponential kernel matrix (n1, n2).

    Examples:
        >>> K = gpdp.se_kernel(jnp.array([0.0, 1.0]), jnp.arange(3.0), 1.0)  # (n1, n2)
        >>> K.shape, K[0, 0].tolist()
        ((2, 3), 1.0)
    """
    d = x1[:, None] - x2[None, :]
    return jnp.exp(-0.5 * d * d / (ell * ell))


def _chol(x, ell, sigma_n):
    k = se_kernel(x, x, ell) + (sigma_n**2 + 1e-10) * jnp.eye(x.shape[0], dtype=x.dtype)
    return jnp.linalg.cholesky(k)


def gp_log_marginal(x, y, ell, sigma_n, *, logdet_factor=0.5):
    """log N(y | 0, K + sigma_n^2 I) by Cholesky (`logdet_factor=1.0` is the paper's quirk).

    Examples:
        >>> x, y = jnp.zeros(1), jnp.zeros(1)  # one point: y ~ N(0, 1 + sigma_n²)
        >>> round(float(gpdp.gp_log_marginal(x, y, 1.0, 1.0)), 4)  # -log(2π·2)/2
        -1.2655
    """
    L = _chol(x, ell, sigma_n)
    a = jax.scipy.linalg.solve_triangular(L, y, lower=True)
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diag(L)))
    n = x.shape[0]
    return -0.5 * a @ a - logdet_factor * logdet - 0.5 * n * jnp.log(2.0 * jnp.pi)


def gp_predict(x, y, x_test, ell, sigma_n):
    """Posterior mean (m,) and latent variance (m,) of f at `x_test` (noise not included).

    Examples:
        >>> x, y = jnp.array([0.0, 1.0, 2.0]), jnp.array([0.0, 1.0, 0.0])  # (n,)
        >>> mean, var = gpdp.gp_predict(x, y, jnp.linspace(0.0, 2.0, 5), 1.0, 0.1)
        >>> mean.shape, var.shape, bool((var >= 0).all())  # (m,), (m,)
        ((5,), (5,), True)
    """
    L = _chol(x, ell, sigma_n)
    alpha = jax.scipy.linalg.cho_solve((L, True), y)
    ks = se_kernel(x_test, x, ell)
    mean = ks @ alpha
    v = jax.scipy.linalg.solve_triangular(L, ks.T, lower=True)
    var = jnp.maximum(1.0 - jnp.sum(v * v, axis=0), 0.0)
    return mean, var


def _log_gamma(x, shape, rate):
    return shape * jnp.log(rate) - gammaln(shape) + (shape - 1) * jnp.log(x) - rate * x


def _log_invgamma(x, shape, scale):
    return shape * jnp.log(scale) - gammaln(shape) - (shape + 1) * jnp.log(x) - scale / x


def _potential(u, x, y, mode):
    ell, sn = jnp.exp(u[0]), jnp.exp(u[1])
    if mode == "paper":
        lp = _log_gamma(ell, 10.0, 0.1) + _log_gamma(sn, 5.0, 5.0)
        ll = gp_log_marginal(x, y, ell, sn, logdet_factor=1.0)
    else:
        lp = _log_invgamma(ell, 10.0, 10.0) + _log_invgamma(sn, 5.0, 5.0) + u[0] + u[1]
        ll = gp_log_marginal(x, y, ell, sn)
    return -(lp + ll)


class GPPosterior(NamedTuple):
    """NUTS draws of the GP hyperparameters.

    Attributes:
        ell: (num_chains, num_samples) length-scale draws.
        sigma_n: (num_chains, num_samples) noise-sd draws.
        x: (n,) training inputs.
        y: (n,) training targets.
        diverging: (num_chains, num_samples) NUTS divergence flags.
        failed: () True when a draw is not finite.
    """

    ell: Array
    sigma_n: Array
    x: Array
    y: Array
    diverging: Array
    failed: Array

    def to_inference_data(self):
        """ArviZ InferenceData with variables ell, sigma_n in (chain, draw) layout."""
        import arviz as az

        return az.from_dict(
            posterior={"ell": np.asarray(self.ell), "sigma_n": np.asarray(self.sigma_n)},
            sample_stats={"diverging": np.asarray(self.diverging)},
        )

    def flat(self):
        """Flattened draws (ell (D,), sigma_n (D,))."""
        return self.ell.reshape(-1), self.sigma_n.reshape(-1)


def check_data(data, x_grid=None) -> Array:
    """Validate (n, 2) stock pairs: finite, non-negative, not all zero, inside `x_grid`."""
    arr = validate.finite("data", data)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 2:
        raise ValueError(f"data must have shape (n >= 2, 2) of (x_t, x_t+1) pairs, got {arr.shape}")
    host = np.asarray(arr)
    if (host < 0).any():
        raise ValueError("data must be non-negative stock sizes; got negative entries")
    if (host[:, 0] <= 0).sum() > 1 or (host[:, 1] <= 0).sum() > 1:
        raise ValueError(
            "data must have positive stock sizes (only one (0, 0) pseudo-datum is allowed)"
        )
    if x_grid is not None:
        g = np.asarray(x_grid)
        if host.min() < g.min() or host.max() > g.max():
            raise ValueError(
                f"x_grid [{g.min()}, {g.max()}] must cover the data range "
                f"[{host.min()}, {host.max()}]"
            )
    return arr


def _gp_model(x, y, paper):
    import numpyro
    import numpyro.distributions as dist

    u = numpyro.sample("u", dist.ImproperUniform(dist.constraints.real_vector, (), (2,)))
    numpyro.factor("lp", -_potential(u, x, y, "paper" if paper else "corrected"))


def _gp_model_paper(x, y):
    _gp_model(x, y, True)


def _gp_model_corrected(x, y):
    _gp_model(x, y, False)


@functools.lru_cache(maxsize=32)
def nuts_sampler(model, num_warmup: int, num_samples: int, num_chains: int):
    """A numpyro NUTS `MCMC` for a module-level model, cached so that repeated fits with data of
    the same shape reuse the compiled sampler (`jit_model_args=True`).

    Examples:
        >>> import numpyro
        >>> import numpyro.distributions as dist
        >>> def model(y):  # y (n,)
        ...     mu = numpyro.sample("mu", dist.Normal(0.0, 10.0))
        ...     numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)
        >>> mcmc = gpdp.nuts_sampler(model, 20, 10, 1)
        >>> mcmc is gpdp.nuts_sampler(model, 20, 10, 1)  # cached: compiled once per data shape
        True
    """
    from numpyro.infer import MCMC, NUTS

    return MCMC(
        NUTS(model),
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method="vectorized",
        progress_bar=False,
        jit_model_args=True,
    )


def fit_gp(
    key,
    data,
    *,
    mode: str = "corrected",
    num_warmup: int = 500,
    num_samples: int = 500,
    num_chains: int = 2,
) -> GPPosterior:
    """NUTS (numpyro) over log(l), log(sigma_n) of the GP fitted to (x_t, x_{t+1}) pairs.

    Args:
        key: JAX PRNG key.
        data: (n, 2) training pairs, e.g. `load_training_data()`.
        mode: "paper" (the published priors and likelihood quirks) or "corrected".
        num_warmup: NUTS warm-up iterations per chain.
        num_samples: NUTS draws kept per chain.
        num_chains: chains (run vectorised; the compiled sampler is cached per setting and
            data shape).

    Returns:
        `GPPosterior`.

    Examples:
        Not run by the doctest suite (compiling NUTS takes about 13 s of CPU). `ell` and
        `sigma_n` are `(num_chains, num_samples)`, `x` and `y` `(n,)`.

        >>> data = gpdp.load_training_data()  # (n, 2)
        >>> post = gpdp.fit_gp(
        ...     jax.random.key(0), data, num_warmup=20, num_samples=10
        ... )  # doctest: +SKIP
        >>> post.ell.shape, post.x.shape, bool(post.failed)  # doctest: +SKIP
        ((2, 10), (40,), False)
    """
    key = validate.key("key", key)
    validate.one_of("mode", mode, MODES)
    data = check_data(data)
    num_warmup = validate.positive_int("num_warmup", num_warmup)
    num_samples = validate.positive_int("num_samples", num_samples)
    num_chains = validate.positive_int("num_chains", num_chains)
    dtype = jnp.result_type(float)
    x, y = data[:, 0].astype(dtype), data[:, 1].astype(dtype)
    model = _gp_model_paper if mode == "paper" else _gp_model_corrected
    mcmc = nuts_sampler(model, num_warmup, num_samples, num_chains)
    k_init, k_run = jax.random.split(key)
    init = jnp.array([jnp.log(2.0), jnp.log(0.5)], dtype) + 0.1 * jax.random.normal(
        k_init, (num_chains, 2), dtype
    )
    if num_chains == 1:  # numpyro takes a single chain's initial values without a chain axis
        init = init[0]
    mcmc.run(k_run, x, y, init_params={"u": init}, extra_fields=("diverging",))
    u = mcmc.get_samples(group_by_chain=True)["u"]
    div = mcmc.get_extra_fields(group_by_chain=True)["diverging"]
    ell, sn = jnp.exp(u[..., 0]), jnp.exp(u[..., 1])
    failed = ~(jnp.all(jnp.isfinite(ell)) & jnp.all(jnp.isfinite(sn)))
    return GPPosterior(ell, sn, x, y, div, failed)


def _bin_normal(x_grid, mean, sd):
    """Mass of N(mean, sd) on each grid cell (midpoint edges, tails into the end cells)."""
    mid = 0.5 * (x_grid[1:] + x_grid[:-1])
    c = norm.cdf((mid - mean[..., None]) / sd[..., None])
    lo = jnp.concatenate([jnp.zeros_like(c[..., :1]), c], axis=-1)
    hi = jnp.concatenate([c, jnp.ones_like(c[..., :1])], axis=-1)
    return hi - lo


def normalize_rows(m):
    """Rows of m (..., S) scaled to sum to 1; an all-zero row becomes the point mass on state 0
    (the absorbing, collapsed stock)."""
    s = m.sum(-1, keepdims=True)
    first = jnp.zeros_like(m).at[..., 0].set(1.0)
    return jnp.where(s > 0, m / jnp.where(s > 0, s, 1.0), first)


def _paper_normal_rows(x_grid, mu, sd):
    """`dnorm(x_grid, mu, sd)` rows, normalised; absorbing where snap(mu) < x_grid[1]."""
    idx = jnp.argmin(jnp.abs(x_grid[None, :] - mu.reshape(-1)[:, None]), axis=1).reshape(mu.shape)
    absorbing = x_grid[idx] < x_grid[1]
    z = (x_grid - mu[..., None]) / sd[..., None]
    dens = jnp.exp(-0.5 * z * z)
    first = jnp.zeros_like(dens).at[..., 0].set(1.0)
    return normalize_rows(jnp.where(absorbing[..., None], first, dens))


def gp_transition_tensor(posterior: GPPosterior, x_grid, h_grid=None, *, mode="corrected"):
    """(H, S, S) transition tensor: the average over posterior draws of the per-draw kernels.

    Args:
        posterior: `GPPosterior` from `fit_gp`.
        x_grid: (S,) increasing state grid covering the data.
        h_grid: (H,) harvest grid (default `x_grid`); in paper mode it must equal `x_grid`.
        mode: "paper" or "corrected" (see the module docstring).

    Examples:
        >>> data = jnp.asarray(gpdp.load_training_data())  # (n, 2)
        >>> post = gpdp.GPPosterior(  # two hand-picked draws instead of `fit_gp`'s NUTS draws
        ...     ell=jnp.array([[1.5, 2.0]]), sigma_n=jnp.array([[0.1, 0.2]]), x=data[:, 0],
        ...     y=data[:, 1], diverging=jnp.zeros((1, 2), bool), failed=jnp.array(False),
        ... )
        >>> F = gpdp.gp_transition_tensor(post, jnp.linspace(0.0, 15.0, 16))
        >>> F.shape, bool(jnp.allclose(F.sum(-1), 1.0, atol=1e-4))  # (H, S, S), stochastic rows
        ((16, 16, 16), True)
    """
    validate.one_of("mode", mode, MODES)
    x_grid, h_grid = check_grids(x_grid, h_grid, mode)
    check_data(jnp.stack([posterior.x, posterior.y], 1), x_grid)
    ell, sn = posterior.flat()
    dtype = posterior.x.dtype
    return _gp_tensor(
        posterior.x, posterior.y, ell, sn, x_grid.astype(dtype), h_grid.astype(dtype), mode
    )


@functools.partial(jax.jit, static_argnames="mode")
def _gp_tensor(x, y, ell, sn, x_grid, h_grid, mode):
    S, H = x_grid.shape[0], h_grid.shape[0]
    if mode == "paper":

        def one(e, s):
            mean, var = gp_predict(x, y, x_grid, e, s)
            # R's `pmax(i - j, 1)` on 1-based indices: the mean is read one cell below the
            # escapement (0-based index i - j - 1) and set to 0 where that index reaches cell 0.
            i = jnp.arange(S)[None, :] - jnp.arange(H)[:, None] - 1
            mu = jnp.where(i <= 0, 0.0, mean[jnp.clip(i, 0, S - 1)])
            sd = jnp.broadcast_to(jnp.sqrt(var)[None, :], (H, S))
            return _paper_normal_rows(x_grid, mu, jnp.maximum(sd, 1e-12))
    else:
        esc = jnp.maximum(x_grid[None, :] - h_grid[:, None], 0.0)

        def one(e, s):
            mean, var = gp_predict(x, y, esc.reshape(-1), e, s)
            sd = jnp.sqrt(var + s * s)
            return _bin_normal(x_grid, mean.reshape(H, S), sd.reshape(H, S))

    return _mixture(one, ell, sn)


def _mixture(one, a, b):
    def body(acc, ab):
        return acc + one(*ab), None

    first = one(a[0], b[0])
    acc, _ = jax.lax.scan(body, first, (a[1:], b[1:]))
    return acc / a.shape[0]


def check_grids(x_grid, h_grid, mode):
    """Validate an increasing state grid and a harvest grid (equal to it in paper mode)."""
    x_grid = validate.finite("x_grid", x_grid)
    if x_grid.ndim != 1 or x_grid.shape[0] < 3:
        raise ValueError(f"x_grid must be 1-D with at least 3 points, got shape {x_grid.shape}")
    g = np.asarray(x_grid)
    if not (np.diff(g) > 0).all() or g[0] < 0:
        raise ValueError("x_grid must be strictly increasing and non-negative")
    if h_grid is None:
        h_grid = x_grid
    h_grid = validate.finite("h_grid", h_grid)
    if h_grid.ndim != 1 or (np.asarray(h_grid) < 0).any():
        raise ValueError("h_grid must be a 1-D array of non-negative harvests")
    if mode == "paper" and (h_grid.shape != x_grid.shape or not np.allclose(np.asarray(h_grid), g)):
        raise ValueError(
            "h_grid must equal x_grid in paper mode (the published kernel takes the escapement "
            "by shifting the state grid); use mode='corrected' for other harvest grids"
        )
    return x_grid, h_grid
