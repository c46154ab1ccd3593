"""Backward kernels: draw J ~ Λ_{t-1}(i, ·) ∝ ω_{t-1}^j m(ξ_{t-1}^j, ξ_t^i) for many rows i.

Every particle smoother in probkit (PaRIS, conditional SMC with backward sampling, PPG) draws
backward indices through `sample`. Three kernels, chosen by a hashable `BackwardKernel`:

* **exact** — computes Λ row by row in chunks of `chunk_size` rows, so memory is
  O(chunk_size · N) even when N² would not fit; cost O(M N) for M rows.
* **rejection** — accept–reject (Hürzeler & Künsch; Douc et al. 2011): propose j ~ Cat(ω) and
  accept with probability exp(log m(ξ^j, ξ^i) − ε̄), where ε̄ =
  `model.transition_log_bound(params)` ≥ sup log m. Cost O(M K / p) for acceptance rate p.
  Its run time has infinite expectation in some models (Dau & Chopin 2022), so it carries a
  large safety cap `max_trials`; draws still pending there fall back to the exact kernel.
* **hybrid** (default) — the same accept–reject with a small trial budget (`max_trials` rounds,
  default 32) and the exact kernel only for the draws that failed it (Dau & Chopin 2022). Each
  draw is exactly Λ-distributed whichever way it ends, so the mixture is exact.

Shapes are static throughout, so the kernels `jit`, `vmap` and shard. Accept–reject runs in
rounds: every pending draw gets one proposal per round; once at most a fraction of the draws is
pending they are compacted into a buffer half the size (down to 16), so the work per round
follows the number of pending draws instead of staying at M·K. The exact fallback takes the
failed draws `fallback_chunk` at a time in a `while_loop`.
"""

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpyro.distributions as dist

from probkit.core import resampling, weights
from probkit.core.types import Array, PRNGKey, PyTree
from probkit.ssm.model import StateSpaceModel

__all__ = [
    "BackwardKernel",
    "BackwardInfo",
    "exact",
    "rejection",
    "hybrid",
    "get",
    "check",
    "sample",
    "row_log_probs",
    "pair_log_probs",
    "draw_from_rows",
]

METHODS = ("exact", "rejection", "hybrid")
_MAX_CHUNK_ENTRIES = 1 << 22  # entries of one exact chunk (chunk_size * N): 16 MB in float32
_MIN_BUFFER = 16
_MIN_WORK = 256


@dataclasses.dataclass(frozen=True)
class BackwardKernel:
    """How backward indices are drawn (hashable: a static argument of `jit`).

    Attributes:
        method: "exact", "rejection" or "hybrid".
        max_trials: proposal rounds per draw before the exact fallback (accept–reject kinds).
        chunk_size: rows of Λ computed at once by the exact kernel; None picks the largest
            chunk with at most 2^22 entries.
        fallback_chunk: failed draws handled per pass of the exact fallback.
    """

    method: str = "hybrid"
    max_trials: int = 32
    chunk_size: int | None = None
    fallback_chunk: int = 64

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"backward must be one of {list(METHODS)}, got {self.method!r}")
        for name in ("max_trials", "fallback_chunk"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"BackwardKernel.{name} must be an integer >= 1, got {v!r}")
        c = self.chunk_size
        if c is not None and (isinstance(c, bool) or not isinstance(c, int) or c < 1):
            raise ValueError(f"BackwardKernel.chunk_size must be None or an integer >= 1, got {c!r}")

    @property
    def needs_bound(self) -> bool:
        return self.method != "exact"


class BackwardInfo(NamedTuple):
    trials: Array           # () mean proposals per draw (1 per draw for exact)
    fallbacks: Array        # () int32 draws that went to the exact kernel after the budget
    bound_violated: Array   # () bool, some log m exceeded transition_log_bound (biased draws)
    degenerate_rows: Array  # () int32 rows where every ω m was 0 (drawn uniformly instead)


def exact(chunk_size: int | None = None) -> BackwardKernel:
    """The exact O(N) per row kernel, in chunks of `chunk_size` rows."""
    return BackwardKernel("exact", chunk_size=chunk_size)


