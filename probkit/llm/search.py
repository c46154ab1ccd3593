"""Search baselines at equal budget: best-of-N, weighted best-of-N, beam search, DVTS.

All run on the same particle engine as the particle filter (`probkit.llm.engine`), so they
accept the same text or JAX-native models and report the same budget accounting. The budget N
is the number of solutions generated in parallel: every method extends at most N partial
solutions per step.

* `best_of_n` — N independent solutions, each scored once when it finishes; the highest
  reward wins.
* `weighted_best_of_n` — the same N solutions; the canonical answer with the largest *sum* of
  rewards wins (search-and-learn's weighted selection; the PRM acts as an outcome model).
* `beam_search` — search-and-learn's beam search: N partial solutions are extended by one step,
  the N / M best unfinished ones (by aggregated reward) are kept and each is copied M times
  (M = `beam_width`); solutions that finish go to a pool, and the search stops once the pool
  holds N solutions (or no partial solution is left). The answer is chosen from the pool.
* `dvts` — diverse verifier tree search: N / M independent subtrees, each a greedy search that
  expands its current path into M children per step and keeps the best child. Only finished
  paths are candidates for the answer (search-and-learn issue #57: unfinished last-step
  candidates leak into its final pool; they do not here).

Cost per step: one LM call for at most N extensions and one reward call scoring them.
"""

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from probkit.core import validate
from probkit.core.types import Array, PRNGKey, PyTree
from probkit.llm import engine, selection
from probkit.llm import filtering as pf
from probkit.llm.protocols import AnswerFn, AnyLanguageModel, AnyRewardModel, Budget, Prompt

__all__ = [
    "SearchResult",
    "beam_search",
    "beam_search_backend",
    "best_of_n",
    "best_of_n_backend",
    "dvts",
    "dvts_backend",
    "weighted_best_of_n",
]


class SearchResult(NamedTuple):
    """Result of a search baseline (`best_of_n`, `weighted_best_of_n`, `beam_search`, `dvts`).

    Attributes:
        answer: canonical answer chosen: () int32 (JAX-native; -1 none) or str | None.
        index: () int32 index of the chosen candidate.
        response: the chosen solution's text (text models).
        answers: (C,) int32 answer ids of the candidates, or list[str | None].
        particles: the C candidate solutions.
        rewards: (C,) their final rewards.
        valid: (C,) bool, candidate slots that hold a finished solution.
        truncated: (C,) bool, candidates stopped by max_steps.
        lengths: (C,) int32 steps in each candidate.
        num_steps: () int32 steps taken.
        budget: LM steps, tokens, scored prefixes.
        invalid_rewards: () int32 (JAX-native models; text models raise).
    """

    answer: Any  # canonical answer chosen: () int32 (JAX-native; -1 none) or str | None
    index: Array  # () int32 index of the chosen candidate
    response: str | None  # the chosen solution's text (text models)
    answers: Any  # (C,) int32 answer ids of the candidates, or list[str | None]
    particles: PyTree  # the C candidate solutions
    rewards: Array  # (C,) their final rewards
    valid: Array  # (C,) bool, candidate slots that hold a finished solution
    truncated: Array  # (C,) bool, candidates stopped by max_steps
    lengths: Array  # (C,) int32
    num_steps: Array  # () int32
    budget: Budget  # LM steps, tokens, scored prefixes
    invalid_rewards: Array  # () int32 (JAX-native models; text models raise)


def _common(key, lm, reward_model, prompt, budget, answer_fn, max_steps):
    validate.key("key", key)
    backend = engine.make_backend(lm, reward_model, answer_fn)
    engine.check_prompt(backend, prompt)
    budget = validate.positive_int("budget", budget)
    max_steps = validate.positive_int("max_steps", max_steps)
    return backend, budget, max_steps


def _check_width(budget: int, beam_width: int) -> int:
    beam_width = validate.positive_int("beam_width", beam_width)
    if budget < beam_width:
        raise ValueError(
            f"budget ({budget}) must be at least beam_width ({beam_width}): the search keeps "
            f"budget // beam_width partial solutions"
        )
    if budget % beam_width:
        raise ValueError(f"budget ({budget}) must be a multiple of beam_width ({beam_width})")
    return beam_width


@jax.jit(static_argnames=("search", "lm", "reward_model", "n", "width", "max_steps", "select"))
def _tree_search_jax(search, key, lm, reward_model, prompt, n, width, max_steps, select):
    return search(key, engine.JaxBackend(lm, reward_model), prompt, n, width, max_steps, select)


