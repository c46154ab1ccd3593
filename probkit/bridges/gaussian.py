"""Closed forms: entropic OT between Gaussians and the Gaussian Schroedinger bridge.

Entropic OT (Janati et al. 2020; Mallasto et al. 2021) with the convention of
`probkit.bridges.sinkhorn` and sigma^2 = eps / 2:
    D = (4 A^1/2 B A^1/2 + sigma^4 I)^1/2,   Cov(X0, X1) = A^1/2 D A^-1/2 / 2 - sigma^2 I / 2,
    OT_eps = |a-b|^2 + tr A + tr B - tr D + d sigma^2 (1 - log 2 sigma^2)
             + sigma^2 log det(D + sigma^2 I).
Schroedinger bridge between N(mean0, cov0) and N(mean1, cov1) on [0, T] for the linear reference
dX = A (X - m) dt + sigma dW (A = 0: Brownian; Bunne et al. 2023, Zhang & Stumpf 2025): the static
coupling is the EOT above in the reference's whitened coordinates, the path given (X0, X_T) is the
reference's bridge, and the marginals, drift and samples follow (derivations in docs/bridges.md).
All functions are traceable; matrices are (d, d), means (d,).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.linalg import expm

from probkit.core import validate
from probkit.core.types import Array, ArrayLike, PRNGKey

__all__ = [
    "GaussianEOT",
    "GaussianSB",
    "gaussian_eot",
    "gaussian_w2",
    "gaussian_sb",
    "gaussian_sb_marginal",
    "gaussian_sb_drift",
    "gaussian_sb_sample",
    "ou_gramian",
    "linear_bridge_moments",
    "linear_bridge_path",
]


def _sym_fn(m, fn):
    w, v = jnp.linalg.eigh(0.5 * (m + m.T))
    return (v * fn(w)) @ v.T


def _sqrtm(m):
    return _sym_fn(m, lambda w: jnp.sqrt(jnp.maximum(w, 0.0)))


def _inv_sqrtm(m):
    return _sym_fn(m, lambda w: 1.0 / jnp.sqrt(w))


class GaussianEOT(NamedTuple):
    """Closed-form entropic optimal transport between two Gaussians (`gaussian_eot`).

    Attributes:
        cross_covariance: (d, d) Cov(X0, X1) of the optimal entropic plan.
        cost: () OT_eps.
        sigma2: () eps / 2.
    """

    cross_covariance: Array  # (d, d) Cov(X0, X1) of the optimal entropic plan
    cost: Array  # () OT_eps
    sigma2: Array  # () eps / 2


def _check_gaussian(mean0, cov0, mean1, cov1):
    mean0 = validate.finite("mean0", validate.array("mean0", mean0, ndim=1))
    d = mean0.shape[0]
    cov0 = validate.finite("cov0", validate.array("cov0", cov0, shape=(d, d)))
    mean1 = validate.finite("mean1", validate.array("mean1", mean1, shape=(d,)))
    cov1 = validate.finite("cov1", validate.array("cov1", cov1, shape=(d, d)))
    return mean0, cov0, mean1, cov1


def _cross_cov(cov0, cov1, sigma2):
    d = cov0.shape[0]
    r0 = _sqrtm(cov0)
    dmat = _sqrtm(4.0 * r0 @ cov1 @ r0 + sigma2**2 * jnp.eye(d))
    return 0.5 * r0 @ dmat @ _inv_sqrtm(cov0) - 0.5 * sigma2 * jnp.eye(d), dmat


def gaussian_eot(mean0, cov0, mean1, cov1, epsilon) -> GaussianEOT:
    """Entropic OT between N(mean0, cov0) and N(mean1, cov1), squared Euclidean cost.

    Examples:
        >>> eot = bridges.gaussian_eot(jnp.zeros(1), jnp.eye(1), jnp.zeros(1), jnp.eye(1), 1.0)
        >>> eot.cross_covariance.shape, round(float(eot.cross_covariance[0, 0]), 4)  # (√4.25-.5)/2
        ((1, 1), 0.7808)
    """
    mean0, cov0, mean1, cov1 = _check_gaussian(mean0, cov0, mean1, cov1)
    if validate.is_concrete(epsilon):
        validate.positive_float("epsilon", float(epsilon))
    d = mean0.shape[0]
    s2 = jnp.asarray(epsilon, cov0.dtype) / 2.0
    cross, dmat = _cross_cov(cov0, cov1, s2)
    _, logdet = jnp.linalg.slogdet(dmat + s2 * jnp.eye(d))
    cost = (
        jnp.sum((mean0 - mean1) ** 2)
        + jnp.trace(cov0)
        + jnp.trace(cov1)
        - jnp.trace(dmat)
        + d * s2 * (1.0 - jnp.log(2.0 * s2))
        + s2 * logdet
    )
    return GaussianEOT(cross, cost, s2)


def gaussian_w2(mean0, cov0, mean1, cov1) -> Array:
    """Squared W2 (Bures-Wasserstein) between N(mean0, cov0) and N(mean1, cov1).

    Examples:
        >>> w2 = bridges.gaussian_w2(jnp.zeros(2), jnp.eye(2), jnp.ones(2), jnp.eye(2))
        >>> round(float(w2), 4)  # |mean1 - mean0|², equal covariances
        2.0
    """
    mean0, cov0, mean1, cov1 = _check_gaussian(mean0, cov0, mean1, cov1)
    r0 = _sqrtm(cov0)
    return (
        jnp.sum((mean0 - mean1) ** 2)
        + jnp.trace(cov0)
        + jnp.trace(cov1)
        - 2.0 * jnp.trace(_sqrtm(r0 @ cov1 @ r0))
    )


def ou_gramian(A: ArrayLike, t) -> tuple[Array, Array]:
    """(e^{tA}, Phi_t = int_0^t e^{sA} e^{sA^T} ds) by Van Loan's block exponential.

    Examples:
        >>> e, phi = bridges.ou_gramian(jnp.zeros((2, 2)), 0.5)  # A = 0: (I, t I)
        >>> e.tolist(), phi.round(4).tolist()
        ([[1.0, 0.0], [0.0, 1.0]], [[0.5, 0.0], [0.0, 0.5]])
    """
    A = jnp.asarray(A)
    d = A.shape[0]
    blk = jnp.block([[-A, jnp.eye(d, dtype=A.dtype)], [jnp.zeros_like(A), A.T]]) * t
    e = expm(blk)
    e22 = e[d:, d:]  # e^{t A^T}
    return e22.T, e22.T @ e[:d, d:]


def linear_bridge_moments(A, sigma, t, horizon):
    """Coefficients of the reference bridge X_t | (X_0, X_T) for dX = A (X - m) dt + sigma dW.

    X_t - m = P (X_0 - m) + G (X_T - m) + N(0, V): returns (P, G, V), each (d, d).

    Examples:
        >>> P, G, V = bridges.linear_bridge_moments(jnp.zeros((1, 1)), 1.0, 0.5, 1.0)  # Brownian
        >>> [round(float(M[0, 0]), 4) for M in (P, G, V)]  # 1 - t/T, t/T, σ² t (T - t)/T
        [0.5, 0.5, 0.25]
    """
    A = jnp.asarray(A)
    et, phi_t = ou_gramian(A, t)
    er, _ = ou_gramian(A, horizon - t)
    eT, phi_T = ou_gramian(A, horizon)
    G = phi_t @ er.T @ jnp.linalg.inv(phi_T)
    P = et - G @ eT
    V = sigma**2 * (phi_t - G @ er @ phi_t)
    return P, G, 0.5 * (V + V.T)


class GaussianSB(NamedTuple):
    """Closed-form Schrödinger bridge between two Gaussians under a linear (OU or Brownian)
    reference.

    Attributes:
        mean0: (d,) mean of the initial Gaussian.
        cov0: (d, d) covariance of the initial Gaussian.
        mean1: (d,) mean of the final Gaussian.
        cov1: (d, d) covariance of the final Gaussian.
        cross_covariance: (d, d) Cov(X_0, X_T) of the bridge.
        A: (d, d) reference drift matrix (zeros: Brownian).
        m: (d,) reference mean.
        sigma: () reference diffusion.
        horizon: () T.
    """

    mean0: Array  # (d,)
    cov0: Array  # (d, d)
    mean1: Array  # (d,)
    cov1: Array  # (d, d)
    cross_covariance: Array  # (d, d) Cov(X_0, X_T) of the bridge
    A: Array  # (d, d) reference drift matrix (zeros: Brownian)
    m: Array  # (d,) reference mean
    sigma: Array  # () reference diffusion
    horizon: Array  # () T


def gaussian_sb(mean0, cov0, mean1, cov1, sigma, *, horizon=1.0, A=None, m=None) -> GaussianSB:
    """The Gaussian SB from N(mean0, cov0) at 0 to N(mean1, cov1) at `horizon`.

    Reference dX = A (X - m) dt + sigma dW; `A=None` is Brownian (A = 0), `m=None` is 0.

    Examples:
        >>> sb = bridges.gaussian_sb(jnp.zeros(1), jnp.eye(1), jnp.ones(1), jnp.eye(1), sigma=1.0)
        >>> sb.cross_covariance.shape, round(float(sb.cross_covariance[0, 0]), 4)  # (√5 - 1)/2
        ((1, 1), 0.618)
    """
    mean0, cov0, mean1, cov1 = _check_gaussian(mean0, cov0, mean1, cov1)
    d = mean0.shape[0]
    if validate.is_concrete(sigma):
        validate.positive_float("sigma", float(sigma))
        validate.positive_float("horizon", float(horizon))
    A = jnp.zeros((d, d), cov0.dtype) if A is None else validate.array("A", A, shape=(d, d))
    m = jnp.zeros(d, cov0.dtype) if m is None else validate.array("m", m, shape=(d,))
    eT, phi_T = ou_gramian(A, horizon)
    s_half = _inv_sqrtm(sigma**2 * phi_T)  # Sigma^{-1/2}
    a_bar = s_half @ eT @ cov0 @ eT.T @ s_half
    b_bar = s_half @ cov1 @ s_half
    c_bar, _ = _cross_cov(a_bar, b_bar, 1.0)
    s_inv = jnp.linalg.inv(s_half)
    cross = jnp.linalg.solve(eT, s_inv @ c_bar @ s_inv)
    return GaussianSB(
        mean0, cov0, mean1, cov1, cross, A, m, jnp.asarray(sigma, cov0.dtype),
        jnp.asarray(horizon, cov0.dtype),
    )  # fmt: skip


def gaussian_sb_marginal(sb: GaussianSB, t) -> tuple[Array, Array]:
    """(mean (d,), cov (d, d)) of the bridge at time 0 <= t <= T.

    Examples:
        >>> sb = bridges.gaussian_sb(jnp.zeros(1), jnp.eye(1), jnp.ones(1), jnp.eye(1), sigma=1.0)
        >>> mean, cov = bridges.gaussian_sb_marginal(sb, 0.5)  # (d,), (d, d)
        >>> round(float(mean[0]), 4), cov.shape
        (0.5, (1, 1))
    """
    P, G, V = linear_bridge_moments(sb.A, sb.sigma, t, sb.horizon)
    mean = P @ (sb.mean0 - sb.m) + G @ (sb.mean1 - sb.m) + sb.m
    C = sb.cross_covariance
    cov = P @ sb.cov0 @ P.T + G @ sb.cov1 @ G.T + P @ C @ G.T + G @ C.T @ P.T + V
    return mean, 0.5 * (cov + cov.T)


def gaussian_sb_drift(sb: GaussianSB, t, x: ArrayLike) -> Array:
    """Markovian drift of the bridge at time t < T, for x (..., d).

    Examples:
        >>> sb = bridges.gaussian_sb(jnp.zeros(2), jnp.eye(2), jnp.ones(2), jnp.eye(2), sigma=1.0)
        >>> bridges.gaussian_sb_drift(sb, 0.5, jnp.zeros((5, 2))).shape  # x (..., d)
        (5, 2)
    """
    x = jnp.asarray(x)
    P, G, _ = linear_bridge_moments(sb.A, sb.sigma, t, sb.horizon)
    mean_t, cov_t = gaussian_sb_marginal(sb, t)
    cov_t_T = P @ sb.cross_covariance + G @ sb.cov1  # Cov(X_t, X_T)
    er, phi_r = ou_gramian(sb.A, sb.horizon - t)
    gain = jnp.linalg.solve(cov_t, cov_t_T).T  # Cov(X_T, X_t) Cov(X_t)^-1
    xT = sb.mean1 + (x - mean_t) @ gain.T  # E[X_T | X_t = x]
    resid = xT - sb.m - (x - sb.m) @ er.T
    K = er.T @ jnp.linalg.inv(phi_r)
    return (x - sb.m) @ sb.A.T + resid @ K.T


def linear_bridge_path(key: PRNGKey, x0, x1, A, m, sigma, horizon, num_steps: int) -> Array:
    """Exact path (num_steps + 1, d) of the linear reference's bridge from x0 to x1 on [0, T].

    Sequential conditioning on a uniform grid: each step draws X_{s+dt} | X_s, X_T exactly.

    Examples:
        >>> x0, x1, A, m = jnp.zeros(2), jnp.ones(2), -jnp.eye(2), jnp.zeros(2)
        >>> path = bridges.linear_bridge_path(jax.random.key(0), x0, x1, A, m, 1.0, 1.0, 10)
        >>> path.shape, path[0].tolist(), path[-1].tolist()  # pinned at both ends
        ((11, 2), [0.0, 0.0], [1.0, 1.0])
    """
    x0, x1, A, m = map(jnp.asarray, (x0, x1, A, m))
    dt = horizon / num_steps

    def step(x, inp):
        k, j = inp
        rest = horizon - j * dt
        P, G, V = linear_bridge_moments(A, sigma, dt, rest)
        mean = P @ (x - m) + G @ (x1 - m) + m
        noise = _sqrtm(V) @ jax.random.normal(k, x.shape, x.dtype)
        x_new = jnp.where(j == num_steps - 1, x1, mean + noise)
        return x_new, x_new

    keys = jax.random.split(key, num_steps)
    _, xs = jax.lax.scan(step, x0, (keys, jnp.arange(num_steps)))
    return jnp.concatenate([x0[None], xs])


def gaussian_sb_sample(key: PRNGKey, sb: GaussianSB, num_samples: int, num_steps: int) -> Array:
    """Paths (num_samples, num_steps + 1, d): (X_0, X_T) from the coupling, then bridges.

    Examples:
        >>> sb = bridges.gaussian_sb(jnp.zeros(2), jnp.eye(2), jnp.ones(2), jnp.eye(2), sigma=1.0)
        >>> bridges.gaussian_sb_sample(jax.random.key(0), sb, 16, 10).shape
        (16, 11, 2)
    """
    d = sb.mean0.shape[0]
    k_end, k_path = jax.random.split(key)
    joint = jnp.block([[sb.cov0, sb.cross_covariance], [sb.cross_covariance.T, sb.cov1]])
    ends = jax.random.multivariate_normal(
        k_end, jnp.concatenate([sb.mean0, sb.mean1]), joint, (num_samples,), method="eigh"
    )
    keys = jax.random.split(k_path, num_samples)
    return jax.vmap(
        lambda k, e: linear_bridge_path(
            k, e[:d], e[d:], sb.A, sb.m, sb.sigma, sb.horizon, num_steps
        )
    )(keys, ends)
