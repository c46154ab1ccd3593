"""Particle filtering for inference-time scaling (Puri et al. 2025, arXiv 2502.01618).

Reasoning steps are the latent states of a state-space model whose transition is the language
model and whose likelihood is a process reward model. N partial solutions (particles) are
extended one step at a time by one batched LM call, scored by one batched reward call,
reweighted, and resampled; finished particles stay in the pool and are never extended. At the
end one particle is chosen (argmax reward, weighted vote, or a weighted draw).

Two weight rules (see `probkit.llm.weighting`): ``"paper"`` reproduces the authors' code
(weights recomputed as logit(reward) at every step, resampling at every step, including after
the last one, with probabilities softmax(logit(r)/tau)); ``"twisted"`` is properly weighted SMC
(incremental weights phi_t/phi_{t-1} with phi = r^(1/tau), ESS-triggered resampling, an
unbiased evidence estimate, and a final particle system targeting p_LM(x) r(x)^(1/tau)).

Cost per step: one LM call extending the active particles and one reward call scoring them;
O(N) weight arithmetic. The budget is N full solutions.

`init` and `step` are public (`particle_filter.init`, `particle_filter.step`), so the filter can
be driven by hand; `step` also takes a `Reference` for conditional SMC (particle Gibbs).
"""

import dataclasses
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from probkit.core import resampling as resampling_mod
from probkit.core import sharding as sharding_mod
from probkit.core import validate, weights
from probkit.core.particles import resample_when, reweight
from probkit.core.types import Array, PRNGKey, PyTree
from probkit.llm import engine, selection
from probkit.llm.protocols import AnswerFn, AnyLanguageModel, AnyRewardModel, Budget, Prompt
from probkit.llm.weighting import (
    Annealing,
    Entropic,
    logit_reward,
    tempered_resample,
    twisted_log_potential,
)

__all__ = [
    "WEIGHTINGS",
    "FilterConfig",
    "FilterState",
    "FilterResult",
    "Reference",
    "StepInfo",
    "filter_config",
    "init",
    "init_backend",
    "particle_filter",
    "run_backend",
    "step",
]

WEIGHTINGS = ("paper", "twisted")
"""Weight rules of the LLM particle filter."""
_CONSTANT_ONE = Annealing()  # tau = 1 at every step


@dataclasses.dataclass(frozen=True)
class FilterConfig:
    """Static settings of a filter run (hashable: one compiled function per configuration).

    Build it with `filter_config`, which validates every field.

    Attributes:
        weighting: "paper" (weights are the current rewards) or "twisted" (incremental potential
            ratios).
        resampling: the resampling scheme.
        ess_threshold: resample when ESS < ess_threshold·N (twisted weighting).
        temperature: the resampling temperature schedule (`Annealing`).
        entropic: entropic resampling settings, or None.
        max_steps: the step budget of every particle.
        select: the final-answer selection rule (see `llm.selection`).
        resample: False: independent trajectories (best-of-N).
        score_all: False: score only particles that just finished (best-of-N).
    """

    weighting: str = "paper"
    resampling: resampling_mod.Resampler = resampling_mod.multinomial
    ess_threshold: float = 0.5
    temperature: Annealing = _CONSTANT_ONE
    entropic: Entropic | None = None
    max_steps: int = 40
    select: str = "argmax"
    resample: bool = True  # False: independent trajectories (best-of-N)
    score_all: bool = True  # False: score only particles that just finished (best-of-N)


