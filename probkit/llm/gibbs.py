"""Particle Gibbs and parallel tempering over reasoning trajectories (Puri et al. 2025, Alg. 2-3).

Particle Gibbs: the first sweep is a particle filter; each later sweep keeps one *reference*
trajectory (drawn from the previous sweep's final particles ∝ their weights) and runs the filter
with N − 1 free particles plus the reference, which occupies particle 0. At step t the reference
competes with its *prefix* weight (the reward of its first t steps), it is never replaced, and a
free particle resampled from it gets the reference's t-step prefix (truncation on fork) and is
then extended freshly — the corrected rule of its_hub PR #84 (issue #54).

Under ``weighting="twisted"`` the sweep is conditional SMC with conditional resampling from
`probkit.core.resampling`, so each sweep leaves the twisted target p_LM(x) r(x)^(1/tau) / Z
invariant (exactly, for any N >= 2). Under ``"paper"`` the free particles are resampled from all
N with the authors' logit weights at every step, as in their code.

Parallel tempering runs M particle-Gibbs chains at temperatures T_1 > ... > T_M (chain k uses
tau = T_k) and, after every sweep, proposes to swap the references of neighbouring chains with
the replica-exchange acceptance min(1, exp((1/T_k − 1/T_{k+1})(l(x_{k+1}) − l(x_k)))), where
l(x) = log r(x) (twisted) or logit r(x) (paper) of the reference's final reward. The answer is
chosen from the coldest chain.

Budget: N × num_iterations solutions per chain (the reference slot is not regenerated).
"""

import itertools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from probkit.core import validate
from probkit.core.types import Array, PRNGKey, PyTree
from probkit.llm import engine
from probkit.llm import filtering as pf
from probkit.llm.protocols import AnswerFn, AnyLanguageModel, AnyRewardModel, Budget, Prompt
from probkit.llm.weighting import Annealing, logit_reward

__all__ = [
    "ParticleGibbsResult",
    "init",
    "parallel_tempering",
    "particle_gibbs",
    "run_backend",
    "step",
    "tempering_step",
]


class ParticleGibbsResult(NamedTuple):
    """Result of `particle_gibbs` / `parallel_tempering`: the last sweep and the reference chain.

    Attributes:
        answer: canonical answer chosen from the last sweep (coldest chain for tempering).
        index: () int32 index of the chosen particle in the last sweep.
        response: text of the chosen solution (text models).
        answers: (N,) answers of the last sweep's particles.
        particles: last sweep's particles.
        rewards: (N,) final rewards of the last sweep's particles.
        log_weights: (N,) normalised selection log-weights of the last sweep.
        reference: the reference for the next sweep.
        reference_answers: (num_iterations,) answer of the reference after each sweep.
        swap_acceptance: (M - 1,) swap acceptance rates (parallel tempering).
        budget: total over sweeps (and chains).
        invalid_rewards: () int32 reward scores outside [0, 1] or NaN (JAX-native models).
        truncated: (N,) bool, last sweep.
    """

    answer: Any  # canonical answer chosen from the last sweep (coldest chain for tempering)
    index: Array  # () int32 index of the chosen particle in the last sweep
    response: str | None  # text of the chosen solution (text models)
    answers: Any  # (N,) answers of the last sweep's particles
    particles: PyTree  # last sweep's particles
    rewards: Array  # (N,)
    log_weights: Array  # (N,) normalised selection log-weights of the last sweep
    reference: pf.Reference  # the reference for the next sweep
    reference_answers: Any  # (num_iterations,) answer of the reference after each sweep
    swap_acceptance: Array | None  # (M - 1,) swap acceptance rates (parallel tempering)
    budget: Budget  # total over sweeps (and chains)
    invalid_rewards: Array  # () int32
    truncated: Array  # (N,) bool, last sweep


def _recorder(backend, n: int, max_steps: int):
    """on_step callback recording each step's (post-resampling) particles, rewards, ancestors."""

    def record(extra, st, info):
        if info is None:
            if backend.jax_native:
                parts = jax.tree.map(
                    lambda x: jnp.zeros((max_steps, *x.shape), x.dtype), st.particles
                )
                anc = jnp.broadcast_to(jnp.arange(n, dtype=jnp.int32), (max_steps, n))
                return parts, jnp.zeros((max_steps, n), st.rewards.dtype), anc
            return [], [], []
        s = st.step - 1
        parts, rewards, anc = extra
        if backend.jax_native:
            parts = jax.tree.map(lambda h, x: h.at[s].set(x), parts, st.particles)
            return parts, rewards.at[s].set(st.rewards), anc.at[s].set(info.ancestors)
        return [*parts, st.particles], [*rewards, st.rewards], [*anc, info.ancestors]

    return record