def rejection(max_trials: int = 100_000, chunk_size: int | None = None) -> BackwardKernel:
    """Accept–reject until every draw is accepted (safety cap `max_trials` rounds)."""
    return BackwardKernel("rejection", max_trials=max_trials, chunk_size=chunk_size)


def hybrid(max_trials: int = 32, chunk_size: int | None = None) -> BackwardKernel:
    """Accept–reject with `max_trials` rounds, then exact for the draws that failed."""
    return BackwardKernel("hybrid", max_trials=max_trials, chunk_size=chunk_size)


def get(spec: "str | BackwardKernel", *, argname: str = "backward") -> BackwardKernel:
    """A `BackwardKernel` from a name ("exact", "rejection", "hybrid") or passed through."""
    if isinstance(spec, BackwardKernel):
        return spec
    if isinstance(spec, str) and spec in METHODS:
        return {"exact": exact, "rejection": rejection, "hybrid": hybrid}[spec]()
    raise ValueError(
        f"{argname} must be one of {list(METHODS)} or a probkit.smc.backward.BackwardKernel, "
        f"got {spec!r}"
    )


def check(spec, model: StateSpaceModel, *, argname: str = "backward") -> BackwardKernel:
    """`get` plus the model requirement: accept–reject needs `transition_log_bound`."""
    kernel = get(spec, argname=argname)
    if kernel.needs_bound and model.transition_log_bound is None:
        raise ValueError(
            f"{argname}={kernel.method!r} needs an upper bound of the transition log-density, "
            f"but model {model!r} has no transition_log_bound; pass backward='exact' (O(N^2)) "
            "or give the StateSpaceModel a transition_log_bound(params)"
        )
    return kernel


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


def row_log_probs(model: StateSpaceModel, params: PyTree, x_prev: Array, x_rows: Array, t) -> Array:
    """log m(x_prev[j], x_rows[i]) for every pair: `(rows, N)`.

    Vectorized models are evaluated by broadcasting one batched distribution against the rows;
    a multivariate normal with a shared covariance is whitened once and compared by squared
    distances (about 100x faster than numpyro's per-pair triangular solves).
    """
    if model.vectorized:
        d = model.transition(params, x_prev, t)
        L = _shared_scale(d)
        if L is not None:
            inv_t, log_norm = _whitener(L)
            a = jnp.broadcast_to(d.loc, x_prev.shape) @ inv_t
            b = x_rows @ inv_t
            return -0.5 * _squared_distances(b, a) + log_norm
        event = x_prev.shape[1:]
        return d.log_prob(x_rows.reshape(x_rows.shape[0], 1, *event))

    def one_row(xi):
        return jax.vmap(lambda xp: model.transition(params, xp, t).log_prob(xi))(x_prev)

    return jax.vmap(one_row)(x_rows)


def pair_log_probs(model: StateSpaceModel, params: PyTree, x_prev: Array, x: Array, t) -> Array:
    """log m(x_prev[i], x[i]) for paired rows: `(S,)` (same fast paths as `row_log_probs`)."""
    if model.vectorized:
        d = model.transition(params, x_prev, t)
        L = _shared_scale(d)
        if L is not None:
            inv_t, log_norm = _whitener(L)
            diff = (x - jnp.broadcast_to(d.loc, x.shape)) @ inv_t
            return -0.5 * jnp.sum(diff**2, axis=-1) + log_norm
        return d.log_prob(x)
    return jax.vmap(lambda xp, xi: model.transition(params, xp, t).log_prob(xi))(x_prev, x)


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