def filter_config(
    *,
    weighting: str = "paper",
    select: str = "argmax",
    temperature=1.0,
    resampling: str | resampling_mod.Resampler | None = None,
    ess_threshold: float = 0.5,
    entropic: bool | Entropic = False,
    max_steps: int = 40,
) -> FilterConfig:
    """Validated `FilterConfig`; `resampling=None` picks multinomial (paper) or systematic.

    Examples:
        >>> cfg = llm.filter_config(weighting="twisted", ess_threshold=1.0)
        >>> cfg.resampling.name, cfg.ess_threshold  # systematic is the default for "twisted"
        ('systematic', 1.0)
    """
    validate.one_of("weighting", weighting, WEIGHTINGS)
    selection.check(select)
    if resampling is None:
        resampling = "multinomial" if weighting == "paper" else "systematic"
    scheme = resampling_mod.get(resampling)
    ess_threshold = validate.probability("ess_threshold", ess_threshold)
    if entropic is True:
        entropic = Entropic()
    elif entropic is False or entropic is None:
        entropic = None
    elif not isinstance(entropic, Entropic):
        raise TypeError(f"entropic must be a bool or a probkit.llm.Entropic, got {entropic!r}")
    return FilterConfig(
        weighting=weighting,
        resampling=scheme,
        ess_threshold=ess_threshold,
        temperature=Annealing.from_arg(temperature),
        entropic=entropic,
        max_steps=validate.positive_int("max_steps", max_steps),
        select=select,
    )


class FilterState(NamedTuple):
    """State of the LLM particle filter between steps (`particle_filter.init` / `.step`).

    Attributes:
        particles: N partial solutions (pytree with leading N, or TextParticles).
        log_weights: (N,) normalised log-weights of the current pool.
        log_potentials: (N,) twisted: log phi of each prefix; paper: logit(reward).
        rewards: (N,) aggregated reward of each particle's prefix.
        finished: (N,) bool, never extended again.
        truncated: (N,) bool, stopped by max_steps without finishing.
        lengths: (N,) int32 steps in each particle.
        log_evidence: () running log Z estimate (twisted; 0 under "paper").
        step: () int32 steps taken.
        budget: compute spent so far.
        invalid_rewards: () int32 reward scores outside [0, 1] or NaN (JAX-native models).
        failed: () bool, every weight was zero at some step (twisted).
        failed_at: () int32 the first such step, -1 if none.
        ess: (max_steps,) ESS of the resampling weights at each step.
        resampled: (max_steps,) bool, whether step t resampled.
        temperatures: (max_steps,) resampling temperature used at each step.
        live: (N,) bool, slots in use (all True unless the run is padded, see `init_backend`).
        temperature_scale: () multiplies the schedule (a tempering chain's temperature).
    """

    particles: PyTree  # N partial solutions (pytree with leading N, or TextParticles)
    log_weights: Array  # (N,) normalised log-weights of the current pool
    log_potentials: Array  # (N,) twisted: log phi of each prefix; paper: logit(reward)
    rewards: Array  # (N,) aggregated reward of each particle's prefix
    finished: Array  # (N,) bool, never extended again
    truncated: Array  # (N,) bool, stopped by max_steps without finishing
    lengths: Array  # (N,) int32 steps in each particle
    log_evidence: Array  # () running log Z estimate (twisted; 0 under "paper")
    step: Array  # () int32 steps taken
    budget: Budget  # compute spent so far
    invalid_rewards: Array  # () int32 reward scores outside [0, 1] or NaN (JAX-native models)
    failed: Array  # () bool, every weight was zero at some step (twisted)
    failed_at: Array  # () int32 the first such step, -1 if none
    ess: Array  # (max_steps,) ESS of the resampling weights at each step
    resampled: Array  # (max_steps,) bool
    temperatures: Array  # (max_steps,) resampling temperature used at each step
    live: Array  # (N,) bool, slots in use (all True unless the run is padded, see `init_backend`)
    temperature_scale: Array  # () multiplies the schedule (a tempering chain's temperature)


class StepInfo(NamedTuple):
    """What one step of the LLM particle filter did.

    Attributes:
        ancestors: (N,) int32 (identity when not resampled).
        resampling_log_probs: (N,) log-probabilities the ancestors were drawn from.
        ess: () ESS of the resampling weights.
        resampled: () bool, this step resampled.
        temperature: () resampling temperature (tau_t times the entropic factor).
    """

    ancestors: Array  # (N,) int32 (identity when not resampled)
    resampling_log_probs: Array  # (N,) log-probabilities the ancestors were drawn from
    ess: Array  # ()
    resampled: Array  # () bool
    temperature: Array  # () resampling temperature (tau_t times the entropic factor)


