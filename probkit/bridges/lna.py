"""Piecewise bridges between two snapshots under a reference SDE (linear-noise approximation).

Around the reference's mean path xbar from a source particle x0, the residual R = X - xbar follows
the linearised SDE dR = J(t) R dt + sigma dW (J the drift's Jacobian on the path). Discretised on
N steps, R_{j+1} = F_j R_j + L_j z_j, so p(X_T | x0) ~ N(xbar_N, P_N) and the bridge to x1 is
sampled by pathwise conditioning (Matheron's rule): R = Rtilde + Cov(R, R_N) P_N^-1 (x1 - xbar_N
- Rtilde_N) with Rtilde an unconditioned draw. For linear references (Brownian, OU) every step is
exact, so the coupling and the bridges are the exact Schroedinger bridge. Cost O(n N d^3) for
the paths plus O(n m) per Sinkhorn sweep. All functions are traceable.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from probkit.bridges.gaussian import ou_gramian
from probkit.bridges.references import Reference
from probkit.bridges.sinkhorn import SinkhornResult, sinkhorn_unchecked
from probkit.core.types import Array, PRNGKey

__all__ = ["LinearisedPaths", "linearise", "bridge_cost", "sample_bridges", "bridge_interval"]


class LinearisedPaths(NamedTuple):
    """Linear-noise approximation of a reference SDE around mean paths, one per starting point.

    Attributes:
        mean: (n, N + 1, d) reference mean paths xbar.
        noise_root: (n, N, d, d) L_j (F_j given below).
        gain: (n, N + 1, d, d) Cov(R_j, R_N) P_N^-1.
        end_cov: (n, d, d) P_N.
    """

    mean: Array  # (n, N + 1, d) reference mean paths xbar
    noise_root: Array  # (n, N, d, d) L_j (F_j given below)
    gain: Array  # (n, N + 1, d, d) Cov(R_j, R_N) P_N^-1
    end_cov: Array  # (n, d, d) P_N


def _rk4(reference, theta, x, t, dt, scale):
    b = lambda y, s: scale * reference.drift(theta, y, s)  # noqa: E731
    k1 = b(x, t)
    k2 = b(x + 0.5 * dt * k1, t + 0.5 * dt)
    k3 = b(x + 0.5 * dt * k2, t + 0.5 * dt)
    k4 = b(x + dt * k3, t + dt)
    return x + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


def linearise(reference: Reference, theta, x0: Array, t0, horizon, num_steps: int, scale=1.0):
    """Linear-noise approximation from sources x0 (n, d) over [t0, t0 + horizon].

    `scale` multiplies the drift (0: the Brownian reference with the same sigma).
    Returns (LinearisedPaths, F (n, N, d, d)).
    """
    _n, d = x0.shape
    dt = horizon / num_steps
    eye = jnp.eye(d, dtype=x0.dtype)
    sigma = reference.sigma
    if reference.linear:
        A, m = reference.linear_coefficients(theta, d)
        A = scale * A
        e, phi = ou_gramian(A, dt)
        root = jnp.linalg.cholesky(sigma**2 * phi + 1e-30 * eye)

        def one(x):
            def step(x, _):
                x = m + e @ (x - m)
                return x, x

            xs = jax.lax.scan(step, x, None, length=num_steps)[1]
            F = jnp.broadcast_to(e, (num_steps, d, d))
            L = jnp.broadcast_to(root, (num_steps, d, d))
            return jnp.concatenate([x[None], xs]), F, L
    else:
        jac = jax.jacfwd(lambda th, y, s: scale * reference.drift(th, y, s), argnums=1)

        def one(x):
            def step(x, j):
                t = t0 + j * dt
                Jdt = jac(theta, x, t) * dt
                F = eye + Jdt + 0.5 * Jdt @ Jdt
                L = sigma * jnp.sqrt(dt) * (eye + 0.5 * Jdt)
                return _rk4(reference, theta, x, t, dt, scale), (x, F, L)

            x_end, (xs, F, L) = jax.lax.scan(step, x, jnp.arange(num_steps))
            return jnp.concatenate([xs, x_end[None]]), F, L

    mean, F, L = jax.vmap(one)(x0)

    def gains(F, L):
        def fwd(P, FL):
            F_, L_ = FL
            P = F_ @ P @ F_.T + L_ @ L_.T
            return P, P

        P_end, Ps = jax.lax.scan(fwd, jnp.zeros((d, d), x0.dtype), (F, L))
        Ps = jnp.concatenate([jnp.zeros((1, d, d), x0.dtype), Ps])

        def bwd(Psi, F_):
            Psi = Psi @ F_
            return Psi, Psi

        _, Psis = jax.lax.scan(bwd, eye, F, reverse=True)
        Psis = jnp.concatenate([Psis, eye[None]])  # Psi_j = F_{N-1} ... F_j
        P_end = 0.5 * (P_end + P_end.T)
        cov_jN = Ps @ jnp.swapaxes(Psis, -1, -2)
        gain = jnp.swapaxes(jnp.linalg.solve(P_end, jnp.swapaxes(cov_jN, -1, -2)), -1, -2)
        return gain, P_end, F

    gain, P_end, F = jax.vmap(gains)(F, L)
    return LinearisedPaths(mean, L, gain, P_end), F


def bridge_cost(lin: LinearisedPaths, x1: Array) -> Array:
    """(n, m) cost -log N(x1_j; xbar_N,i, P_N,i) up to a constant; use with epsilon = 1."""
    chol = jnp.linalg.cholesky(lin.end_cov)  # (n, d, d)
    r = x1[None, :, :] - lin.mean[:, -1][:, None, :]  # (n, m, d)
    z = jax.vmap(lambda c, ri: jax.scipy.linalg.solve_triangular(c, ri.T, lower=True).T)(chol, r)
    logdet = jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), -1)
    return 0.5 * jnp.sum(z**2, -1) + logdet[:, None]


def sample_bridges(key: PRNGKey, lin: LinearisedPaths, F: Array, x1: Array, targets: Array):
    """Paths (n, M, N + 1, d) from each source i to x1[targets[i, m]] for targets (n, M)."""
    n, M = targets.shape
    N, d = F.shape[1], x1.shape[-1]
    z = jax.random.normal(key, (n, M, N, d), x1.dtype)

    def free(F_i, L_i, z_i):  # unconditioned residual path (N + 1, d)
        def step(r, FLz):
            F_, L_, zz = FLz
            r = F_ @ r + L_ @ zz
            return r, r

        _, rs = jax.lax.scan(step, jnp.zeros(d, x1.dtype), (F_i, L_i, z_i))
        return jnp.concatenate([jnp.zeros((1, d), x1.dtype), rs])

    res = jax.vmap(lambda F_i, L_i, z_i: jax.vmap(lambda zz: free(F_i, L_i, zz))(z_i))(
        F, lin.noise_root, z
    )  # (n, M, N + 1, d)
    miss = x1[targets] - lin.mean[:, None, -1] - res[:, :, -1]  # (n, M, d)
    corr = jnp.einsum("njab,nmb->nmja", lin.gain, miss)
    return lin.mean[:, None] + res + corr


def _pick(plan_row_cdf, u):
    return jnp.clip(jnp.sum(plan_row_cdf[None, :] < u[:, None], -1), 0, plan_row_cdf.shape[0] - 1)


def bridge_interval(
    key: PRNGKey,
    reference: Reference,
    theta,
    x0: Array,
    x1: Array,
    w0: Array,
    w1: Array,
    t0,
    horizon,
    init: tuple[Array, Array],
    epsilon_start=None,
    drift_scale=1.0,
    *,
    num_steps: int,
    bridges_per_particle: int,
    threshold: float,
    max_iterations: int,
) -> tuple[Array, Array, SinkhornResult]:
    """Static SB coupling of (x0, w0) -> (x1, w1) over `horizon`, then bridges.

    `drift_scale` multiplies the reference drift (0: Brownian bridges with the same sigma).
    Returns (paths (n, M, N + 1, d), targets (n, M) indices into x1, Sinkhorn result). Each
    source draws its M targets from its row of the plan with fixed uniforms (so the same key
    gives the same draws when the plan barely moves: common random numbers across iterations).
    """
    k_pick, k_path = jax.random.split(key)
    lin, F = linearise(reference, theta, x0, t0, horizon, num_steps, drift_scale)
    cost = bridge_cost(lin, x1)
    ot = sinkhorn_unchecked(w0, w1, cost, jnp.asarray(1.0, cost.dtype), init[0], init[1], threshold,
              max_iterations, epsilon_start)  # fmt: skip
    row = ot.plan / jnp.maximum(jnp.sum(ot.plan, 1, keepdims=True), 1e-300)
    cdf = jnp.cumsum(row, 1)
    n = x0.shape[0]
    u = jnp.arange(bridges_per_particle) + jax.random.uniform(k_pick, (n, 1), x0.dtype)
    u = u / bridges_per_particle * cdf[:, -1:]  # stratified draws per row
    targets = jax.vmap(_pick)(cdf, u)
    paths = sample_bridges(k_path, lin, F, x1, targets)
    return paths, targets, ot
