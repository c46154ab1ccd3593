"""Self-repellent random walks (SRRW; Doshi, Hu & Eun, ICML 2023) and the HDT variant.

A walker on a graph with base chain P (reversible to μ) is pushed away from nodes it has
over-visited relative to μ:

    X_{n+1} ~ K[x_n](X_n, ·),   K[x](i, j) ∝ P(i, j) (x_j / μ_j)^(-α),
    x_{n+1} = x_n + γ_{n+1} (δ_{X_{n+1}} - x_n),   γ_n = (n + N)^(-a),

started at one visit per node (x_0 = 1/N; the offset N makes a = 1 give exact visit
frequencies x_n = counts / (n + N)). α = 0 is the base chain. x_n → μ almost surely and
√n (x_n - μ) → N(0, V(α)) with V(α) = O(1/α) (`asymptotic_covariance`).

Cost per step O(D) (D = max degree + 1: the normaliser needs every neighbour and the MH
self-loop). K[x] does not change when x is rescaled, so the kernel uses raw visit counts (a = 1;
int32, exact to 2^31 visits) or x in log space up to a common scale (a < 1; O(1) update per
step). Memory: W walkers × N nodes × (int32 counts + float log-measure); `record="final"`
(default) keeps only the final state, `record="positions"` adds the (T, W) int32 trajectory, and
the streaming option `summary_every=k` keeps only sums over walkers of the errors every k steps
(`SRRWSummary`: O(n) per checkpoint, nothing of size T × W).

HDT (`hdt`): history-driven target, π_i[x] ∝ μ_i (x_i/μ_i)^(-α) targeted by Metropolis–Hastings
with SRW proposals; an O(1) step (one neighbour, one accept test), covariance
V_MHRW / (2α + 1): the repellence is weaker than SRRW's per unit α but each step is cheaper.
"""

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from probkit.core import progress, validate
from probkit.core import sharding as sharding_mod
from probkit.core.types import Array, PRNGKey
from probkit.walks.bucketed import bucket_widths, bucketed_step
from probkit.walks.estimators import SRRWSummary, summarise
from probkit.walks.graph import BASES, BaseChain, Graph, base_chain
from probkit.walks.primitives import (
    SRRWInfo,
    SRRWState,
    log_visit_frequency,
    record_visit,
    sample_row,
)

__all__ = [
    "SRRWInfo",
    "SRRWResult",
    "SRRWState",
    "check_exponent",
    "empirical_measure",
    "growing_alpha",
    "hdt",
    "hdt_step",
    "init",
    "srrw",
    "step",
    "transition_probabilities",
]


class SRRWResult(NamedTuple):
    """Result of `srrw` / `hdt`.

    Attributes:
        empirical: (W, n) empirical measure x_n (rows sum to 1).
        positions: (W,) node index after the last step.
        counts: (W, n) int32 visit counts (initial visit per node included).
        trace: (T, W) int32 positions after each step, or None (`record="final"`).
        summary: `SRRWSummary` of walker-summed errors every `summary_every` steps, or None.
        state: final `SRRWState`, leaves with a leading (W,) axis.
        failed: () bool, some walker met a non-finite kernel row.
        failed_at: () int32, first such step (-1 if none).
    """

    empirical: Array
    positions: Array
    counts: Array
    trace: Array | None
    summary: SRRWSummary | None
    state: SRRWState
    failed: Array
    failed_at: Array


def check_exponent(name: str, value) -> float:
    """A step-size exponent in (0.5, 1] (the Robbins–Monro range), named in the error."""
    value = validate.positive_float(name, value)
    if not 0.5 < value <= 1.0:
        raise ValueError(f"{name} must be in (0.5, 1], got {value}")
    return value


def growing_alpha(c: float = 1000.0) -> Callable:
    """Schedule α_n = α n / (α c + n): grows from 0 to α (Score-Repellent MC's n/(c + n/α)).

    Examples:
        >>> schedule = walks.growing_alpha(c=1000.0)
        >>> float(schedule(1000, 1.0)), float(schedule(10**6, 1.0)) > 0.99
        (0.5, True)
    """
    c = validate.positive_float("c", c)

    def schedule(n, alpha):
        n = jnp.asarray(n, jnp.result_type(float))
        return alpha * n / (alpha * c + n)

    return schedule