class Reference(NamedTuple):
    """A retained trajectory for conditional SMC (particle Gibbs): its state after each step.

    Attributes:
        particles: the reference's prefix after each step t = 1..max_steps (a pytree with
            leading axis max_steps, or a `TextParticles` with one entry per step).
        rewards: (max_steps,) the reward of each of its prefixes.
        length: () int32, its number of steps.
        truncated: () bool, it was stopped by max_steps.
    """

    particles: PyTree
    rewards: Array
    length: Array
    truncated: Array


class FilterResult(NamedTuple):
    """Result of `llm.particle_filter`: the chosen answer, the final particle pool and diagnostics.

    Attributes:
        answer: canonical answer chosen: () int32 (JAX-native; -1 none) or str | None.
        index: () int32 index of the chosen particle.
        response: the chosen solution's text (text models), None for JAX-native.
        answers: (N,) int32 answer ids, or list[str | None] (text models).
        particles: final particles.
        rewards: (N,) final rewards.
        log_weights: (N,) normalised log-weights used by the selection rule.
        finished: (N,) bool, the solution is complete.
        truncated: (N,) bool, hit max_steps before finishing.
        lengths: (N,) int32 steps in each particle.
        log_evidence: () log Z estimate ("twisted"); None under "paper".
        ess: (max_steps,) ESS at each step (0 after the last step).
        resampled: (max_steps,) bool, whether step t resampled.
        temperatures: (max_steps,) resampling temperature used at each step.
        num_steps: () int32 steps taken.
        budget: LM steps, tokens, scored prefixes.
        invalid_rewards: () int32 (always 0 for text models, which raise instead).
        failed: () bool, every weight became zero at some step.
        failed_at: () int32 the first such step, -1 if none.
    """

    answer: Any  # canonical answer chosen: () int32 (JAX-native; -1 none) or str | None
    index: Array  # () int32 index of the chosen particle
    response: str | None  # the chosen solution's text (text models), None for JAX-native
    answers: Any  # (N,) int32 answer ids, or list[str | None] (text models)
    particles: PyTree  # final particles
    rewards: Array  # (N,) final rewards
    log_weights: Array  # (N,) normalised log-weights used by the selection rule
    finished: Array  # (N,) bool
    truncated: Array  # (N,) bool, hit max_steps before finishing
    lengths: Array  # (N,) int32
    log_evidence: Array | None  # () log Z estimate ("twisted"); None under "paper"
    ess: Array  # (max_steps,) ESS at each step (0 after the last step)
    resampled: Array  # (max_steps,) bool
    temperatures: Array  # (max_steps,)
    num_steps: Array  # () int32 steps taken
    budget: Budget  # LM steps, tokens, scored prefixes
    invalid_rewards: Array  # () int32 (always 0 for text models, which raise instead)
    failed: Array  # () bool, every weight became zero at some step
    failed_at: Array  # () int32 the first such step, -1 if none


def _float():
    return jnp.result_type(float)


def init(lm, reward_model, prompt, num_particles: int, config: FilterConfig) -> FilterState:
    """N empty partial solutions with reward 1 (nothing wrong yet) and uniform weights."""
    return init_backend(engine.make_backend(lm, reward_model), prompt, num_particles, config)