def _trace_reference(backend, history, state: pf.FilterState, k) -> pf.Reference:
    """The lineage of final particle k as a `Reference` (its state after each step)."""
    parts, rewards, anc = history
    if backend.jax_native:

        def back(j, xs):
            p_s, r_s, a_s = xs
            return a_s[j], (backend.index(p_s, j), r_s[j])

        _, (ref_parts, ref_rewards) = jax.lax.scan(back, k, (parts, rewards, anc), reverse=True)
    else:
        j, items, rs = int(k), [], []
        for s in reversed(range(len(parts))):
            items.append(backend.index(parts[s], j))
            rs.append(rewards[s][j])
            j = int(anc[s][j])
        items, rs = items[::-1], rs[::-1]
        ref_parts = engine.TextParticles(tuple(i[0] for i in items), tuple(i[1] for i in items))
        ref_rewards = jnp.stack(rs)
    return pf.Reference(ref_parts, ref_rewards, state.lengths[k], state.truncated[k])


def _sweep(key, backend, prompt, n, cfg, reference, temperature=1.0):
    """One (conditional) filter sweep; returns the final state, the next reference, its index.

    `temperature` scales the configured schedule (a tempering chain's temperature; traced).
    """
    k_loop, k_ref = jax.random.split(key)
    state = pf.init_backend(backend, prompt, n, cfg, temperature_scale=temperature)
    state, history = pf.run_loop(
        k_loop, backend, prompt, state, cfg, reference, on_step=_recorder(backend, n, cfg.max_steps)
    )
    lw = pf.selection_log_weights(state, cfg)
    k = jax.random.categorical(k_ref, lw).astype(jnp.int32)
    return state, _trace_reference(backend, history, state, k), k


def init(key: PRNGKey, lm, reward_model, prompt, num_particles: int, config: pf.FilterConfig):
    """First sweep (a plain particle filter): returns (FilterState, Reference)."""
    state, ref, _ = _sweep(
        key, engine.make_backend(lm, reward_model), prompt, num_particles, config, None
    )
    return state, ref


def step(
    key: PRNGKey,
    reference: pf.Reference,
    lm: AnyLanguageModel,
    reward_model: AnyRewardModel,
    prompt: Prompt,
    num_particles: int,
    config: pf.FilterConfig,
):
    """One conditional sweep given `reference`: returns (FilterState, new Reference)."""
    state, ref, _ = _sweep(
        key, engine.make_backend(lm, reward_model), prompt, num_particles, config, reference
    )
    return state, ref


def _answer_of(backend, prompt, state, k):
    """Canonical answer of particle k: an id (JAX-native) or a string / None (text)."""
    ids, labels = backend.answers(prompt, state.particles)
    if backend.jax_native:
        return ids[k]
    a = int(ids[int(k)])
    return labels[a] if a >= 0 else None


def _final_log_potential(ref: pf.Reference, weighting: str) -> Array:
    """l(x) of a reference: log r (twisted) or logit r (paper) of its final reward."""
    r = jnp.take_along_axis(ref.rewards, jnp.clip(ref.length - 1, 0)[..., None], -1)[..., 0]
    if weighting == "paper":
        return logit_reward(r)
    return jnp.where(r > 0, jnp.log(jnp.where(r > 0, r, 1.0)), -jnp.inf)


class _Chains(NamedTuple):
    """Per-chain data: stacked along a leading chain axis (JAX-native) or Python lists (text)."""

    states: Any
    refs: Any
    last: Any  # index of each chain's new reference in its final pool


def _chain(chains, c, backend):
    """Chain c's (state, reference, index)."""
    if backend.jax_native:
        return jax.tree.map(lambda x: x[c], (chains.states, chains.refs, chains.last))
    return chains.states[c], chains.refs[c], chains.last[c]