def init(key: PRNGKey, chain: BaseChain, *, start=None, count_offset: int = 0) -> SRRWState:
    """One walker at `start` (a node index) or drawn from μ; one visit per node.

    `count_offset` adds to every initial count (to test exactness of long runs cheaply).

    Examples:
        >>> import networkx as nx
        >>> chain = walks.base_chain(walks.from_networkx(nx.cycle_graph(4)))
        >>> state = walks.init(jax.random.key(0), chain, start=2)
        >>> int(state.position), state.counts.tolist()
        (2, [1, 1, 1, 1])
    """
    n = chain.degree.shape[0]
    dtype = chain.log_mu.dtype
    if start is None:
        # inverse CDF: one uniform per walker (a Gumbel per node would cost O(n) per walker)
        cdf = jnp.cumsum(jnp.exp(chain.log_mu - jnp.max(chain.log_mu)))
        u = jax.random.uniform(key, dtype=cdf.dtype) * cdf[-1]
        pos = jnp.minimum(jnp.searchsorted(cdf, u, side="right"), n - 1).astype(jnp.int32)
    else:
        pos = jnp.asarray(start, jnp.int32)
    counts = jnp.full((n,), 1 + count_offset, jnp.int32)
    log_y = jnp.full((n,), -jnp.log(jnp.asarray(n, dtype)), dtype)
    return SRRWState(
        pos,
        jnp.asarray(-1, jnp.int32),
        counts,
        log_y,
        jnp.zeros((), dtype),
        jnp.zeros((), jnp.int32),
        jnp.zeros((), bool),
    )


def _row_logits(state, chain, alpha, non_backtracking, step_exponent):
    i = state.position
    nb = chain.neighbors[i]
    lp = chain.log_p[i]
    if non_backtracking:
        back = (nb == state.previous) & chain.mask[i] & (chain.degree[i] > 1)
        lp = jnp.where(back, -jnp.inf, lp)
    rep = log_visit_frequency(state, nb, step_exponent) - chain.log_mu[nb]
    logits = jnp.where(lp > -jnp.inf, lp - alpha * rep, -jnp.inf)
    return nb, logits


def transition_probabilities(
    state: SRRWState, chain: BaseChain, alpha, *, base: str = "srw", step_exponent: float = 1.0
) -> tuple[Array, Array]:
    """The exact row `K[x_n](X_n, ·)` as (neighbour indices (D+1,), probabilities (D+1,)).

    Examples:
        >>> import networkx as nx
        >>> chain = walks.base_chain(walks.from_networkx(nx.cycle_graph(4)))
        >>> state = walks.init(jax.random.key(0), chain, start=0)
        >>> idx, p = walks.transition_probabilities(state, chain, 1.0)  # (D + 1,) each
        >>> sorted(idx.tolist()), p.round(3).tolist()
        ([0, 1, 3], [0.5, 0.5, 0.0])
    """
    nb, logits = _row_logits(state, chain, alpha, base == "nbrw", step_exponent)
    return nb, jax.nn.softmax(logits)


def step(
    key: PRNGKey,
    state: SRRWState,
    chain: BaseChain,
    alpha,
    *,
    base: str = "srw",
    step_exponent: float = 1.0,
) -> tuple[SRRWState, SRRWInfo]:
    """One SRRW step of one walker: X ~ K[x](X_n, ·), then the empirical-measure update.

    Examples:
        >>> import networkx as nx
        >>> chain = walks.base_chain(walks.from_networkx(nx.cycle_graph(4)))
        >>> state = walks.init(jax.random.key(0), chain, start=0)
        >>> state, info = walks.step(jax.random.key(1), state, chain, 1.0)
        >>> int(state.position) in (1, 3), bool(info.moved)  # SRW on a cycle always moves
        (True, True)
    """
    nb, logits = _row_logits(state, chain, alpha, base == "nbrw", step_exponent)
    finite = jnp.isfinite(jnp.max(logits))  # a NaN logit makes the max NaN
    j = nb[sample_row(key, logits)]
    counts, log_y, log_scale, k, info = record_visit(
        state, j, j != state.position, step_exponent, logits.dtype
    )
    new = SRRWState(j, state.position, counts, log_y, log_scale, k, state.nonfinite | ~finite)
    return new, info


