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
* **mcmc** (PaRIS only; Dau & Chopin 2022) — each draw starts at the particle's own forward
  ancestor and takes `mcmc_steps` independent Metropolis–Hastings moves with proposal
  j' ~ Cat(ω) and acceptance min(1, m(ξ^{j'}, ξ^i) / m(ξ^j, ξ^i)), which leave Λ(i, ·)
  invariant. With bootstrap proposals and resampling at every step by an unbiased scheme, a
  particle's ancestor is itself a Λ(i, ·) draw (after a uniformly random relabelling of the
  particles, to which the PaRIS estimate is invariant), so each draw is exactly Λ-distributed;
  the K draws of one particle are dependent (they share the start). Cost O(M K · mcmc_steps),
  no bound needed, static shapes. Needs the ancestors, hence `smc.paris` with
  `ess_threshold=1.0` and no guided proposal.
* **hybrid** (default) — the same accept–reject with a small trial budget (`max_trials`
  proposals per draw, default 32) and the exact kernel only for the draws that failed it (Dau &
  Chopin 2022). Each draw is exactly Λ-distributed whichever way it ends, so the mixture is
  exact. For N <= `exact_below` (default 128) it is the exact kernel, which is cheaper there.
* **bounded** (PaRIS only) — the hybrid with a bounded-cost fallback: `max_trials` rounds
  (default 2) of accept–reject in which every pending draw gets one proposal, then, for the
  draws still pending, `mcmc_steps` (default 1) independent Metropolis–Hastings moves of the
  "mcmc" kernel started at the particle's forward ancestor. Every draw costs at most
  `max_trials + mcmc_steps` proposals: fixed shapes, no `while_loop`, no O(N) row. What holds:
  with the bootstrap filter and resampling at every step each draw is exactly Λ-distributed
  (the ancestor is a Λ draw, accept–reject and the Λ-invariant moves keep it so). Otherwise
  (ESS-triggered resampling, guided proposals) the weighted pairs (ancestor, particle) are
  properly weighted for ω^j m(ξ^j, x) dx, which the moves leave invariant, so each PaRIS update
  has the same conditional expectation given the past as with the exact kernel. Either way
  PaRIS stays consistent as N → ∞ (Dau & Chopin 2023) and, like exact PaRIS, carries the
  O(1/N) bias of self-normalisation: it is not unbiased. The K draws of a particle that reach
  the moves share their start, so they are dependent (a little more variance than exact).