def _swap(key, backend, refs, weighting, temperatures, parity):
    """Replica-exchange proposals between chains (c, c + 1) for c ≡ parity (mod 2).

    Such pairs are disjoint, so applying them one after the other is one simultaneous move.
    `parity` may be traced. Returns the references and a (M - 1, 2) array of (proposed,
    accepted) per pair.
    """
    m = len(temperatures)
    betas = [1.0 / t for t in temperatures]
    if backend.jax_native:
        ell = _final_log_potential(refs, weighting)
    else:
        refs = list(refs)
    decisions = []
    for c in range(m - 1):
        if not backend.jax_native:
            ell = [_final_log_potential(r, weighting) for r in refs]
        log_alpha = (betas[c] - betas[c + 1]) * (ell[c + 1] - ell[c])
        u = jax.random.uniform(jax.random.fold_in(key, c))
        proposed = jnp.asarray(parity % 2 == c % 2)
        accept = proposed & (jnp.log(u) < log_alpha)
        if backend.jax_native:
            perm = jnp.arange(m).at[c].set(jnp.where(accept, c + 1, c))
            perm = perm.at[c + 1].set(jnp.where(accept, c, c + 1))
            refs = jax.tree.map(lambda x, perm=perm: x[perm], refs)
            ell = ell[perm]
        elif bool(accept):
            refs[c], refs[c + 1] = refs[c + 1], refs[c]
        decisions.append(jnp.stack([proposed, accept]).astype(jnp.float32))
    tally = jnp.stack(decisions) if decisions else jnp.zeros((0, 2), jnp.float32)
    return refs, tally


def _tempering_step(key, backend, prompt, n, cfg, temperatures, references, parity):
    """A sweep per chain (vmapped over chains for JAX-native models), then swaps."""
    k_chains, k_swap = jax.random.split(key)
    m = len(temperatures)
    chain_keys = jax.random.split(k_chains, m)
    if backend.jax_native:
        temps = jnp.asarray(temperatures, jnp.result_type(float))
        if references is None:
            out = jax.vmap(lambda k, t: _sweep(k, backend, prompt, n, cfg, None, t))(
                chain_keys, temps
            )
        else:
            out = jax.vmap(lambda k, r, t: _sweep(k, backend, prompt, n, cfg, r, t))(
                chain_keys, references, temps
            )
        chains = _Chains(*out)
    else:
        refs = references or [None] * m
        out = [
            _sweep(chain_keys[c], backend, prompt, n, cfg, refs[c], temperatures[c])
            for c in range(m)
        ]
        chains = _Chains(*(list(x) for x in zip(*out)))
    refs, tally = _swap(k_swap, backend, chains.refs, cfg.weighting, temperatures, parity)
    return chains._replace(refs=refs), tally


def tempering_step(
    key: PRNGKey,
    references: Any,
    lm: AnyLanguageModel,
    reward_model: AnyRewardModel,
    prompt: Prompt,
    num_particles: int,
    config: pf.FilterConfig,
    temperatures: tuple[float, ...],
    parity: int = 0,
) -> tuple[Any, Any, Array]:
    """One parallel-tempering iteration: a sweep per chain, then reference swaps.

    Args:
        references: the chains' references (a `Reference` stacked along a leading chain axis for
            JAX-native models, a list for text models), or None for the first, unconditional
            sweeps.
        config: the sweeps' `FilterConfig`; chain k multiplies its temperature by
            `temperatures[k]` (hottest first).
        parity: swap pairs (c, c + 1) with c ≡ parity (mod 2); alternate it between iterations.

    Returns:
        (states, references, flags): the per-chain final `FilterState`s, the new references,
        and an (M - 1, 2) array of (proposed, accepted) flags per neighbour pair.
    """
    backend = engine.make_backend(lm, reward_model)
    chains, tally = _tempering_step(
        key, backend, prompt, num_particles, config, tuple(temperatures), references, parity
    )
    return chains.states, chains.refs, tally


def _budget_total(backend, states):
    if backend.jax_native:
        return jax.tree.map(lambda x: jnp.sum(x, axis=0), states.budget)
    total = states[0].budget
    for st in states[1:]:
        total = total + st.budget
    return total