def init_backend(
    backend, prompt, n: int, config: FilterConfig, num_live=None, temperature_scale=1.0
) -> FilterState:
    """Initial state; with `num_live`, only the first `num_live` of `n` slots are used.

    Padding lets one compiled function serve every budget <= n (the benchmark uses it). It is
    exact for multinomial resampling, whose first `num_live` draws are i.i.d. like an
    unpadded run's; other schemes are refused.
    """
    f = _float()
    zero_i = jnp.zeros((), jnp.int32)
    if num_live is None:
        live = jnp.ones((n,), bool)
        size = jnp.asarray(n, f)
    else:
        if config.resampling.name != "multinomial":
            raise ValueError("padded runs (num_live) need multinomial resampling")
        live = jnp.arange(n) < num_live
        size = jnp.asarray(num_live, f)
    return FilterState(
        particles=backend.init(prompt, n),
        log_weights=jnp.where(live, -jnp.log(size), -jnp.inf).astype(f),
        log_potentials=jnp.zeros((n,), f),
        rewards=jnp.ones((n,), f),
        finished=~live,
        truncated=jnp.zeros((n,), bool),
        lengths=jnp.zeros((n,), jnp.int32),
        log_evidence=jnp.zeros((), f),
        step=zero_i,
        budget=Budget(zero_i, zero_i, zero_i),
        invalid_rewards=zero_i,
        failed=jnp.zeros((), bool),
        failed_at=jnp.full((), -1, jnp.int32),
        ess=jnp.zeros((config.max_steps,), f),
        resampled=jnp.zeros((config.max_steps,), bool),
        temperatures=jnp.zeros((config.max_steps,), f),
        live=live,
        temperature_scale=jnp.asarray(temperature_scale, f),
    )


def step(
    key: PRNGKey,
    state: FilterState,
    lm,
    reward_model,
    prompt,
    config: FilterConfig,
    reference: Reference | None = None,
) -> tuple[FilterState, StepInfo]:
    """One filter step: extend the active particles, score them, reweight, resample.

    With a `reference`, particle 0 follows the reference trajectory instead of being extended
    (conditional SMC): it competes with its prefix reward at this step, and the resampling keeps
    it at index 0 (its clones are its prefix at this step, i.e. truncated on fork).
    """
    return _step(key, state, engine.make_backend(lm, reward_model), prompt, config, reference)


def _step(key, state: FilterState, backend, prompt, cfg: FilterConfig, reference=None):
    k_ext, k_res = jax.random.split(key)
    active = ~state.finished
    extend = active if reference is None else active.at[0].set(False)
    particles, out = backend.extend(k_ext, prompt, state.particles, extend)
    hit_max = state.step + 1 >= cfg.max_steps
    score_mask = extend if cfg.score_all else extend & (out.finished | hit_max)
    r_new, bad = backend.score(prompt, particles, score_mask)
    ref = None
    if reference is not None:
        j = jnp.clip(jnp.minimum(state.step, reference.length - 1), 0, cfg.max_steps - 1)
        particles = backend.put(particles, 0, backend.index(reference.particles, j))
        ref = (reference.rewards, reference.length, reference.truncated)
    # The weight arithmetic is one compiled function (inlined when the caller is compiled), so
    # eager use -- text models on the host, or `step` called by hand -- does not dispatch it op
    # by op.
    new_state, info = _update_jit(
        k_res, state._replace(particles=None), extend, out, r_new, bad, _update_key(cfg), ref
    )
    return new_state._replace(particles=backend.take(particles, info.ancestors)), info


