"""DAGMA's log-determinant acyclicity function and its M-matrix domain.

    h(W, s) = -log det(s I - W∘W) + d log s,        grad h = 2 W ∘ (s I - W∘W)^{-T}

(Bello, Aragam & Ravikumar, NeurIPS 2022). On the domain {W : rho(W∘W) < s}, where s I - W∘W
is a nonsingular M-matrix, h >= 0 with equality iff W is a DAG. The path-following solver must
stay in that domain; the reference code checks it by inverting s I - W∘W at every iteration
and testing the inverse for negative entries.

Here the inverse is *maintained* instead of recomputed: W moves by about the learning rate per
iteration, so one Newton–Schulz step from the previous inverse,
M <- M + M (I - B M) with B = s I - W∘W, is accurate to the square of the previous residual and
costs two matrix products (no LU, no triangular solves, which are slow for small matrices on
CPU). Domain membership is *certified* with the semipositivity criterion for M-matrices: B is
a nonsingular M-matrix iff some x > 0 has B x > 0; x = M 1 is such a vector whenever M is an
accurate inverse (B x = (I - R) 1 with R = I - B M, positive once ||R||_inf < 1). When the
certificate or the residual check fails, the inverse is rebuilt from scratch with the Neumann
series (I - P)^{-1} = prod_k (I + P^{2^k}), P = W∘W / s, which converges iff rho(P) < 1, i.e.
exactly on the domain; divergence means W left the domain.
Mathematically the test is the reference's "inverse has a negative entry" test.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from probkit.core.types import Array, ArrayLike

__all__ = [
    "DomainInverse",
    "in_domain",
    "log_det_acyclicity",
    "log_det_acyclicity_grad",
    "log_det_acyclicity_value",
    "neumann_inverse",
    "refresh_inverse",
    "refresh_inverse_fast",
]

# A warm-started Newton–Schulz update is accepted when the residual row-sum norm
# ||I - B M_prev|| is below this (the updated inverse then has residual <= NS_TOL^2 = 1e-2,
# typically far less); otherwise more passes run, at most MAX_PASSES.
NS_TOL = 0.1
MAX_PASSES = 8
# Neumann doubling stops when ||P^(2^k)||_inf <= NEUMANN_TOL (then polished by one NS step), or
# declares W outside the domain after MAX_DOUBLINGS doublings or when the powers blow up.
NEUMANN_TOL = 1e-4
MAX_DOUBLINGS = 48
_BLOWUP = 1e30


def log_det_acyclicity_value(W: Array, s: Array) -> Array:
    """h(W, s) computed as -log det(I - W∘W / s) (no cancellation against d log s).

    Assumes W is in the domain (as the solver guarantees); `+inf` if the determinant is <= 0.
    """
    d = W.shape[-1]
    sign, logdet = jnp.linalg.slogdet(jnp.eye(d, dtype=W.dtype) - W * W / s)
    return jnp.where(sign > 0, -logdet, jnp.inf)


@jax.jit
def log_det_acyclicity(W: ArrayLike, s: float = 1.0) -> Array:
    """h(W, s) = -log det(s I - W∘W) + d log s; `+inf` outside the M-matrix domain.

    `W` is `(d, d)`; the result is a scalar `()`.

    Examples:
        >>> float(dag.log_det_acyclicity(jnp.array([[0.0, 0.5], [0.0, 0.0]]))) == 0  # a DAG
        True
        >>> float(dag.log_det_acyclicity(jnp.array([[0.0, 0.5], [0.5, 0.0]]))) > 0  # a 2-cycle
        True
    """
    W = jnp.asarray(W)
    s = jnp.asarray(s, W.dtype)
    return jnp.where(in_domain(W, s), log_det_acyclicity_value(W, s), jnp.inf)


def log_det_acyclicity_grad(W: ArrayLike, s: float = 1.0) -> Array:
    """grad h(W, s) = 2 W ∘ (s I - W∘W)^{-T} (exact inverse; for checks and small problems)."""
    W = jnp.asarray(W)
    B = s * jnp.eye(W.shape[-1], dtype=W.dtype) - W * W
    return 2.0 * W * jnp.linalg.inv(B).T


@jax.jit
def in_domain(W: ArrayLike, s: float = 1.0) -> Array:
    """True iff s I - W∘W is a nonsingular M-matrix, i.e. rho(W∘W) < s."""
    W = jnp.asarray(W)
    return neumann_inverse(W * W, jnp.asarray(s, W.dtype)).ok


class DomainInverse(NamedTuple):
    """The maintained inverse (s I - A)^-1 of the log-det acyclicity function, with its certificate.

    Attributes:
        inverse: (d, d) (s I - A)^{-1} when ok.
        ok: () bool, certified inside the domain.
        rebuilt: () bool, the Neumann series was needed (warm start too far off).
    """

    inverse: Array  # (d, d) (s I - A)^{-1} when ok
    ok: Array  # () bool, certified inside the domain
    rebuilt: Array  # () bool, the Neumann series was needed (warm start too far off)


def _row_norm(R):
    return jnp.max(jnp.sum(jnp.abs(R), axis=-1), axis=-1)


def _newton_schulz(B, M):
    """One Newton–Schulz step and the certificate; returns (M_new, residual_norm, certified).

    With R = I - B M, the certificate vector x = M 1 satisfies B x = (I - R) 1 > 0 whenever
    ||R||_inf < 1, so "x > 0 and ||R||_inf < 1" proves that B is a nonsingular M-matrix
    without another product.
    """
    eye = jnp.eye(B.shape[-1], dtype=B.dtype)
    R = eye - B @ M
    res = _row_norm(R)
    certified = jnp.all(jnp.sum(M, axis=-1) > 0) & (res < 1)
    return M + M @ R, res, certified


def _neumann_series(P: Array, active: Array) -> tuple[Array, Array]:
    """(sum_k P^k, converged) by doubling: S <- S + Q S, Q <- Q Q from S = I, Q = P.

    Runs zero iterations when `active` is False. Converges iff rho(P) < 1.
    """
    eye = jnp.eye(P.shape[-1], dtype=P.dtype)

    def cond(c):
        _, _, k, q = c  # q = ||Q||, carried so that an inactive call computes nothing
        going = (k == 0) | ((q > NEUMANN_TOL) & (q < _BLOWUP))
        return active & (k < MAX_DOUBLINGS) & going

    def body(c):
        S, Q, k, _ = c
        S = S + Q @ S  # sum of P^j for j < 2^(k+1)
        Q = Q @ Q  # P^(2^(k+1))
        return S, Q, k + 1, _row_norm(Q)

    S, _, _, q = jax.lax.while_loop(
        cond, body, (eye, P, jnp.zeros((), jnp.int32), jnp.asarray(jnp.inf, P.dtype))
    )
    return S, q <= NEUMANN_TOL


def _one_step(A, s, previous, tol):
    """The common case, straight-line: one Newton–Schulz step from the previous inverse.

    M1 = M0 + M0 R0 has residual R0^2, and |R0^2| <= |R0|^2 entrywise, so two matrix-vector
    products bound its row-sum norm; near a DAG R0 is nilpotent-like and the bound is tiny even
    when ||R0|| >= 1. Returns (M1, fast, certified, ||R0||_inf); `fast`: certified and the
    bound <= tol^2 (M1 is then accepted as is).
    """
    eye = jnp.eye(A.shape[-1], dtype=A.dtype)
    B = s * eye - A
    R0 = eye - B @ previous
    abs_R0 = jnp.abs(R0)
    res = jnp.max(jnp.sum(abs_R0, axis=-1), axis=-1)
    M = previous + previous @ R0
    # Matrix-vector products as broadcast-and-sum: they fuse with their neighbours, which
    # on CPU is faster than a separate dot at these sizes.
    row_R0 = jnp.sum(abs_R0, axis=-1)
    bound = jnp.max(jnp.sum(abs_R0 * row_R0[..., None, :], axis=-1), axis=-1)  # >= ||R0^2||
    x0, x1 = jnp.sum(previous, axis=-1), jnp.sum(M, axis=-1)
    Bx1 = jnp.sum(B * x1[..., None, :], axis=-1)
    certified = (jnp.all(x0 > 0) & jnp.all(jnp.sum(R0, axis=-1) < 1)) | (  # B x0 = (I - R0) 1
        jnp.all(x1 > 0) & jnp.all(Bx1 > 0)
    )
    return M, certified & (bound <= tol * tol), certified, res


def refresh_inverse_fast(
    A: Array, s: Array, previous: Array, tol: float | Array = NS_TOL
) -> tuple[Array, Array]:
    """`refresh_inverse`'s common case without control flow: `(M, accepted)`.

    When `accepted`, M equals what `refresh_inverse` returns (same operations); otherwise call
    `refresh_inverse`. Lets a solver keep its per-iteration loop free of nested control flow,
    which on CPU costs more than the arithmetic at small d.
    """
    # A cruder acceptance than `refresh_inverse`'s, with few reductions (each is a separate
    # kernel on CPU): x0 = M_prev 1 > 0 and ||R0||_inf <= tol certify the domain
    # (B x0 = (I - R0) 1 > 0) and bound the new residual by ||R0^2|| <= tol^2. M1 is the same.
    d = A.shape[-1]
    eye = jnp.eye(d, dtype=A.dtype)
    R0 = eye - (s * eye - A) @ previous
    M = previous + previous @ R0
    rows = jnp.concatenate([jnp.abs(R0), previous], axis=-2) @ jnp.ones(d, A.dtype)
    checks = jnp.concatenate([rows[..., :d] <= tol, rows[..., d:] > 0], axis=-1)
    return M, jnp.all(checks, axis=-1)


def refresh_inverse(
    A: Array, s: Array, previous: Array, tol: float | Array = NS_TOL
) -> DomainInverse:
    """Inverse of s I - A from the inverse at a nearby point, with a domain certificate.

    Newton–Schulz steps from `previous`: one in the common case (accepted when the residual of
    the result is provably <= tol^2), more while the residual ||I - B M_guess|| is above `tol`
    and still shrinking (it squares at every step once its spectral radius is below 1). When a
    step does not shrink a residual >= 1/2, the guess is rebuilt once from the Neumann series.
    A residual that stops shrinking below 1/2 is the precision floor (ill-conditioned B in
    float32) and is accepted.
    Extra passes run inside a `while_loop` that makes zero trips in the common case, so they
    cost nothing under `vmap` unless some batch member needs them. `ok` is the certificate
    (exact in exact arithmetic): False means rho(W∘W / s) >= 1, i.e. W is outside the domain.
    """
    eye = jnp.eye(A.shape[-1], dtype=A.dtype)
    B = s * eye - A
    P = A / s
    M, fast, certified, res = _one_step(A, s, previous, tol)

    def done(res, certified, shrunk):
        return certified & ((res <= tol) | (~shrunk & (res < 0.5)))

    def again(c):
        _, res, certified, n, _, shrunk = c
        return ~done(res, certified, shrunk) & (n < MAX_PASSES)

    def attempt(c):
        M, res, _, n, series_used, shrunk = c
        need_series = ~shrunk & ~(res < 0.5) & ~series_used
        S, _ = _neumann_series(P, need_series)
        M_new, res_new, certified = _newton_schulz(B, jnp.where(need_series, S / s, M))
        shrunk = need_series | (res_new < 0.5 * res)
        return M_new, res_new, certified, n + 1, series_used | need_series, shrunk

    true, false = jnp.ones((), bool), jnp.zeros((), bool)
    # Fast acceptance enters the loop as "done" (residual 0): zero trips.
    res = jnp.where(fast, 0.0, res)
    M, _, ok, _, series_used, _ = jax.lax.while_loop(
        again, attempt, (M, res, certified, jnp.ones((), jnp.int32), false, true)
    )
    return DomainInverse(M, ok, series_used)


def neumann_inverse(A: Array, s: Array, tol: float | Array = NS_TOL) -> DomainInverse:
    """(s I - A)^{-1} for A >= 0 from scratch; `ok` is False outside the domain."""
    return refresh_inverse(A, s, jnp.zeros_like(A), tol)