def _chains(key, backend, prompt, n, iterations, cfg, temperatures):
    """M tempered chains of particle Gibbs with reference swaps; chain M-1 is the coldest.

    The first iteration runs unconditional sweeps; the others are one scanned (compiled once)
    or looped body.
    """
    m = len(temperatures)
    k_first, k_rest = jax.random.split(key)

    def coldest(chains):
        state, _, last = _chain(chains, m - 1, backend)
        return state, _answer_of(backend, prompt, state, last)

    chains, tally = _tempering_step(k_first, backend, prompt, n, cfg, temperatures, None, 0)
    state, first_answer = coldest(chains)
    carry = (chains.refs, state, _budget_total(backend, chains.states), tally)

    def body(carry, xs):
        refs, _, budget, tally = carry
        k, it = xs
        chains, new_tally = _tempering_step(k, backend, prompt, n, cfg, temperatures, refs, it)
        state, answer = coldest(chains)
        budget = budget + _budget_total(backend, chains.states)
        return (chains.refs, state, budget, tally + new_tally), answer

    xs = (jax.random.split(k_rest, iterations - 1), jnp.arange(1, iterations))
    if backend.jax_native:
        carry, answers = jax.lax.scan(body, carry, xs)
        ref_answers = jnp.concatenate([first_answer[None], answers])
    else:
        ref_answers = [first_answer]
        for i in range(iterations - 1):
            carry, a = body(carry, (xs[0][i], int(xs[1][i])))
            ref_answers.append(a)
    refs, state, budget, tally = carry
    rate = None if m == 1 else tally[:, 1] / jnp.maximum(tally[:, 0], 1.0)
    ref = jax.tree.map(lambda x: x[-1], refs) if backend.jax_native else refs[-1]
    return state, ref, ref_answers, rate, budget


def _run_chains(key, backend, prompt, n, iterations, cfg, temperatures):
    k_run, k_sel = jax.random.split(key)
    state, ref, ref_answers, rate, budget = _chains(
        k_run, backend, prompt, n, iterations, cfg, temperatures
    )
    res = pf.finalize(k_sel, backend, prompt, state, cfg)
    return ParticleGibbsResult(
        answer=res.answer,
        index=res.index,
        response=res.response,
        answers=res.answers,
        particles=res.particles,
        rewards=res.rewards,
        log_weights=res.log_weights,
        reference=ref,
        reference_answers=ref_answers,
        swap_acceptance=rate,
        budget=budget,
        invalid_rewards=state.invalid_rewards,
        truncated=state.truncated,
    )


def run_backend(key, backend, prompt, n, iterations, cfg):
    """One chain of `iterations` particle-Gibbs sweeps on an `engine` backend, unchecked."""
    return _run_chains(key, backend, prompt, n, iterations, cfg, (1.0,))


@jax.jit(static_argnames=("lm", "reward_model", "n", "iterations", "cfg", "temperatures"))
def _run_chains_jax(key, lm, reward_model, prompt, n, iterations, cfg, temperatures):
    return _run_chains(
        key, engine.JaxBackend(lm, reward_model), prompt, n, iterations, cfg, temperatures
    )


def _validated(key, lm, reward_model, prompt, num_particles, num_iterations, answer_fn, **kw):
    validate.key("key", key)
    backend = engine.make_backend(lm, reward_model, answer_fn)
    engine.check_prompt(backend, prompt)
    n = validate.positive_int("num_particles", num_particles, minimum=2)
    iterations = validate.positive_int("num_iterations", num_iterations)
    cfg = pf.filter_config(**kw)
    if cfg.entropic is not None:
        raise ValueError("entropic resampling is not available in particle Gibbs sweeps")
    return backend, n, iterations, cfg


def _dispatch(key, backend, prompt, n, iterations, cfg, temperatures, what):
    if backend.jax_native:
        res = _run_chains_jax(
            key, backend.lm, backend.reward_model, prompt, n, iterations, cfg, temperatures
        )
    else:
        res = _run_chains(key, backend, prompt, n, iterations, cfg, temperatures)
    pf.report(res, what=what)
    return res