def _chunk_size(kernel: BackwardKernel, num_rows: int, n: int) -> int:
    if kernel.chunk_size is not None:
        return min(kernel.chunk_size, num_rows)
    return max(1, min(num_rows, _MAX_CHUNK_ENTRIES // max(n, 1)))


def _exact(key, kernel, model, params, log_weights, x_prev, x, t, num_draws):
    m = x.shape[0]
    n = x_prev.shape[0]
    c = _chunk_size(kernel, m, n)
    num_chunks = -(-m // c)
    pad = num_chunks * c - m
    x_pad = jnp.concatenate([x, jnp.repeat(x[:1], pad, axis=0)]) if pad else x
    x_chunks = x_pad.reshape(num_chunks, c, *x.shape[1:])
    keys = jax.random.split(key, num_chunks)

    def chunk(args):
        k, rows = args
        lm = row_log_probs(model, params, x_prev, rows, t)
        idx, degenerate = draw_from_rows(k, log_weights[None, :] + lm, num_draws)
        return idx, degenerate

    if num_chunks == 1:
        idx, degenerate = chunk((keys[0], x_chunks[0]))
    else:
        idx, degenerate = jax.lax.map(chunk, (keys, x_chunks))
        idx = idx.reshape(num_chunks * c, num_draws)
        degenerate = degenerate.reshape(-1)
    return idx[:m], jnp.sum(degenerate[:m]).astype(jnp.int32)


def _levels(total: int) -> list[tuple[int, int]]:
    """(buffer size, proposals per pending draw and round) for each compaction level.

    Buffers halve down to 16 draws; once a buffer is small each draw gets several proposals per
    round, so a round always does at least `min(total, 256)` proposals of work.
    """
    sizes = [total]
    while sizes[-1] > _MIN_BUFFER:
        sizes.append(max(_MIN_BUFFER, -(-sizes[-1] // 2)))
    work = min(total, _MIN_WORK)
    return [(s, max(1, work // s)) for s in sizes]


class _ARState(NamedTuple):
    key: Array
    idx: Array        # (M*K,) int32 accepted index (garbage while pending)
    pending: Array    # (M*K,) bool
    trials: Array     # () int32 proposals given to each still-pending draw so far
    proposals: Array  # () int32 proposals used (sequential count: up to the first acceptance)
    excess: Array     # () max over proposals of log m - bound


def _accept_reject(key, kernel, model, params, log_weights, x_prev, x, t, num_draws, bound):
    m = x.shape[0]
    total = m * num_draws
    n = x_prev.shape[0]
    cum = resampling.cumulative_weights(weights.normalize(log_weights))
    dtype = cum.dtype
    row_of_slot = jnp.arange(total, dtype=jnp.int32) // num_draws

    def round_at(size, per_slot):
        def body(s: _ARState) -> _ARState:
            k, k_j, k_u = jax.random.split(s.key, 3)
            if size == total:
                slots = jnp.arange(total, dtype=jnp.int32)
                active = s.pending
            else:
                slots = jnp.nonzero(s.pending, size=size, fill_value=total)[0].astype(jnp.int32)
                active = slots < total
            rows = row_of_slot[jnp.minimum(slots, total - 1)]
            u_j = jax.random.uniform(k_j, (size, per_slot), dtype=dtype)
            j = jnp.clip(jnp.searchsorted(cum, u_j, side="right"), 0, n - 1).astype(jnp.int32)
            lm = pair_log_probs(
                model, params, jnp.take(x_prev, j.reshape(-1), axis=0),
                jnp.take(x, jnp.repeat(rows, per_slot), axis=0), t,
            ).reshape(size, per_slot)
            log_u = jnp.log(jax.random.uniform(k_u, (size, per_slot), dtype=dtype))
            accept = log_u < lm - bound
            got = jnp.any(accept, axis=1)
            first = jnp.argmax(accept, axis=1)
            chosen = jnp.take_along_axis(j, first[:, None], axis=1)[:, 0]
            take = active & got
            target = jnp.where(take, slots, total)  # out-of-range writes are dropped
            used = jnp.where(got, first + 1, per_slot)
            return _ARState(
                k,
                s.idx.at[target].set(chosen, mode="drop"),
                s.pending.at[target].set(False, mode="drop"),
                s.trials + per_slot,
                s.proposals + jnp.sum(jnp.where(active, used, 0), dtype=jnp.int32),
                jnp.maximum(s.excess, jnp.max(jnp.where(active[:, None], lm - bound, -jnp.inf))),
            )

        return body

    levels = _levels(total)
    state = _ARState(
        key,
        jnp.zeros(total, jnp.int32),
        jnp.ones(total, bool),
        jnp.zeros((), jnp.int32),
        jnp.zeros((), jnp.int32),
        jnp.full((), -jnp.inf, dtype),
    )
    for level, (size, per_slot) in enumerate(levels):
        nxt = levels[level + 1][0] if level + 1 < len(levels) else 0

        def cond(s, nxt=nxt):
            return (jnp.sum(s.pending) > nxt) & (s.trials < kernel.max_trials)

        state = jax.lax.while_loop(cond, round_at(size, per_slot), state)
    return state


def _fallback(key, kernel, model, params, log_weights, x_prev, x, t, num_draws, state):
    """Exact draws for the slots still pending, `fallback_chunk` at a time."""
    total = state.idx.shape[0]
    size = min(kernel.fallback_chunk, total)
    row_of_slot = jnp.arange(total, dtype=jnp.int32) // num_draws

    def cond(carry):
        return jnp.any(carry[1])

    def body(carry):
        idx, pending, k, degenerate = carry
        k, k_draw = jax.random.split(k)
        slots = jnp.nonzero(pending, size=size, fill_value=total)[0].astype(jnp.int32)
        rows = row_of_slot[jnp.minimum(slots, total - 1)]
        lm = row_log_probs(model, params, x_prev, x[rows], t)
        j, deg = draw_from_rows(k_draw, log_weights[None, :] + lm, 1)
        valid = slots < total
        idx = idx.at[slots].set(j[:, 0], mode="drop")
        pending = pending.at[slots].set(False, mode="drop")
        return idx, pending, k, degenerate + jnp.sum(deg & valid).astype(jnp.int32)

    fallbacks = jnp.sum(state.pending).astype(jnp.int32)
    idx, _, _, degenerate = jax.lax.while_loop(
        cond, body, (state.idx, state.pending, key, jnp.zeros((), jnp.int32))
    )
    return idx, fallbacks, degenerate


def sample(
    key: PRNGKey,
    kernel: BackwardKernel,
    model: StateSpaceModel,
    params: PyTree,
    log_weights: Array,
    x_prev: Array,
    x: Array,
    t,
    num_draws: int,
) -> tuple[Array, BackwardInfo]:
    """Draw `num_draws` indices per row: `J[i, k] ~ Λ(i, ·) ∝ ω^j m(x_prev[j], x[i])`.

    Args:
        key: PRNG key.
        kernel: a `BackwardKernel` (see `get`).
        model, params: the model; `m` is `model.transition(params, ·, t)`.
        log_weights: `(N,)` log-weights ω of `x_prev` (normalised or not).
        x_prev: `(N, *state_shape)` particles at time t-1.
        x: `(M, *state_shape)` the rows: particles at time t.
        t: time index of `x`.
        num_draws: K >= 1 draws per row.

    Returns:
        `(J, info)`: `J` of shape `(M, K)` int32 indexing `x_prev`, and a `BackwardInfo`.
    """
    m = x.shape[0]
    if kernel.method == "exact":
        idx, degenerate = _exact(key, kernel, model, params, log_weights, x_prev, x, t, num_draws)
        info = BackwardInfo(
            jnp.ones((), log_weights.dtype),
            jnp.zeros((), jnp.int32),
            jnp.zeros((), bool),
            degenerate,
        )
        return idx, info
    bound = jnp.asarray(model.transition_log_bound(params))
    k_ar, k_fb = jax.random.split(key)
    state = _accept_reject(k_ar, kernel, model, params, log_weights, x_prev, x, t, num_draws,
                           bound)
    idx, fallbacks, degenerate = _fallback(k_fb, kernel, model, params, log_weights, x_prev, x,
                                           t, num_draws, state)
    total = m * num_draws
    tol = 1e-6 * jnp.maximum(1.0, jnp.abs(bound))
    info = BackwardInfo(
        (state.proposals + fallbacks).astype(log_weights.dtype) / total,
        fallbacks,
        state.excess > tol,
        degenerate,
    )
    return idx.reshape(m, num_draws), info