def _update(k_res, state: FilterState, extend, out, r_new, bad, cfg: FilterConfig, ref):
    """Everything in a step after the model calls: rewards, weights, resampling, bookkeeping."""
    n = state.rewards.shape[0]
    s = state.step
    hit_max = s + 1 >= cfg.max_steps
    newly = extend & (out.finished | hit_max)
    truncated = state.truncated | (extend & ~out.finished & hit_max)
    finished = state.finished | newly
    lengths = state.lengths + extend.astype(jnp.int32)
    score_mask = extend if cfg.score_all else newly
    rewards = jnp.where(score_mask, r_new.astype(state.rewards.dtype), state.rewards)
    reference = ref is not None
    if reference:
        ref_rewards, ref_length, ref_truncated = ref
        j = jnp.clip(jnp.minimum(s, ref_length - 1), 0, cfg.max_steps - 1)
        rewards = rewards.at[0].set(ref_rewards[j])
        ref_done = s + 1 >= ref_length
        finished = finished.at[0].set(ref_done)
        truncated = truncated.at[0].set(ref_done & ref_truncated)
        lengths = lengths.at[0].set(jnp.minimum(s + 1, ref_length))
    budget = state.budget + Budget(
        jnp.sum(extend).astype(jnp.int32),
        jnp.sum(out.num_tokens).astype(jnp.int32),
        jnp.sum(score_mask).astype(jnp.int32),
    )
    tau = (cfg.temperature(s) * state.temperature_scale).astype(rewards.dtype)
    progress = (s + 1) / cfg.max_steps
    identity = jnp.arange(n, dtype=jnp.int32)
    live = state.live
    num_live = jnp.sum(live)

    if cfg.weighting == "paper":
        base = jnp.where(live, logit_reward(rewards) / tau, -jnp.inf)
        t_ent = (
            jnp.ones((), base.dtype)
            if cfg.entropic is None
            else cfg.entropic.temperature(base, progress)
        )
        log_probs = weights.log_normalize(base / t_ent)
        ess = weights.ess(base)
        if reference:
            free = cfg.resampling.resample(k_res, log_probs, n - 1)
            ancestors = jnp.concatenate([jnp.zeros((1,), jnp.int32), free.astype(jnp.int32)])
        elif cfg.resample:
            ancestors = cfg.resampling.resample(k_res, log_probs, n).astype(jnp.int32)
        else:
            ancestors = identity
        do_resample = jnp.asarray(cfg.resample or reference)
        log_potentials = logit_reward(rewards)
        new_lw = weights.log_normalize(jnp.take(base, ancestors))
        log_evidence = state.log_evidence
        degenerate = jnp.zeros((), bool)
        temperature = tau * t_ent
    else:
        log_phi = twisted_log_potential(rewards, tau)
        prev_dead = jnp.isneginf(state.log_weights) | jnp.isneginf(state.log_potentials)
        lw = jnp.where(prev_dead, -jnp.inf, state.log_weights + log_phi - state.log_potentials)
        rw = reweight(state.log_weights, lw)
        log_evidence = state.log_evidence + rw.log_evidence_increment
        degenerate = rw.degenerate
        ess = rw.ess
        log_probs = rw.log_weights
        all_done = jnp.all(finished)
        if reference:
            do_resample = ~all_done
            res_anc = cfg.resampling.conditional(k_res, log_probs, jnp.zeros((), jnp.int32))
            res_lw = jnp.full_like(log_probs, -jnp.log(n))
            t_ent = jnp.ones((), log_probs.dtype)
        elif cfg.entropic is None:
            # the state-space filter's step: resample when ESS < threshold x (live particles)
            t_ent = jnp.ones((), log_probs.dtype)
            res_anc, res_lw, do_resample = resample_when(
                k_res, log_probs, cfg.resampling, cfg.ess_threshold,
                ess=ess, live=live, enabled=~all_done if cfg.resample else False,
            )  # fmt: skip
            log_probs = weights.log_normalize(log_probs)
        else:
            do_resample = (
                jnp.asarray(cfg.resample) & ~all_done & (ess < cfg.ess_threshold * num_live)
            )
            t_ent = cfg.entropic.temperature(log_probs, progress)
            res_anc, res_lw, res_log_total = tempered_resample(
                k_res, cfg.resampling, log_probs, t_ent
            )
            log_evidence = log_evidence + jnp.where(do_resample, res_log_total, 0.0)
            log_probs = weights.log_normalize(log_probs / t_ent)
        ancestors = jnp.where(do_resample, res_anc.astype(jnp.int32), identity)
        new_lw = jnp.where(do_resample, res_lw, rw.log_weights)
        log_potentials = log_phi
        temperature = tau * t_ent

    ancestors = jnp.where(live, ancestors, identity)  # padded slots stay where they are
    take = lambda x: jnp.take(x, ancestors, axis=0)  # noqa: E731
    new_state = FilterState(
        particles=None,
        log_weights=new_lw,
        log_potentials=take(log_potentials),
        rewards=take(rewards),
        finished=take(finished),
        truncated=take(truncated),
        lengths=take(lengths),
        log_evidence=log_evidence,
        step=s + 1,
        budget=budget,
        invalid_rewards=state.invalid_rewards + bad,
        failed=state.failed | degenerate,
        failed_at=jnp.where(degenerate & (state.failed_at < 0), s, state.failed_at).astype(
            jnp.int32
        ),
        ess=state.ess.at[s].set(ess.astype(state.ess.dtype), mode="drop"),
        resampled=state.resampled.at[s].set(do_resample, mode="drop"),
        temperatures=state.temperatures.at[s].set(temperature.astype(state.ess.dtype), mode="drop"),
        live=live,
        temperature_scale=state.temperature_scale,
    )
    return new_state, StepInfo(ancestors, log_probs, ess, do_resample, temperature)