def _run_tree_search(
    search,
    what,
    key,
    lm,
    reward_model,
    prompt,
    budget,
    beam_width,
    select,
    max_steps,
    answer_fn,
) -> SearchResult:
    """Validate, run (compiled for JAX-native models) and check a beam-style search."""
    backend, budget, max_steps = _common(
        key, lm, reward_model, prompt, budget, answer_fn, max_steps
    )
    width = _check_width(budget, beam_width)
    selection.check(select)
    if backend.jax_native:
        res = _tree_search_jax(
            search, key, lm, reward_model, prompt, budget, width, max_steps, select
        )
    else:
        res = search(key, backend, prompt, budget, width, max_steps, select)
    pf.report(res, what=what)
    return res


def _package(
    key,
    backend,
    prompt,
    select,
    particles,
    rewards,
    valid,
    truncated,
    lengths,
    num_steps,
    budget,
    invalid,
) -> SearchResult:
    ids, labels = backend.answers(prompt, particles)
    ids = jnp.where(valid, ids, -1)
    neg = jnp.full_like(rewards, -jnp.inf)
    r_sel = jnp.where(valid, rewards, neg)
    log_w = jnp.where(valid & (rewards > 0), jnp.log(jnp.where(rewards > 0, rewards, 1.0)), neg)
    vote_w = jnp.where(valid, rewards, jnp.zeros_like(rewards))
    index = selection.select(key, select, ids, r_sel, log_w, vote_w)
    if backend.jax_native:
        answer, response, answers = ids[index], None, ids
    else:
        i = int(index)
        answers = [labels[a] if a >= 0 else None for a in map(int, ids)]
        answer, response = answers[i], backend.texts(particles)[i]
    return SearchResult(
        answer,
        index,
        response,
        answers,
        particles,
        rewards,
        valid,
        truncated,
        lengths,
        num_steps,
        budget,
        invalid,
    )


# ---------------------------------------------------------------------------------------------
# best-of-N and weighted best-of-N: the filter engine without resampling, scored on completion


def best_of_n_backend(key, backend, prompt, n, max_steps, select):
    """best-of-N on an `engine` backend, arguments unchecked (the public function validates)."""
    cfg = pf.FilterConfig(max_steps=max_steps, select=select, resample=False, score_all=False)
    k_loop, k_sel = jax.random.split(key)
    state = pf.init_backend(backend, prompt, n, cfg)
    state, _ = pf.run_loop(k_loop, backend, prompt, state, cfg)
    return _package(
        k_sel,
        backend,
        prompt,
        select,
        state.particles,
        state.rewards,
        state.finished,
        state.truncated,
        state.lengths,
        state.step,
        state.budget,
        state.invalid_rewards,
    )


@jax.jit(static_argnames=("lm", "reward_model", "n", "max_steps", "select"))
def _bon_jax(key, lm, reward_model, prompt, n, max_steps, select):
    return best_of_n_backend(key, engine.JaxBackend(lm, reward_model), prompt, n, max_steps, select)


def _run_bon(key, lm, reward_model, prompt, budget, select, max_steps, answer_fn, what):
    backend, budget, max_steps = _common(
        key, lm, reward_model, prompt, budget, answer_fn, max_steps
    )
    if backend.jax_native:
        res = _bon_jax(key, lm, reward_model, prompt, budget, max_steps, select)
    else:
        res = best_of_n_backend(key, backend, prompt, budget, max_steps, select)
    pf.report(res, what=what)
    return res


def best_of_n(
    key: PRNGKey,
    lm: AnyLanguageModel,
    reward_model: AnyRewardModel,
    prompt: Prompt,
    budget: int,
    *,
    max_steps: int = 40,
    answer_fn: AnswerFn | None = None,
) -> SearchResult:
    """Best-of-N: N independent solutions; the one with the highest final reward wins.

    Args:
        key: PRNG key.
        lm: a text or JAX-native language model (see `probkit.llm.protocols`).
        reward_model: a text or JAX-native reward model.
        prompt: the problem (non-empty string, or a pytree for JAX-native models).
        budget: N >= 1 solutions.
        max_steps: solutions still unfinished after this many steps are stopped and flagged.
        answer_fn: text models only: response -> canonical answer.

    Examples:
        >>> class Toy:  # a text LM: two steps, then the answer 7
        ...     def extend(self, prompt, prefixes, *, seeds=None):
        ...         done = [len(p) == 2 for p in prefixes]
        ...         return [llm.Step(r"\\boxed{7}" if d else "step", d) for d in done]
        >>> prm = llm.ProcessRewardModel(lambda prompt, steps: [[0.9] * len(s) for s in steps])
        >>> res = llm.best_of_n(jax.random.key(0), Toy(), prm, "count", 4)
        >>> res.answer, res.response.count("step")
        ('7', 2)
    """
    return _run_bon(
        key, lm, reward_model, prompt, budget, "argmax", max_steps, answer_fn, "best_of_n"
    )