Shapes are static throughout, so the kernels `jit`, `vmap` and shard. Accept–reject runs in
rounds of B = max(256, 2·M·K) proposals shared round-robin by the pending draws, so no work
goes to draws already accepted, a few stragglers get many proposals per round, and a typical
step needs only a handful of rounds. The exact fallback takes the failed draws
`fallback_chunk` at a time in a `while_loop`.
"""

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from probkit.core import resampling, weights
from probkit.core.types import Array, PRNGKey, PyTree
from probkit.smc.density import (
    draw_from_rows,
    pair_log_probs,
    row_log_probs,
    transition_density,
)
from probkit.ssm.model import StateSpaceModel

__all__ = [
    "BackwardInfo",
    "BackwardKernel",
    "bounded",
    "check",
    "draw_from_rows",
    "exact",
    "get",
    "hybrid",
    "mcmc",
    "pair_log_probs",
    "rejection",
    "row_log_probs",
    "sample",
]

METHODS = ("exact", "rejection", "hybrid", "mcmc", "bounded")
_MAX_CHUNK_ENTRIES = 1 << 22  # entries of one exact chunk (chunk_size * N): 16 MB in float32
_MIN_WORK = 256


@dataclasses.dataclass(frozen=True)
class BackwardKernel:
    """How backward indices are drawn (hashable: a static argument of `jit`).

    Attributes:
        method: "exact", "rejection", "hybrid", "mcmc" or "bounded".
        max_trials: proposals per draw before the fallback (exact for "rejection"/"hybrid",
            Metropolis–Hastings moves from the ancestor for "bounded").
        chunk_size: rows of Λ computed at once by the exact kernel; None picks the largest
            chunk with at most 2^22 entries.
        fallback_chunk: failed draws handled per pass of the exact fallback.
        exact_below: the hybrid kernel uses the exact one when N <= exact_below (for small N,
            O(N) per row costs less than the accept–reject loop's overhead).
        mcmc_steps: Metropolis–Hastings moves per draw of the "mcmc" kernel, and per pending
            draw of the "bounded" kernel.
    """

    method: str = "hybrid"
    max_trials: int = 32
    chunk_size: int | None = None
    fallback_chunk: int = 64
    exact_below: int = 128
    mcmc_steps: int = 1

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"backward must be one of {list(METHODS)}, got {self.method!r}")
        for name, low in (
            ("max_trials", 1),
            ("fallback_chunk", 1),
            ("exact_below", 0),
            ("mcmc_steps", 1),
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"BackwardKernel.{name} must be an integer >= {low}, got {v!r}")
        c = self.chunk_size
        if c is not None and (isinstance(c, bool) or not isinstance(c, int) or c < 1):
            raise ValueError(
                f"BackwardKernel.chunk_size must be None or an integer >= 1, got {c!r}"
            )

    @property
    def needs_bound(self) -> bool:
        return self.method in ("rejection", "hybrid", "bounded")

    @property
    def needs_ancestors(self) -> bool:
        return self.method in ("mcmc", "bounded")


class BackwardInfo(NamedTuple):
    """Diagnostics of one backward-sampling pass.

    Attributes:
        trials: () mean proposals per draw (1 per draw for exact).
        fallbacks: () int32 draws that went to the exact kernel after the budget.
        bound_violated: () bool, some log m exceeded transition_log_bound (biased draws).
        degenerate_rows: () int32 rows where every ω m was 0 (drawn uniformly instead).
    """

    trials: Array  # () mean proposals per draw (1 per draw for exact)
    fallbacks: Array  # () int32 draws that went to the fallback (exact, or MH for "bounded")
    bound_violated: Array  # () bool, some log m exceeded transition_log_bound (biased draws)
    degenerate_rows: Array  # () int32 rows where every ω m was 0 (drawn uniformly instead)


def exact(chunk_size: int | None = None) -> BackwardKernel:
    """The exact O(N) per row kernel, in chunks of `chunk_size` rows."""
    return BackwardKernel("exact", chunk_size=chunk_size)


def rejection(max_trials: int = 100_000, chunk_size: int | None = None) -> BackwardKernel:
    """Accept–reject until every draw is accepted (safety cap `max_trials` rounds)."""
    return BackwardKernel("rejection", max_trials=max_trials, chunk_size=chunk_size)


def hybrid(
    max_trials: int = 32, chunk_size: int | None = None, exact_below: int = 128
) -> BackwardKernel:
    """Accept–reject with `max_trials` proposals per draw, then exact for the draws that failed;
    plain exact when N <= `exact_below`."""
    return BackwardKernel(
        "hybrid", max_trials=max_trials, chunk_size=chunk_size, exact_below=exact_below
    )


def mcmc(mcmc_steps: int = 1) -> BackwardKernel:
    """Independent Metropolis–Hastings from the forward ancestor (`smc.paris` only)."""
    return BackwardKernel("mcmc", mcmc_steps=mcmc_steps)


def bounded(max_trials: int = 2, mcmc_steps: int = 1) -> BackwardKernel:
    """`max_trials` accept–reject rounds, then `mcmc_steps` Metropolis–Hastings moves from the
    forward ancestor for the draws still pending: at most `max_trials + mcmc_steps` proposals per
    draw (`smc.paris` only)."""
    return BackwardKernel("bounded", max_trials=max_trials, mcmc_steps=mcmc_steps)


def get(spec: "str | BackwardKernel", *, argname: str = "backward") -> BackwardKernel:
    """A `BackwardKernel` from a name (one of `METHODS`) or passed through."""
    if isinstance(spec, BackwardKernel):
        return spec
    if isinstance(spec, str) and spec in METHODS:
        makers = {
            "exact": exact,
            "rejection": rejection,
            "hybrid": hybrid,
            "mcmc": mcmc,
            "bounded": bounded,
        }
        return makers[spec]()
    raise ValueError(
        f"{argname} must be one of {list(METHODS)} or a probkit.smc.backward.BackwardKernel, "
        f"got {spec!r}"
    )


def check(
    spec, model: StateSpaceModel, *, argname: str = "backward", allow_mcmc: bool = False
) -> BackwardKernel:
    """`get` plus the model requirement: accept–reject needs `transition_log_bound`."""
    kernel = get(spec, argname=argname)
    if kernel.needs_ancestors and not allow_mcmc:
        raise ValueError(
            f"{argname}={kernel.method!r} starts from each particle's forward ancestor and is "
            "available in smc.paris only; use 'hybrid', 'exact' or 'rejection' here"
        )
    if kernel.needs_bound and model.transition_log_bound is None:
        raise ValueError(
            f"{argname}={kernel.method!r} needs an upper bound of the transition log-density, "
            f"but model {model!r} has no transition_log_bound; pass backward='exact' (O(N^2)) "
            "or give the StateSpaceModel a transition_log_bound(params)"
        )
    return kernel


def _chunk_size(kernel: BackwardKernel, num_rows: int, n: int) -> int:
    if kernel.chunk_size is not None:
        return min(kernel.chunk_size, num_rows)
    return max(1, min(num_rows, _MAX_CHUNK_ENTRIES // max(n, 1)))


def _exact(key, kernel, density, log_weights, m, n, num_draws):
    c = _chunk_size(kernel, m, n)
    num_chunks = -(-m // c)
    rows = jnp.minimum(jnp.arange(num_chunks * c), m - 1).reshape(num_chunks, c)
    keys = jax.random.split(key, num_chunks)

    def chunk(args):
        k, i = args
        lm = density.rows(i)
        idx, degenerate = draw_from_rows(k, log_weights[None, :] + lm, num_draws)
        return idx, degenerate

    if num_chunks == 1:
        idx, degenerate = chunk((keys[0], rows[0]))
    else:
        idx, degenerate = jax.lax.map(chunk, (keys, rows))
        idx = idx.reshape(num_chunks * c, num_draws)
        degenerate = degenerate.reshape(-1)
    return idx[:m], jnp.sum(degenerate[:m]).astype(jnp.int32)


def _buffer_size(total: int) -> int:
    """Proposals per accept–reject round: twice the number of draws, at least `_MIN_WORK`."""
    return max(_MIN_WORK, 2 * total)


def _compact(mask: Array, size: int, fill: int) -> Array:
    """The first `size` indices where `mask` is true, padded with `fill` (like `jnp.nonzero`
    with `size`, but with a tree-shaped cumulative sum, several times faster on CPU)."""
    position = jax.lax.associative_scan(jnp.add, mask.astype(jnp.int32)) - 1
    target = jnp.where(mask & (position < size), position, size)
    out = jnp.full(size, fill, jnp.int32)
    return out.at[target].set(jnp.arange(mask.shape[0], dtype=jnp.int32), mode="drop")


class _ARState(NamedTuple):
    key: Array
    idx: Array  # (M*K,) int32 accepted index (garbage while pending)
    pending: Array  # (M*K,) bool
    tries: Array  # (M*K,) int32 proposals made for each draw
    proposals: Array  # () int32 proposals used (sequential count: up to the first acceptance)
    excess: Array  # () max over proposals of log m - bound
    rounds: Array  # () int32


def _accept_reject(key, kernel, density, log_weights, m, n, num_draws, bound):
    """Accept–reject in rounds of B proposals shared round-robin by the pending draws.

    With c pending draws, the first min(c, B) of them get about B / c proposals each in a
    round, and each keeps its first accepted proposal (so each accepted index is exactly
    Λ-distributed). Work per round is B whatever c is; one loop body keeps compilation cheap.
    """
    total = m * num_draws
    cum = resampling.cumulative_weights(weights.normalize(log_weights))
    dtype = cum.dtype
    size = _buffer_size(total)
    q = jnp.arange(size, dtype=jnp.int32)

    def cond(s: _ARState):
        return jnp.any(s.pending & (s.tries < kernel.max_trials))

    def body(s: _ARState) -> _ARState:
        k, k_round = jax.random.split(s.key)
        eligible = s.pending & (s.tries < kernel.max_trials)
        count = jnp.minimum(jnp.sum(eligible, dtype=jnp.int32), min(size, total))
        slots = _compact(eligible, min(size, total), total)
        draw = slots[q % jnp.maximum(count, 1)]  # proposal q works for draw q mod count
        u = jax.random.uniform(k_round, (2, size), dtype=dtype)
        j = jnp.searchsorted(cum, u[0], side="right", method="scan_unrolled")
        j = jnp.clip(j, 0, n - 1).astype(jnp.int32)
        lm = density.pairs(j, jnp.minimum(draw, total - 1) // num_draws)
        left = kernel.max_trials - s.tries[jnp.minimum(draw, total - 1)]
        valid = (draw < total) & (q // jnp.maximum(count, 1) < left)  # the budget is exact
        accept = valid & (jnp.log(u[1]) < lm - bound)
        # First accepted proposal of each draw (proposals of one draw are q, q + count, ...).
        first_q = (
            jnp.full(total, size, jnp.int32).at[jnp.where(accept, draw, total)].min(q, mode="drop")
        )
        got = first_q < size
        chosen = j[jnp.minimum(first_q, size - 1)]
        per_draw = jnp.zeros(total, jnp.int32).at[jnp.where(valid, draw, total)].add(1, mode="drop")
        # Sequential count: a draw that accepted at its r-th proposal used r of them.
        used = jnp.where(got, first_q // jnp.maximum(count, 1) + 1, per_draw)
        return _ARState(
            k,
            jnp.where(got, chosen, s.idx),
            s.pending & ~got,
            s.tries + per_draw,
            s.proposals + jnp.sum(jnp.where(s.pending, used, 0), dtype=jnp.int32),
            jnp.maximum(s.excess, jnp.max(jnp.where(valid, lm - bound, -jnp.inf))),
            s.rounds + 1,
        )

    state = _ARState(
        key,
        jnp.zeros(total, jnp.int32),
        jnp.ones(total, bool),
        jnp.zeros(total, jnp.int32),
        jnp.zeros((), jnp.int32),
        jnp.full((), -jnp.inf, dtype),
        jnp.zeros((), jnp.int32),
    )
    return jax.lax.while_loop(cond, body, state)


def _mcmc(key, kernel, density, log_weights, start, m, num_draws):
    """Independent MH moves targeting Λ(i, ·) from each row's ancestor: `(M, K)` indices."""
    total = m * num_draws
    own = jnp.arange(m, dtype=jnp.int32)
    rows = jnp.repeat(own, num_draws)
    start = start.astype(jnp.int32)
    current = jnp.repeat(start, num_draws)
    # The K chains of a row share their start: one density evaluation per row.
    lm_current = jnp.repeat(density.pairs(start, own), num_draws)
    for k in jax.random.split(key, kernel.mcmc_steps):
        k_prop, k_acc = jax.random.split(k)
        proposal = resampling.multinomial.resample(k_prop, log_weights, total)
        lm_proposal = density.pairs(proposal, rows)
        log_u = jnp.log(jax.random.uniform(k_acc, (total,), dtype=lm_current.dtype))
        accept = log_u < lm_proposal - lm_current
        current = jnp.where(accept, proposal, current)
        lm_current = jnp.where(accept, lm_proposal, lm_current)
    info = BackwardInfo(
        jnp.full((), kernel.mcmc_steps, log_weights.dtype),
        jnp.zeros((), jnp.int32),
        jnp.zeros((), bool),
        jnp.zeros((), jnp.int32),
    )
    return current.reshape(m, num_draws), info


def _stride(total: int) -> int:
    """A stride coprime with `total` near total / golden ratio (spreads consecutive slots)."""
    stride = max(1, int(total * 0.6180339887)) | 1
    while math.gcd(stride, total) != 1:
        stride += 2
    return stride % max(total, 1) or 1


def _spread_proposals(key, cum: Array, total: int) -> Array:
    """`total` proposals, each exactly Cat(ω)-distributed: a systematic sample (sorted, O(N +
    total) by a histogram, one uniform) dealt to the slots by a uniformly random rotation with a
    stride coprime with `total`, so slot d gets the ((d·stride + s) mod total)-th point. Slots
    of one call are dependent (distinct strata); calls with independent keys are independent.
    Uses two random numbers instead of `total` and no binary search."""
    n = cum.shape[0]
    k_u, k_s = jax.random.split(key)
    u = jax.random.uniform(k_u, (), dtype=cum.dtype)
    pos = jnp.clip(jnp.ceil(total * cum - u).astype(jnp.int32), 0, total)
    hist = jnp.zeros(total + 1, jnp.int32).at[pos].add(1)
    points = jnp.clip(jax.lax.associative_scan(jnp.add, hist[:total]), 0, n - 1)
    shift = jax.random.randint(k_s, (), 0, total, dtype=jnp.int32)
    slot = (jnp.arange(total, dtype=jnp.int32) * _stride(total) + shift) % total
    return points[slot]


def _bounded(key, kernel, density, log_weights, start, m, num_draws, bound):
    """`max_trials` accept–reject rounds over all draws, then `mcmc_steps` independent MH moves
    from the forward ancestor for the draws still pending: `(M, K)` indices and info.

    Every round works on all M·K draws at once (static shapes, no `while_loop`), so the cost is
    (max_trials + mcmc_steps) proposals per draw at most, whatever the acceptance rate. A draw's
    proposals are i.i.d. Cat(ω) over rounds (`_spread_proposals`) and its uniforms independent,
    so each accept–reject draw is exactly Λ-distributed and each move leaves Λ invariant.
    """
    total = m * num_draws
    own = jnp.arange(m, dtype=jnp.int32)
    rows = jnp.repeat(own, num_draws)
    cum = resampling.cumulative_weights(weights.normalize(log_weights))
    dtype = cum.dtype
    start = start.astype(jnp.int32)
    k_ar, k_mh = jax.random.split(key)

    def propose(k):
        k_j, k_u = jax.random.split(k)
        j = _spread_proposals(k_j, cum, total)
        log_u = jnp.log(jax.random.uniform(k_u, (total,), dtype=dtype))
        return j, density.pairs(j, rows), log_u

    def reject_round(r, carry):
        idx, pending, used, excess = carry
        j, lm, log_u = propose(jax.random.fold_in(k_ar, r))
        accept = pending & (log_u < lm - bound)
        excess = jnp.maximum(excess, jnp.max(jnp.where(pending, lm - bound, -jnp.inf)))
        return jnp.where(accept, j, idx), pending & ~accept, used + pending, excess

    carry = (
        jnp.repeat(start, num_draws),
        jnp.ones(total, bool),
        jnp.zeros(total, jnp.int32),
        jnp.full((), -jnp.inf, dtype),
    )
    idx, pending, used, excess = jax.lax.fori_loop(0, kernel.max_trials, reject_round, carry)

    # The K chains of a row share their start: one density evaluation per row. Accepted draws
    # keep their index (their moves are masked out), pending ones start at the ancestor.
    lm_current = jnp.repeat(density.pairs(start, own), num_draws)

    def move(s, carry):
        idx, lm_current = carry
        j, lm, log_u = propose(jax.random.fold_in(k_mh, s))
        accept = pending & (log_u < lm - lm_current)
        return jnp.where(accept, j, idx), jnp.where(accept, lm, lm_current)

    idx, lm_current = jax.lax.fori_loop(0, kernel.mcmc_steps, move, (idx, lm_current))
    used = used + kernel.mcmc_steps * pending
    tol = 1e-6 * jnp.maximum(1.0, jnp.abs(bound))
    # Rows whose pending draws found no finite log m are left at the ancestor: reported.
    stuck = jnp.any((pending & ~jnp.isfinite(lm_current)).reshape(m, num_draws), axis=1)
    info = BackwardInfo(
        jnp.mean(used.astype(dtype)),
        jnp.sum(pending, dtype=jnp.int32),
        excess > tol,
        jnp.sum(stuck, dtype=jnp.int32),
    )
    return idx.reshape(m, num_draws), info


def _fallback(key, kernel, density, log_weights, num_draws, state):
    """Exact draws for the slots still pending, `fallback_chunk` at a time."""
    total = state.idx.shape[0]
    size = min(kernel.fallback_chunk, total)
    row_of_slot = jnp.arange(total, dtype=jnp.int32) // num_draws

    def cond(carry):
        return jnp.any(carry[1])

    def body(carry):
        idx, pending, k, degenerate = carry
        k, k_draw = jax.random.split(k)
        slots = _compact(pending, size, total)
        lm = density.rows(row_of_slot[jnp.minimum(slots, total - 1)])
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
    start: Array | None = None,
) -> tuple[Array, BackwardInfo]:
    """Draw `num_draws` indices per row: `J[i, k] ~ Λ(i, ·) ∝ ω^j m(x_prev[j], x[i])`.

    Args:
        key: PRNG key.
        kernel: a `BackwardKernel` (see `get`).
        model: the state-space model; `m` is `model.transition(params, ·, t)`.
        params: its parameters.
        log_weights: `(N,)` log-weights ω of `x_prev` (normalised or not).
        x_prev: `(N, *state_shape)` particles at time t-1.
        x: `(M, *state_shape)` the rows: particles at time t.
        t (int): time index of `x`.
        num_draws: K >= 1 draws per row.
        start: `(M,)` forward ancestors of the rows (starting points of the "mcmc" kernel and
            of the "bounded" kernel's moves).

    Returns:
        `(J, info)`: `J` of shape `(M, K)` int32 indexing `x_prev`, and a `BackwardInfo`.
    """
    m, n = x.shape[0], x_prev.shape[0]
    log_weights = weights.log_normalize(log_weights)  # degenerate ω: uniform (as the proposals)
    density = transition_density(model, params, x_prev, x, t)
    if kernel.method == "exact" or (kernel.method == "hybrid" and n <= kernel.exact_below):
        idx, degenerate = _exact(key, kernel, density, log_weights, m, n, num_draws)
        info = BackwardInfo(
            jnp.ones((), log_weights.dtype),
            jnp.zeros((), jnp.int32),
            jnp.zeros((), bool),
            degenerate,
        )
        return idx, info
    if kernel.needs_ancestors and start is None:
        raise ValueError(
            f"backward={kernel.method!r} needs the rows' forward ancestors (start=...)"
        )
    if kernel.method == "mcmc":
        return _mcmc(key, kernel, density, log_weights, start, m, num_draws)
    bound = jnp.asarray(model.transition_log_bound(params))
    if kernel.method == "bounded":
        return _bounded(key, kernel, density, log_weights, start, m, num_draws, bound)
    k_ar, k_fb = jax.random.split(key)
    state = _accept_reject(k_ar, kernel, density, log_weights, m, n, num_draws, bound)
    idx, fallbacks, degenerate = _fallback(k_fb, kernel, density, log_weights, num_draws, state)
    total = m * num_draws
    tol = 1e-6 * jnp.maximum(1.0, jnp.abs(bound))
    info = BackwardInfo(
        (state.proposals + fallbacks).astype(log_weights.dtype) / total,
        fallbacks,
        state.excess > tol,
        degenerate,
    )
    return idx.reshape(m, num_draws), info