_update_jit = jax.jit(_update, static_argnames=("cfg",))


def _update_key(cfg: FilterConfig) -> FilterConfig:
    """`cfg` without the fields `_update` does not read (fewer distinct compilations)."""
    return dataclasses.replace(cfg, select="argmax")


def _check_sharding(sharding, num_particles: int, jax_native: bool):
    """`sharding` resolved by `core.sharding.resolve` (None, a Mesh or a NamedSharding)."""
    sharding = sharding_mod.resolve(sharding)
    if sharding is None:
        return None
    if not jax_native:
        raise ValueError("sharding needs JAX-native models (text models run on the host)")
    devices = sharding_mod.num_shards(sharding)
    if num_particles % devices:
        raise ValueError(
            f"num_particles must be a multiple of the {devices} devices of sharding, "
            f"got {num_particles}"
        )
    return sharding


def shard_state(state: FilterState, sharding) -> FilterState:
    """Inside `jit`: pin the particle axis of every per-particle field to `sharding` (or not)."""
    if sharding is None:
        return state
    per_particle = ("particles", "log_weights", "log_potentials", "rewards", "finished")
    per_particle += ("truncated", "lengths", "live")
    pinned = {f: sharding_mod.constrain(getattr(state, f), sharding) for f in per_particle}
    return state._replace(**pinned)


def run_loop(
    key,
    backend,
    prompt,
    state: FilterState,
    cfg: FilterConfig,
    reference=None,
    on_step=None,
    sharding=None,
):
    """Step until every particle is finished (or max_steps); `on_step(state, info)` may record.

    With `sharding` (JAX-native backends) the particle axis stays split over its devices.
    """

    def cond(carry):
        st = carry[0]
        return (st.step < cfg.max_steps) & ~jnp.all(st.finished)

    def body(carry):
        st, k, extra = carry
        k, sub = jax.random.split(k)
        st, info = _step(sub, st, backend, prompt, cfg, reference)
        st = shard_state(st, sharding)
        if on_step is not None:
            extra = on_step(extra, st, info)
        return st, k, extra

    extra0 = None if on_step is None else on_step(None, state, None)
    state, _, extra = engine.loop(backend.jax_native, cond, body, (state, key, extra0))
    return state, extra


def selection_log_weights(state: FilterState, cfg: FilterConfig) -> Array:
    """Normalised weights of the final pool used by "vote" and "sample"."""
    if cfg.weighting == "paper":
        tau = cfg.temperature(jnp.maximum(state.step - 1, 0)) * state.temperature_scale
        tau = tau.astype(state.rewards.dtype)
        base = jnp.where(state.live, logit_reward(state.rewards) / tau, -jnp.inf)
        return weights.log_normalize(base)
    return state.log_weights