def weighted_best_of_n(
    key: PRNGKey,
    lm: AnyLanguageModel,
    reward_model: AnyRewardModel,
    prompt: Prompt,
    budget: int,
    *,
    max_steps: int = 40,
    answer_fn: AnswerFn | None = None,
) -> SearchResult:
    """Weighted best-of-N: the canonical answer with the largest sum of final rewards wins.

    Same arguments as `best_of_n`.

    Examples:
        >>> class Toy:  # a text LM: two steps, then the answer 7
        ...     def extend(self, prompt, prefixes, *, seeds=None):
        ...         done = [len(p) == 2 for p in prefixes]
        ...         return [llm.Step(r"\\boxed{7}" if d else "step", d) for d in done]
        >>> prm = llm.ProcessRewardModel(lambda prompt, steps: [[0.9] * len(s) for s in steps])
        >>> res = llm.weighted_best_of_n(jax.random.key(0), Toy(), prm, "count", 4)
        >>> res.answer, res.answers  # (N,) canonical answers; the answer with most reward wins
        ('7', ['7', '7', '7', '7'])
    """
    return _run_bon(
        key, lm, reward_model, prompt, budget, "vote", max_steps, answer_fn, "weighted_best_of_n"
    )


# ---------------------------------------------------------------------------------------------
# beam search (search-and-learn): keep N/M best, copy each M times, pool finished solutions


class BeamState(NamedTuple):
    particles: PyTree  # (N,) partial solutions in flight
    rewards: Array  # (N,)
    lengths: Array  # (N,) int32
    pool: PyTree  # (N,) finished solutions, first `pool_count` slots valid
    pool_rewards: Array  # (N,)
    pool_lengths: Array  # (N,) int32
    pool_truncated: Array  # (N,) bool
    pool_count: Array  # () int32
    step: Array  # () int32
    budget: Budget
    invalid_rewards: Array  # () int32
    done: Array  # () bool
    live: Array  # (N,) bool, slots in use (all True unless padded)


def _live(n, num_live):
    return jnp.ones((n,), bool) if num_live is None else jnp.arange(n) < num_live


def _beam_init(backend, prompt, n, num_live=None):
    f = jnp.result_type(float)
    zi = jnp.zeros((), jnp.int32)
    return BeamState(
        backend.init(prompt, n),
        jnp.ones((n,), f),
        jnp.zeros((n,), jnp.int32),
        backend.init(prompt, n),
        jnp.zeros((n,), f),
        jnp.zeros((n,), jnp.int32),
        jnp.zeros((n,), bool),
        zi,
        zi,
        Budget(zi, zi, zi),
        zi,
        jnp.zeros((), bool),
        _live(n, num_live),
    )


def _beam_step(key, st: BeamState, backend, prompt, width: int, max_steps: int):
    particles, out = backend.extend(key, prompt, st.particles, st.live)
    r, bad = backend.score(prompt, particles, st.live)
    new, pool_src, slots = _beam_update(
        st._replace(particles=None, pool=None), out, r, bad, width, max_steps
    )
    pool = backend.take(backend.concat(st.pool, particles), pool_src)
    return new._replace(particles=backend.take(particles, slots), pool=pool)


@functools.partial(jax.jit, static_argnames=("width", "max_steps"))
def _beam_update(st: BeamState, out, r, bad, width: int, max_steps: int):
    """The array part of a beam step: pool the finished, keep the N/M best, copy each M times."""
    n = st.rewards.shape[0]
    live = st.live
    num_live = jnp.sum(live).astype(jnp.int32)
    hit_max = st.step + 1 >= max_steps
    fin = live & (out.finished | hit_max)
    trunc = live & ~out.finished & hit_max
    r = r.astype(st.rewards.dtype)
    lengths = st.lengths + 1
    # Move the newly finished solutions into the pool (first come, first kept).
    pos = st.pool_count + jnp.cumsum(fin) - 1
    target = jnp.where(fin & (pos < num_live), pos, n)
    src = jnp.arange(n).at[target].set(n + jnp.arange(n), mode="drop")
    cat = lambda a, b: jnp.concatenate([a, b])[src]  # noqa: E731
    pool_count = jnp.minimum(st.pool_count + jnp.sum(fin), num_live).astype(jnp.int32)
    # Keep the N/M best unfinished partial solutions, each copied M times.
    keep = num_live // width
    order = jnp.argsort(jnp.where(fin | ~live, jnp.inf, -r), stable=True)
    unfinished = jnp.sum(live & ~fin)
    num_kept = jnp.clip(jnp.minimum(keep, unfinished), 1)
    slots = jnp.where(live, order[jnp.arange(n) % num_kept], jnp.arange(n))
    budget = st.budget + Budget(num_live, jnp.sum(out.num_tokens).astype(jnp.int32), num_live)
    done = (pool_count >= num_live) | (unfinished == 0) | hit_max
    new = BeamState(
        None,
        r[slots],
        lengths[slots],
        None,
        cat(st.pool_rewards, r),
        cat(st.pool_lengths, lengths),
        cat(st.pool_truncated, trunc),
        pool_count,
        st.step + 1,
        budget,
        st.invalid_rewards + bad,
        done,
        live,
    )
    return new, src, slots


