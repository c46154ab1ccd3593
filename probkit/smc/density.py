"""Transition-density evaluators and row-wise categorical draws for the backward kernels.

`transition_density` prepares log m(x_prev[j], x[i]) for whole rows (the exact kernel) and for
index pairs (accept–reject and MH proposals); `draw_from_rows` draws from rows of logits by a
two-level inverse CDF. Re-exported by `probkit.smc.backward`.
"""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpyro.distributions as dist

from probkit.core.types import Array, PyTree
from probkit.ssm.model import StateSpaceModel

__all__ = [
    "TransitionDensity",
    "draw_from_rows",
    "pair_log_probs",
    "row_log_probs",
    "transition_density",
]


def _shared_scale(d) -> Array | None:
    """The `(dx, dx)` scale of a multivariate normal shared by its whole batch, else None."""
    if not isinstance(d, dist.MultivariateNormal):
        return None
    L = d.scale_tril
    if any(s != 1 for s in L.shape[:-2]):
        return None
    return L.reshape(L.shape[-2:])


def _whitener(L: Array) -> tuple[Array, Array]:
    """(L⁻ᵀ, log-normaliser): whitened rows are `v @ L⁻ᵀ` (a matmul, not a batched solve)."""
    dx = L.shape[-1]
    inv_t = jax.scipy.linalg.solve_triangular(L, jnp.eye(dx, dtype=L.dtype), lower=True).T
    log_norm = -jnp.sum(jnp.log(jnp.diagonal(L))) - 0.5 * dx * math.log(2 * math.pi)
    return inv_t, log_norm


class TransitionDensity(NamedTuple):
    """log m(x_prev[j], x[i]) evaluators for fixed `x_prev` `(N, ...)` and rows `x` `(M, ...)`.

    Built once per backward step by `transition_density`, so that work independent of the
    pairs (the batched distribution, a multivariate normal's whitening) stays out of loops.

    Attributes:
        rows: function of `i` (R,) int -> (R, N) log m(x_prev[j], x[i]) for every previous
            particle j.
        pairs: function of `(j (S,), i (S,))` int -> (S,) log m(x_prev[j], x[i]).
    """

    rows: object
    pairs: object


def transition_density(
    model: StateSpaceModel, params: PyTree, x_prev: Array, x: Array, t
) -> TransitionDensity:
    """Prepared evaluators of log m for `x_prev` and `x`.

    Vectorized models evaluate one batched distribution; a multivariate normal with a covariance
    shared by the batch is whitened once and compared by squared distances (about 100x faster
    than numpyro's per-pair triangular solves on CPU). Other models are vmapped per pair.
    """
    if model.vectorized:
        d = model.transition(params, x_prev, t)
        L = _shared_scale(d)
        if L is not None:
            inv_t, log_norm = _whitener(L)
            a = jnp.broadcast_to(d.loc, x_prev.shape) @ inv_t
            b = x @ inv_t

            def rows(i):
                return -0.5 * _squared_distances(b[i], a) + log_norm

            def pairs(j, i):
                diff = b[i] - a[j]
                return -0.5 * sum(diff[:, k] ** 2 for k in range(diff.shape[1])) + log_norm

            return TransitionDensity(rows, pairs)
        event = x_prev.shape[1:]

        def rows(i):
            return d.log_prob(x[i].reshape(i.shape[0], 1, *event))

        def pairs(j, i):
            return model.transition(params, x_prev[j], t).log_prob(x[i])

        return TransitionDensity(rows, pairs)

    def one(xp, xi):
        return model.transition(params, xp, t).log_prob(xi)

    def rows(i):
        return jax.vmap(lambda xi: jax.vmap(lambda xp: one(xp, xi))(x_prev))(x[i])

    def pairs(j, i):
        return jax.vmap(one)(x_prev[j], x[i])

    return TransitionDensity(rows, pairs)


def row_log_probs(model: StateSpaceModel, params: PyTree, x_prev: Array, x_rows: Array, t) -> Array:
    """log m(x_prev[j], x_rows[i]) for every pair: `(rows, N)` (see `transition_density`)."""
    rows = jnp.arange(x_rows.shape[0])
    return transition_density(model, params, x_prev, x_rows, t).rows(rows)


def pair_log_probs(model: StateSpaceModel, params: PyTree, x_prev: Array, x: Array, t) -> Array:
    """log m(x_prev[i], x[i]) for paired rows: `(S,)` (see `transition_density`)."""
    i = jnp.arange(x.shape[0])
    return transition_density(model, params, x_prev, x, t).pairs(i, i)


def draw_from_rows(key, logits: Array, num_draws: int) -> tuple[Array, Array]:
    """`num_draws` categorical draws per row of `logits` `(R, N)`: `(R, K)` and degenerate rows.

    Inverse CDF in two levels (blocks of about √N entries, then within the chosen block), which
    avoids a full cumulative sum along every row. A row with no finite entry is drawn uniformly.
    """
    r, n = logits.shape
    top = jnp.max(logits, axis=1)
    degenerate = ~jnp.isfinite(top)
    p = jnp.exp(logits - jnp.where(degenerate, 0.0, top)[:, None])
    p = jnp.where(degenerate[:, None] | jnp.isnan(p), jnp.where(degenerate[:, None], 1.0, 0.0), p)
    size = max(1, math.isqrt(n - 1) + 1)
    num_blocks = -(-n // size)
    if num_blocks * size > n:
        p = jnp.pad(p, ((0, 0), (0, num_blocks * size - n)))
    blocks = p.reshape(r, num_blocks, size)
    block_cum = jnp.cumsum(jnp.sum(blocks, axis=2), axis=1)
    u = jax.random.uniform(key, (r, num_draws), dtype=p.dtype) * block_cum[:, -1:]
    blk = jnp.sum(block_cum[:, None, :] <= u[:, :, None], axis=2)
    blk = jnp.clip(blk, 0, num_blocks - 1)
    before = jnp.take_along_axis(block_cum, jnp.maximum(blk - 1, 0), axis=1)
    u_in = u - jnp.where(blk > 0, before, 0.0)
    inner = jnp.cumsum(jnp.take_along_axis(blocks, blk[:, :, None], axis=1), axis=2)
    j = jnp.clip(jnp.sum(inner <= u_in[:, :, None], axis=2), 0, size - 1)
    idx = jnp.clip(blk * size + j, 0, n - 1)
    return idx.astype(jnp.int32), degenerate


def _squared_distances(b: Array, a: Array) -> Array:
    """‖b_i − a_j‖² for rows b `(R, dx)` and a `(N, dx)`: `(R, N)`, without cancellation."""
    dx = a.shape[-1]
    if dx <= 16:  # one fused elementwise pass per coordinate (a reduction over a tiny axis is slow)
        return sum((b[:, None, k] - a[None, :, k]) ** 2 for k in range(dx))
    return jnp.sum((b[:, None, :] - a[None, :, :]) ** 2, axis=-1)