def hdt_step(
    key: PRNGKey, state: SRRWState, chain: BaseChain, alpha, *, step_exponent: float = 1.0
) -> tuple[SRRWState, SRRWInfo]:
    """One HDT-MHRW step: propose a uniform neighbour j, accept with
    min(1, π_j[x] deg_i / (π_i[x] deg_j)), π_i[x] ∝ μ_i (x_i/μ_i)^(-α). O(1).

    Examples:
        >>> import networkx as nx
        >>> chain = walks.base_chain(walks.from_networkx(nx.cycle_graph(4)), "mhrw")
        >>> state = walks.init(jax.random.key(0), chain, start=0)
        >>> state, info = walks.hdt_step(jax.random.key(1), state, chain, 1.0)
        >>> int(state.num_steps), int(state.counts.sum())  # 4 initial visits + 1
        (1, 5)
    """
    i = state.position
    deg_i = chain.degree[i]
    dtype = chain.log_mu.dtype
    u = jax.random.uniform(key, (2,), dtype=dtype)  # proposal slot, acceptance
    slot = jnp.minimum(jnp.floor(u[0] * deg_i).astype(jnp.int32), deg_i - 1)
    j = chain.neighbors[i, slot]

    def log_pi(v):
        return chain.log_mu[v] - alpha * (
            log_visit_frequency(state, v, step_exponent) - chain.log_mu[v]
        )

    log_acc = (
        log_pi(j)
        - log_pi(i)
        + jnp.log(deg_i.astype(dtype))
        - jnp.log(chain.degree[j].astype(dtype))
    )
    accept = jnp.log(u[1]) < log_acc
    nxt = jnp.where(accept, j, i)
    counts, log_y, log_scale, k, info = record_visit(state, nxt, accept, step_exponent, dtype)
    finite = jnp.isfinite(log_acc) | jnp.isneginf(log_acc)
    new = SRRWState(nxt, i, counts, log_y, log_scale, k, state.nonfinite | ~finite)
    return new, info


def empirical_measure(state: SRRWState, step_exponent: float = 1.0) -> Array:
    """x_n (n,) from a state (leading batch axes allowed).

    Examples:
        >>> import networkx as nx
        >>> chain = walks.base_chain(walks.from_networkx(nx.cycle_graph(4)))
        >>> state = walks.init(jax.random.key(0), chain, start=0)
        >>> walks.empirical_measure(state).tolist()  # one initial visit per node
        [0.25, 0.25, 0.25, 0.25]
    """
    if step_exponent == 1.0:
        c = state.counts.astype(state.log_y.dtype)
        return c / jnp.sum(c, axis=-1, keepdims=True)
    return jax.nn.softmax(state.log_y, axis=-1)


def _validate(graph, num_steps, alpha, base, num_walkers, step_exponent, alpha_schedule, record):
    if not isinstance(graph, Graph):
        raise TypeError(f"graph must be a walks.Graph (walks.from_networkx), got {type(graph)}")
    validate.positive_int("num_steps", num_steps)
    validate.positive_float("alpha", alpha, allow_zero=True)
    validate.one_of("base", base, BASES)
    validate.positive_int("num_walkers", num_walkers)
    check_exponent("step_exponent", step_exponent)
    validate.callable_("alpha_schedule", alpha_schedule, allow_none=True)
    validate.one_of("record", record, ("final", "positions"))


def _streaming(graph, num_steps, summary_every, functions):
    """Validated (summary_every, functions (m, n) or None)."""
    if summary_every is None:
        if functions is not None:
            raise ValueError("functions needs summary_every (the streaming record)")
        return None, None
    every = validate.positive_int("summary_every", summary_every)
    if every > num_steps:
        raise ValueError(f"summary_every must be <= num_steps = {num_steps}, got {every}")
    if functions is None:
        return every, None
    n = graph.num_nodes
    f = validate.finite("functions", functions)
    if f.ndim == 1:
        f = f[None, :]
    if f.ndim != 2 or f.shape[1] != n:
        raise ValueError(
            f"functions must have shape ({n},) or (m, {n}), got {jnp.shape(functions)}"
        )
    return every, f.astype(jnp.result_type(float))