def beam_search_backend(key, backend, prompt, n, width, max_steps, select, num_live=None):
    """beam search on an `engine` backend, arguments unchecked (the public function validates)."""
    k_loop, k_sel = jax.random.split(key)

    def cond(carry):
        return ~carry[0].done

    def body(carry):
        st, k = carry
        k, sub = jax.random.split(k)
        return _beam_step(sub, st, backend, prompt, width, max_steps), k

    st0 = _beam_init(backend, prompt, n, num_live)
    st, _ = engine.loop(backend.jax_native, cond, body, (st0, k_loop))
    valid = jnp.arange(n) < st.pool_count
    return _package(
        k_sel,
        backend,
        prompt,
        select,
        st.pool,
        st.pool_rewards,
        valid,
        st.pool_truncated & valid,
        st.pool_lengths,
        st.step,
        st.budget,
        st.invalid_rewards,
    )


def beam_search(
    key: PRNGKey,
    lm: AnyLanguageModel,
    reward_model: AnyRewardModel,
    prompt: Prompt,
    budget: int,
    *,
    beam_width: int = 4,
    select: str = "argmax",
    max_steps: int = 40,
    answer_fn: AnswerFn | None = None,
) -> SearchResult:
    """Beam search with a process reward model (search-and-learn's algorithm).

    Args:
        key: PRNG key.
        lm: a text or JAX-native language model.
        reward_model: a text or JAX-native reward model.
        prompt: the problem.
        budget: N partial solutions extended per step (a multiple of `beam_width`).
        beam_width: M; the N / M best partial solutions are kept and each copied M times.
        select: ``"argmax"`` (highest reward in the pool) or ``"vote"`` (answer with the
            largest reward sum) or ``"sample"`` (∝ reward).
        max_steps: at this step every partial solution is stopped, pooled and flagged.
        answer_fn: text models only: response -> canonical answer.

    Raises:
        ValueError: budget smaller than, or not a multiple of, beam_width.

    Examples:
        >>> class Toy:  # a text LM: two steps, then the answer 7
        ...     def extend(self, prompt, prefixes, *, seeds=None):
        ...         done = [len(p) == 2 for p in prefixes]
        ...         return [llm.Step(r"\\boxed{7}" if d else "step", d) for d in done]
        >>> prm = llm.ProcessRewardModel(lambda prompt, steps: [[0.9] * len(s) for s in steps])
        >>> res = llm.beam_search(jax.random.key(0), Toy(), prm, "count", 4, beam_width=2)
        >>> res.answer, res.rewards.shape, int(res.budget.steps)  # N = 4 candidates, 3 steps
        ('7', (4,), 12)
    """
    return _run_tree_search(
        beam_search_backend,
        "beam_search",
        key,
        lm,
        reward_model,
        prompt,
        budget,
        beam_width,
        select,
        max_steps,
        answer_fn,
    )


# ---------------------------------------------------------------------------------------------
# DVTS: N/M independent greedy subtrees, M children per step each


class DvtsState(NamedTuple):
    particles: PyTree  # (N,) slot j belongs to subtree j // M
    rewards: Array  # (N,)
    lengths: Array  # (N,) int32
    truncated: Array  # (N,) bool
    subtree_done: Array  # (N // M,) bool
    step: Array  # () int32
    budget: Budget
    invalid_rewards: Array  # () int32


def _dvts_step(key, st: DvtsState, backend, prompt, width: int, max_steps: int):
    active = _dvts_active(st.subtree_done, width)
    particles, out = backend.extend(key, prompt, st.particles, active)
    r, bad = backend.score(prompt, particles, active)
    new, src = _dvts_update(st._replace(particles=None), out, r, bad, width, max_steps)
    return new._replace(particles=backend.take(particles, src))