def finalize(
    key, backend, prompt, state: FilterState, cfg: FilterConfig, log_weights=None, vote_weights=None
) -> FilterResult:
    """Choose the answer and package the result."""
    ids, labels = backend.answers(prompt, state.particles)
    lw = selection_log_weights(state, cfg) if log_weights is None else log_weights
    rewards = jnp.where(state.live, state.rewards, -jnp.inf)
    index = selection.select(key, cfg.select, ids, rewards, lw, vote_weights)
    if backend.jax_native:
        answer, response, answers = ids[index], None, ids
    else:
        i = int(index)
        answers = [labels[a] if a >= 0 else None for a in map(int, ids)]
        answer, response = answers[i], backend.texts(state.particles)[i]
    return FilterResult(
        answer=answer,
        index=index,
        response=response,
        answers=answers,
        particles=state.particles,
        rewards=rewards,
        log_weights=lw,
        finished=state.finished,
        truncated=state.truncated,
        lengths=state.lengths,
        log_evidence=state.log_evidence if cfg.weighting == "twisted" else None,
        ess=state.ess,
        resampled=state.resampled,
        temperatures=state.temperatures,
        num_steps=state.step,
        budget=state.budget,
        invalid_rewards=state.invalid_rewards,
        failed=state.failed,
        failed_at=state.failed_at,
    )


def run_backend(
    key,
    backend,
    prompt,
    num_particles: int,
    cfg: FilterConfig,
    num_live=None,
    temperature_scale=1.0,
    sharding=None,
) -> FilterResult:
    """The filter on an `engine` backend, unchecked (callers validate once): `init_backend`,
    `run_loop`, `finalize`. Used by the searches, particle Gibbs and the testbed harness."""
    k_loop, k_sel = jax.random.split(key)
    state = init_backend(backend, prompt, num_particles, cfg, num_live, temperature_scale)
    state = shard_state(state, sharding)
    state, _ = run_loop(k_loop, backend, prompt, state, cfg, sharding=sharding)
    return finalize(k_sel, backend, prompt, state, cfg)


@jax.jit(static_argnames=("lm", "reward_model", "num_particles", "cfg", "sharding"))
def _run_jax(key, lm, reward_model, prompt, num_particles, cfg, sharding=None):
    backend = engine.JaxBackend(lm, reward_model)
    return run_backend(key, backend, prompt, num_particles, cfg, sharding=sharding)


def run(key, backend, prompt, num_particles: int, cfg: FilterConfig, sharding=None) -> FilterResult:
    """Run a configured filter on a backend (compiled for JAX-native models)."""
    if backend.jax_native:
        return _run_jax(key, backend.lm, backend.reward_model, prompt, num_particles, cfg, sharding)
    return run_backend(key, backend, prompt, num_particles, cfg)


def report(result, *, what: str) -> None:
    """Host-side checks on a finished run: invalid rewards raise, truncation warns.

    Skipped under tracing (e.g. inside the user's `vmap`), where the fields are left to read.
    """
    invalid = result.invalid_rewards
    if not validate.is_concrete(invalid):
        return
    if int(jnp.sum(invalid)) > 0:
        raise ValueError(
            f"{what}: the reward model returned {int(jnp.sum(invalid))} score(s) outside [0, 1] "
            "or NaN; reward scores must be numbers in [0, 1]"
        )
    truncated = jnp.asarray(result.truncated)
    if validate.is_concrete(truncated) and bool(jnp.any(truncated)):
        warnings.warn(
            f"{what}: {int(jnp.sum(truncated))} of {truncated.size} solutions reached max_steps "
            "without finishing; they were stopped and kept (result.truncated marks them)",
            RuntimeWarning,
            stacklevel=3,
        )