def particle_gibbs(
    key: PRNGKey,
    lm: AnyLanguageModel,
    reward_model: AnyRewardModel,
    prompt: Prompt,
    num_particles: int,
    num_iterations: int,
    *,
    weighting: str = "paper",
    select: str = "argmax",
    temperature: float | tuple | Annealing = 1.0,
    resampling: str | None = None,
    max_steps: int = 40,
    answer_fn: AnswerFn | None = None,
) -> ParticleGibbsResult:
    """Particle Gibbs: `num_iterations` filter sweeps of `num_particles`, one retained reference.

    Args:
        key: PRNG key.
        lm: a text or JAX-native language model (see `probkit.llm.protocols`).
        reward_model: a text or JAX-native reward model.
        prompt: the problem.
        num_particles: N >= 2 per sweep (N − 1 free particles plus the reference).
        num_iterations: sweeps; the budget is N × num_iterations.
        weighting: ``"paper"`` (authors' weights, resampling every step) or ``"twisted"``
            (conditional SMC; each sweep leaves the twisted target invariant).
        select: how the answer is chosen from the last sweep (``"argmax"``, ``"vote"``,
            ``"sample"``).
        temperature: softmax temperature / twist exponent (float, (start, end, steps), or
            `Annealing`).
        resampling: scheme name (default multinomial for "paper", systematic for "twisted").
        max_steps: step cap per sweep.
        answer_fn: text models only.

    Returns:
        `ParticleGibbsResult`.

    Examples:
        >>> class Toy:  # a text LM: two steps, then the answer 7
        ...     def extend(self, prompt, prefixes, *, seeds=None):
        ...         done = [len(p) == 2 for p in prefixes]
        ...         return [llm.Step(r"\\boxed{7}" if d else "step", d) for d in done]
        >>> prm = llm.ProcessRewardModel(lambda prompt, steps: [[0.9] * len(s) for s in steps])
        >>> res = llm.particle_gibbs(jax.random.key(0), Toy(), prm, "count", 4, 2)  # 2 sweeps
        >>> res.answer, res.rewards.shape, len(res.reference_answers)
        ('7', (4,), 2)
    """
    backend, n, iterations, cfg = _validated(
        key,
        lm,
        reward_model,
        prompt,
        num_particles,
        num_iterations,
        answer_fn,
        weighting=weighting,
        select=select,
        temperature=temperature,
        resampling=resampling,
        max_steps=max_steps,
    )
    return _dispatch(key, backend, prompt, n, iterations, cfg, (1.0,), "particle_gibbs")


def parallel_tempering(
    key: PRNGKey,
    lm: AnyLanguageModel,
    reward_model: AnyRewardModel,
    prompt: Prompt,
    num_particles: int,
    num_iterations: int,
    temperatures: tuple[float, ...] = (4.0, 2.0, 1.0),
    *,
    weighting: str = "paper",
    select: str = "argmax",
    resampling: str | None = None,
    max_steps: int = 40,
    answer_fn: AnswerFn | None = None,
) -> ParticleGibbsResult:
    """Parallel tempering: particle-Gibbs chains at `temperatures` with reference swaps.

    Args:
        key: PRNG key.
        lm: a text or JAX-native language model.
        reward_model: a text or JAX-native reward model.
        prompt: the problem.
        num_particles: N >= 2 per sweep and chain.
        num_iterations: sweeps per chain; the budget is M × N × num_iterations.
        weighting: ``"paper"`` or ``"twisted"`` (as in `particle_gibbs`).
        select: how the answer is chosen from the coldest chain's last sweep.
        resampling: scheme name (default multinomial for "paper", systematic for "twisted").
        max_steps: step cap per sweep.
        answer_fn: text models only.
        temperatures: T_1 > T_2 > ... > T_M > 0; chain k resamples with tau = T_k. The answer
            is chosen from the last (coldest) chain. For JAX-native models the chains run
            batched (`vmap`), so their number does not change what is compiled.

    Returns:
        `ParticleGibbsResult` of the coldest chain, with `swap_acceptance` per neighbour pair.

    Examples:
        >>> class Toy:  # a text LM: two steps, then the answer 7
        ...     def extend(self, prompt, prefixes, *, seeds=None):
        ...         done = [len(p) == 2 for p in prefixes]
        ...         return [llm.Step(r"\\boxed{7}" if d else "step", d) for d in done]
        >>> prm = llm.ProcessRewardModel(lambda prompt, steps: [[0.9] * len(s) for s in steps])
        >>> res = llm.parallel_tempering(jax.random.key(0), Toy(), prm, "count", 4, 2)
        >>> res.answer, res.swap_acceptance.shape  # 3 temperatures: 2 neighbour pairs
        ('7', (2,))
    """
    temps = tuple(validate.positive_float("temperatures", float(t)) for t in temperatures)
    if not temps:
        raise ValueError("temperatures must contain at least one temperature")
    if any(a <= b for a, b in itertools.pairwise(temps)):
        raise ValueError(f"temperatures must be strictly decreasing, got {temps}")
    backend, n, iterations, cfg = _validated(
        key,
        lm,
        reward_model,
        prompt,
        num_particles,
        num_iterations,
        answer_fn,
        weighting=weighting,
        select=select,
        resampling=resampling,
        max_steps=max_steps,
    )
    return _dispatch(key, backend, prompt, n, iterations, cfg, temps, "parallel_tempering")


particle_gibbs.init = init
particle_gibbs.step = step
parallel_tempering.step = tempering_step