def srrw(
    key: PRNGKey,
    graph: Graph,
    num_steps: int,
    *,
    alpha: float,
    base: str = "srw",
    num_walkers: int = 1,
    step_exponent: float = 1.0,
    alpha_schedule: Callable | None = None,
    record: str = "final",
    summary_every: int | None = None,
    functions=None,
    start=None,
    count_offset: int = 0,
    layout: str = "padded",
    sharding: jax.sharding.NamedSharding | None = None,
    progress_bar: bool = False,
) -> SRRWResult:
    """Run `num_walkers` independent SRRWs for `num_steps` steps (vmap over walkers, scan).

    Memory: the state holds W × n int32 counts and W × n floats (the kernel needs every
    walker's x_n); `record="positions"` adds T × W int32; `summary_every` adds O(R (n + m)).

    Args:
        key: PRNG key.
        graph: `walks.from_networkx(G)`.
        num_steps: T.
        alpha: repellence α >= 0 (0: the base chain).
        base: "srw", "mhrw" or "nbrw".
        num_walkers: W independent walkers.
        step_exponent: a in (0.5, 1], γ_n = (n + N)^(-a); 1 gives visit frequencies.
        alpha_schedule: optional `f(n, alpha) -> α_n` used at step n = 1..T
            (e.g. `growing_alpha()`).
        record: "final" (only the final state) or "positions" (also the (T, W) trajectory).
        summary_every: streaming record: every this many steps keep only sums over walkers of
            the errors of x_n against μ (`SRRWSummary` in `result.summary`).
        functions: node functions f, (n,) or (m, n), whose ergodic averages Σ_i x_n(i) f(i)
            are summed over walkers at each checkpoint (needs `summary_every`).
        start: optional start node index (default: X_0 ~ μ).
        count_offset: added to every initial count (exactness checks of long runs).
        layout: "padded" (every walker reads a row of width max degree + 1) or "bucketed"
            (walkers grouped by their node's degree bucket read rows of the bucket's width;
            faster on heavy-tailed graphs, see `probkit.walks.bucketed`).
        sharding: split the walker axis over devices: a `NamedSharding`
            (`probkit.core.sharding.batch_sharding()`) or a `Mesh`; same walks as unsharded.
        progress_bar: tqdm bar driven from inside the loop.

    Returns:
        `SRRWResult`.

    Examples:
        >>> import networkx as nx
        >>> g = walks.from_networkx(nx.cycle_graph(4))
        >>> res = walks.srrw(jax.random.key(0), g, 50, alpha=1.0, num_walkers=3, record="positions")
        >>> res.empirical.shape, res.trace.shape, bool(res.failed)
        ((3, 4), (50, 3), False)
        >>> bool(jnp.allclose(res.empirical.sum(axis=1), 1.0))
        True
    """
    validate.key("key", key)
    _validate(graph, num_steps, alpha, base, num_walkers, step_exponent, alpha_schedule, record)
    every, functions = _streaming(graph, num_steps, summary_every, functions)
    validate.one_of("layout", layout, ("padded", "bucketed"))
    chain = base_chain(graph, base)
    plan = None
    if layout == "bucketed":
        plan = bucket_widths(graph)
    return _run(
        key, chain, jnp.asarray(alpha, chain.log_mu.dtype), start, functions, int(count_offset),
        num_steps=num_steps, num_walkers=num_walkers, base=base,
        step_exponent=float(step_exponent), alpha_schedule=alpha_schedule,
        record=record, every=every, sharding=sharding_mod.resolve(sharding),
        progress_bar=progress_bar,
        kernel="srrw", plan=plan,
    )  # fmt: skip