@functools.partial(jax.jit, static_argnames=("width",))
def _dvts_active(subtree_done, width: int):
    return jnp.repeat(~subtree_done, width)


@functools.partial(jax.jit, static_argnames=("width", "max_steps"))
def _dvts_update(st: DvtsState, out, r, bad, width: int, max_steps: int):
    """The array part of a DVTS step: each active subtree keeps its best child."""
    n = st.rewards.shape[0]
    s = n // width
    slot_tree = jnp.arange(n) // width
    active = ~st.subtree_done[slot_tree]
    hit_max = st.step + 1 >= max_steps
    fin = out.finished | hit_max
    r = jnp.where(active, r.astype(st.rewards.dtype), st.rewards)
    best = jnp.arange(s) * width + jnp.argmax(r.reshape(s, width), axis=1)
    src = jnp.where(active, best[slot_tree], jnp.arange(n))
    subtree_done = st.subtree_done | (~st.subtree_done & fin[best])
    lengths = st.lengths + active.astype(jnp.int32)
    truncated = st.truncated | (active & ~out.finished & hit_max)
    budget = st.budget + Budget(
        jnp.sum(active).astype(jnp.int32),
        jnp.sum(out.num_tokens).astype(jnp.int32),
        jnp.sum(active).astype(jnp.int32),
    )
    new = DvtsState(
        None,
        r[src],
        lengths[src],
        truncated[src],
        subtree_done,
        st.step + 1,
        budget,
        st.invalid_rewards + bad,
    )
    return new, src


def dvts_backend(key, backend, prompt, n, width, max_steps, select, num_live=None):
    """DVTS on an `engine` backend, arguments unchecked (the public function validates)."""
    k_loop, k_sel = jax.random.split(key)
    f = jnp.result_type(float)
    zi = jnp.zeros((), jnp.int32)
    live_trees = _live(n, num_live)[::width]  # padded runs: subtrees beyond num_live // width
    st0 = DvtsState(
        backend.init(prompt, n),
        jnp.ones((n,), f),
        jnp.zeros((n,), jnp.int32),
        jnp.zeros((n,), bool),
        ~live_trees,
        zi,
        Budget(zi, zi, zi),
        zi,
    )

    def cond(carry):
        return ~jnp.all(carry[0].subtree_done)

    def body(carry):
        st, k = carry
        k, sub = jax.random.split(k)
        return _dvts_step(sub, st, backend, prompt, width, max_steps), k

    st, _ = engine.loop(backend.jax_native, cond, body, (st0, k_loop))
    leaders = jnp.arange(n // width) * width  # one finished path per subtree
    cands = backend.take(st.particles, leaders)
    return _package(
        k_sel,
        backend,
        prompt,
        select,
        cands,
        st.rewards[leaders],
        live_trees,
        st.truncated[leaders],
        st.lengths[leaders],
        st.step,
        st.budget,
        st.invalid_rewards,
    )


def dvts(
    key: PRNGKey,
    lm: AnyLanguageModel,
    reward_model: AnyRewardModel,
    prompt: Prompt,
    budget: int,
    *,
    beam_width: int = 4,
    select: str = "argmax",
    max_steps: int = 40,
    answer_fn: AnswerFn | None = None,
) -> SearchResult:
    """Diverse verifier tree search: budget / beam_width independent greedy subtrees.

    Arguments as in `beam_search`, except `beam_width`: M children per subtree per step, of
    which the best is kept; `select` chooses among the N / M finished subtree paths.

    Raises:
        ValueError: budget smaller than, or not a multiple of, beam_width.

    Examples:
        >>> class Toy:  # a text LM: two steps, then the answer 7
        ...     def extend(self, prompt, prefixes, *, seeds=None):
        ...         done = [len(p) == 2 for p in prefixes]
        ...         return [llm.Step(r"\\boxed{7}" if d else "step", d) for d in done]
        >>> prm = llm.ProcessRewardModel(lambda prompt, steps: [[0.9] * len(s) for s in steps])
        >>> res = llm.dvts(jax.random.key(0), Toy(), prm, "count", 4, beam_width=2)
        >>> res.answer, res.rewards.shape  # N / M = 2 subtrees, one finished path each
        ('7', (2,))
    """
    return _run_tree_search(
        dvts_backend,
        "dvts",
        key,
        lm,
        reward_model,
        prompt,
        budget,
        beam_width,
        select,
        max_steps,
        answer_fn,
    )