def particle_filter(
    key: PRNGKey,
    lm: AnyLanguageModel,
    reward_model: AnyRewardModel,
    prompt: Prompt,
    num_particles: int,
    *,
    weighting: str = "paper",
    select: str = "argmax",
    temperature: float | tuple | Annealing = 1.0,
    resampling: str | resampling_mod.Resampler | None = None,
    ess_threshold: float = 0.5,
    entropic: bool | Entropic = False,
    max_steps: int = 40,
    answer_fn: AnswerFn | None = None,
    sharding: "jax.sharding.NamedSharding | jax.sharding.Mesh | None" = None,
) -> FilterResult:
    """Particle filtering over reasoning steps with a reward model as likelihood.

    Args:
        key: PRNG key (resampling, selection, and the seeds passed to text models).
        lm: a `LanguageModel` (text) or `JaxLanguageModel`.
        reward_model: a `RewardModel` (text) or `JaxRewardModel`; scores must lie in [0, 1].
        prompt: the problem: a non-empty string, or a pytree of arrays for JAX-native models.
        num_particles: N >= 1 (the budget, in full solutions).
        weighting: ``"paper"`` (the authors' rule, faithful) or ``"twisted"`` (properly
            weighted SMC with an evidence estimate). See `probkit.llm.weighting`.
        select: ``"argmax"`` (highest final reward), ``"vote"`` (weighted majority over
            canonical answers) or ``"sample"`` (a draw ∝ final weights).
        temperature: softmax temperature tau (paper) / twist exponent 1/tau (twisted): a float,
            a ``(start, end, steps)`` linear annealing, or an `Annealing`.
        resampling: a `probkit.core.resampling` scheme name; default multinomial for "paper"
            (as the authors) and systematic for "twisted".
        ess_threshold: "twisted" resamples when ESS < ess_threshold·N, at every step when 1,
            never when 0 (the rule of `smc.particle_filter`, `core.particles.resample_when`);
            "paper" resamples at every step, as the authors do.
        entropic: raise the resampling temperature when diversity collapses early
            (`True` for the default `Entropic()` schedule, or an `Entropic`).
        max_steps: particles still unfinished after this many steps are stopped, kept, and
            flagged in `result.truncated` (a `RuntimeWarning` says how many).
        answer_fn: text models only: response text -> canonical answer (default: last
            ``\\boxed{}``).
        sharding: JAX-native models only: a `NamedSharding` of the particle axis
            (`probkit.core.sharding.batch_sharding`) or a `Mesh`; num_particles must be a
            multiple of its device count. The same key gives the same particles in float64;
            in float32 the same distribution (as `smc.particle_filter`, see docs/guide/scaling.md).

    Returns:
        `FilterResult` (`.answer`, `.response`, `.log_evidence`, `.budget`, ...).

    Raises:
        ValueError: empty prompt, a reward outside [0, 1] or NaN, bad settings.

    Examples:
        >>> class Toy:  # a text LM: two steps, then the answer 7
        ...     def extend(self, prompt, prefixes, *, seeds=None):
        ...         done = [len(p) == 2 for p in prefixes]
        ...         return [llm.Step(r"\\boxed{7}" if d else "step", d) for d in done]
        >>> prm = llm.ProcessRewardModel(lambda prompt, steps: [[0.9] * len(s) for s in steps])
        >>> res = llm.particle_filter(jax.random.key(0), Toy(), prm, "count", 4)  # N = 4
        >>> res.answer, res.rewards.shape, res.log_weights.shape, int(res.budget.steps)
        ('7', (4,), (4,), 12)
    """
    validate.key("key", key)
    backend = engine.make_backend(lm, reward_model, answer_fn)
    engine.check_prompt(backend, prompt)
    num_particles = validate.positive_int("num_particles", num_particles)
    cfg = filter_config(
        weighting=weighting,
        select=select,
        temperature=temperature,
        resampling=resampling,
        ess_threshold=ess_threshold,
        entropic=entropic,
        max_steps=max_steps,
    )
    sharding = _check_sharding(sharding, num_particles, backend.jax_native)
    result = run(key, backend, prompt, num_particles, cfg, sharding)
    report(result, what="particle_filter")
    return result


particle_filter.init = init
particle_filter.step = step


def __getattr__(name):
    if name == "ParticleFilterResult":
        warnings.warn(
            "probkit.llm.ParticleFilterResult is deprecated (removed in 0.3): it is "
            "probkit.llm.FilterResult, distinct from probkit.smc.ParticleFilterResult",
            DeprecationWarning,
            stacklevel=2,
        )
        return FilterResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