def hdt(
    key: PRNGKey,
    graph: Graph,
    num_steps: int,
    *,
    alpha: float,
    num_walkers: int = 1,
    step_exponent: float = 1.0,
    alpha_schedule: Callable | None = None,
    record: str = "final",
    summary_every: int | None = None,
    functions=None,
    start=None,
    sharding: jax.sharding.NamedSharding | None = None,
    progress_bar: bool = False,
) -> SRRWResult:
    """History-driven-target MHRW (Hu, Ma & Eun 2025): O(1) per step; arguments as `srrw`.

    Examples:
        >>> import networkx as nx
        >>> g = walks.from_networkx(nx.cycle_graph(4))
        >>> res = walks.hdt(jax.random.key(0), g, 100, alpha=1.0, num_walkers=2)
        >>> res.empirical.shape, bool(res.failed)
        ((2, 4), False)
    """
    validate.key("key", key)
    _validate(graph, num_steps, alpha, "mhrw", num_walkers, step_exponent, alpha_schedule, record)
    every, functions = _streaming(graph, num_steps, summary_every, functions)
    chain = base_chain(graph, "mhrw")
    return _run(
        key, chain, jnp.asarray(alpha, chain.log_mu.dtype), start, functions, 0,
        num_steps=num_steps, num_walkers=num_walkers, base="mhrw",
        step_exponent=float(step_exponent), alpha_schedule=alpha_schedule,
        record=record, every=every, sharding=sharding_mod.resolve(sharding),
        progress_bar=progress_bar, kernel="hdt",
        plan=None,
    )  # fmt: skip


@partial(
    jax.jit,
    static_argnames=(
        "num_steps", "num_walkers", "base", "step_exponent", "alpha_schedule", "record",
        "every", "sharding", "progress_bar", "kernel", "count_offset", "plan",
    ),
)  # fmt: skip
def _run(
    key, chain, alpha, start, functions, count_offset, *, num_steps, num_walkers, base,
    step_exponent, alpha_schedule, record, every, sharding, progress_bar, kernel, plan,
):  # fmt: skip
    k_init, k_run = jax.random.split(key)
    states = jax.vmap(lambda k: init(k, chain, start=start, count_offset=count_offset))(
        jax.random.split(k_init, num_walkers)
    )
    states = sharding_mod.constrain(states, sharding)
    mu = jnp.exp(chain.log_mu)

    def one(k, s, a):
        if kernel == "hdt":
            return hdt_step(k, s, chain, a, step_exponent=step_exponent)
        return step(k, s, chain, a, base=base, step_exponent=step_exponent)

    def body(carry, _):
        s, failed_at, t = carry  # t: steps taken; the step's key is fold_in(k_run, t)
        k = jax.random.fold_in(k_run, t)
        a = alpha if alpha_schedule is None else alpha_schedule(t + 1, alpha)
        ks = jax.random.split(k, num_walkers)
        if plan is None:
            s, _ = jax.vmap(one, in_axes=(0, 0, None))(ks, s, a)
        else:
            s, _ = bucketed_step(ks, s, chain, a, plan, base=base, step_exponent=step_exponent)
        s = sharding_mod.constrain(s, sharding)
        bad = jnp.any(s.nonfinite)
        failed_at = jnp.where((failed_at < 0) & bad, t + 1, failed_at)
        out = s.position if record == "positions" else None
        return (s, failed_at, t + 1), out

    # no per-step input: nothing of size T is allocated unless record="positions"
    carry = (states, jnp.asarray(-1, jnp.int32), jnp.asarray(0, jnp.int32))
    label = "SRRW" if kernel == "srrw" else "HDT"
    summary = None
    if every is None:
        carry, trace = progress.scan(
            body, carry, length=num_steps, enabled=progress_bar, label=label
        )
    else:
        num_records = num_steps // every

        def outer(carry, _):
            carry, tr = jax.lax.scan(body, carry, length=every)
            x = empirical_measure(carry[0], step_exponent)
            return carry, (tr, summarise(x, mu, functions))

        carry, (trace, sums) = progress.scan(
            outer, carry, length=num_records, enabled=progress_bar, label=label
        )
        if trace is not None:
            trace = trace.reshape(num_records * every, num_walkers)
        rest = num_steps - num_records * every
        if rest:
            carry, tail = jax.lax.scan(body, carry, length=rest)
            if trace is not None:
                trace = jnp.concatenate([trace, tail])
        steps = (jnp.arange(1, num_records + 1) * every).astype(jnp.int32)
        summary = SRRWSummary(steps, mu, *sums, num_walkers)
    states, failed_at, _ = carry
    return SRRWResult(
        empirical_measure(states, step_exponent),
        states.position,
        states.counts,
        trace,
        summary,
        states,
        failed_at >= 0,
        failed_at,
    )
