"""Particle filter: exact target and evidence on an enumerable model, the paper's rule by hand."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit import llm
from probkit.llm import engine
from probkit.llm import filtering as pf
from probkit.llm.tabular import exact_target
from probkit.llm.weighting import (
    Annealing,
    Entropic,
    paper_resampling_log_probs,
    tempered_resample,
)
from probkit.testing import assert_chi_square, assert_within_se, keys

from .llm_models import PROMPT, FixedRewardLM, FixedRewardPRM, fixed_prompt, tabular_models

PAPER_LM, PAPER_PRM = FixedRewardLM(finished_first=(0,)), FixedRewardPRM()
PAPER_CFG = pf.filter_config(weighting="paper", max_steps=5)


@functools.lru_cache
def _runner(lm, prm, n, cfg):
    """Compiled, vmapped runs; the temperature is data (`temperature_scale`), not a recompile."""

    def one(k, temperature):
        return pf.run_backend(k, engine.JaxBackend(lm, prm), PROMPT, n, cfg, None, temperature)

    return jax.jit(jax.vmap(one, in_axes=(0, None)))


def _runs(lm, prm, n, num_runs, seed=0, temperature=1.0, **kw):
    cfg = pf.filter_config(max_steps=lm.num_steps, **kw)
    return _runner(lm, prm, n, cfg)(keys(num_runs, seed), temperature)


def _path_ids(res, paths):
    index = {p: i for i, p in enumerate(paths)}
    vals = np.asarray(res.particles.values)[np.arange(len(res.index)), np.asarray(res.index)]
    lens = np.asarray(res.lengths)[np.arange(len(res.index)), np.asarray(res.index)]
    return np.array([index[tuple(v[:length])] for v, length in zip(vals, lens)])


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_twisted_sample_matches_exact_target(temperature):
    lm, prm = tabular_models()
    exact = exact_target(lm, prm, temperature)  # target p(x) r(x)^(1/tau)
    res = _runs(lm, prm, 128, 3000, weighting="twisted", select="sample", temperature=temperature)
    answers = np.bincount(np.asarray(res.answer), minlength=3)
    # A weighted draw from N particles has law target + O(1/N); at N = 128 that bias is far
    # below what 3000 runs resolve (about 0.009 per cell), so chi-square at level 1e-3.
    assert_chi_square(answers, exact.answer_probs, alpha=1e-3, what="answers")
    paths = np.bincount(_path_ids(res, exact.paths), minlength=len(exact.paths))
    assert_chi_square(paths, exact.target, alpha=1e-3, what="paths")
    # Finished particles are cloned by resampling but never extended: nothing is written after
    # a particle's stop value (2), and every particle ends finished, none truncated.
    vals, lens = np.asarray(res.particles.values), np.asarray(res.lengths)
    assert np.all(vals[np.arange(4)[None, None, :] >= lens[..., None]] == -1)
    stopped_early = lens < 4
    assert stopped_early.any() and np.all(vals[stopped_early, lens[stopped_early] - 1] == 2)
    assert np.all(np.asarray(res.finished)) and not np.any(np.asarray(res.truncated))


TEMPER_ALWAYS = Entropic(ess_threshold=1.0, early_phase=1.0, method="base", value_max=3.0)


@pytest.mark.parametrize("aggregation,entropic", [("prod", False), ("last", TEMPER_ALWAYS)])
def test_twisted_evidence_and_weighted_answers_unbiased(aggregation, entropic):
    lm, prm = tabular_models(aggregation)
    exact = exact_target(lm, prm)
    # The entropic case tempers every resampling, at T = 3 - t/4 >= 2.
    ess = 1.0 if entropic else 0.5
    res = _runs(lm, prm, 8, 4000, seed=1, weighting="twisted", entropic=entropic, ess_threshold=ess)
    if entropic:
        assert float(np.max(np.asarray(res.temperatures))) > 1.5  # tempering did happen
    z_hat = np.exp(np.asarray(res.log_evidence))
    # E[Z_hat] = Z for any N (N = 8 here); 4000 runs, tolerance 3 standard errors.
    assert_within_se(z_hat, exact.evidence, z=3, what="evidence")
    # E[Z_hat * sum_i W_i 1{answer_i = a}] = Z * pi(a): the unnormalised measure is unbiased.
    w = np.exp(np.asarray(res.log_weights))
    ans = np.asarray(res.answers)
    per_answer = np.stack([(w * (ans == a)).sum(1) for a in range(3)], 1) * z_hat[:, None]
    assert_within_se(per_answer, exact.evidence * exact.answer_probs, z=3, what="Z pi(a)")


@functools.lru_cache
def _paper_step_fn():
    def one(k, state, rewards):
        return pf.step(k, state, PAPER_LM, PAPER_PRM, rewards, PAPER_CFG)

    return jax.jit(jax.vmap(one, in_axes=(0, None, None)))


def _paper_step(rewards, n_keys=4000):
    """One paper step from the initial state for many keys (one compiled function)."""
    prompt = fixed_prompt(rewards)
    state = pf.init(PAPER_LM, PAPER_PRM, prompt, 4, PAPER_CFG)
    return state, _paper_step_fn()(keys(n_keys, 4), state, prompt), prompt


def test_paper_resampling_probabilities_by_hand(x64):  # x64: the authors clip in float64
    rewards = (0.9, 0.6, 0.2, 0.5)
    odds = np.array([9.0, 1.5, 0.25, 1.0])  # r / (1 - r)
    _, (_, info), _ = _paper_step(rewards)
    np.testing.assert_allclose(np.exp(info.resampling_log_probs[0]), odds / odds.sum(), rtol=1e-9)
    # The ancestors are multinomial draws with exactly these probabilities (chi-square, 1e-3).
    counts = np.bincount(np.asarray(info.ancestors).ravel(), minlength=4)
    assert_chi_square(counts, odds / odds.sum(), alpha=1e-3, what="ancestors")
    # Temperature tau: probabilities proportional to odds^(1/tau).
    np.testing.assert_allclose(
        np.exp(paper_resampling_log_probs(jnp.asarray(rewards), 2.0)),
        np.sqrt(odds) / np.sqrt(odds).sum(),
        rtol=1e-9,
    )
    # Rewards of exactly 0 and 1 are clipped to [1e-7, 1 - 1e-7] before the logit.
    _, (_, info), _ = _paper_step((1.0, 0.0, 0.5, 0.5))
    odds01 = np.array([(1 - 1e-7) / 1e-7, 1e-7 / (1 - 1e-7), 1.0, 1.0])
    np.testing.assert_allclose(
        np.exp(info.resampling_log_probs[0]), odds01 / odds01.sum(), rtol=1e-9, atol=1e-20
    )


def test_paper_finished_particles_stay_in_pool_unextended(x64):
    odds = np.array([9.0, 1.5, 0.25, 1.0])
    # Particle 0 finishes at its first step. Take a run in which particle 0 was resampled.
    _, (state1, _), rewards = _paper_step((0.9, 0.6, 0.2, 0.5))
    run = int(
        np.argmax(
            (np.asarray(state1.particles["idx"]) == 0).any(1)
            & (np.asarray(state1.particles["idx"]) != 0).any(1)
        )
    )
    state1 = jax.tree.map(lambda x: x[run], state1)
    state2, info2 = jax.tree.map(lambda x: x[0], _paper_step_fn()(keys(1, 9), state1, rewards))
    # Step 2: clones of particle 0 keep their weight logit(0.9) and are not extended (their
    # step counter stays 1); the others are extended.
    anc_idx = np.asarray(state1.particles["idx"])
    np.testing.assert_allclose(
        np.exp(info2.resampling_log_probs), odds[anc_idx] / odds[anc_idx].sum(), rtol=1e-9
    )
    extended = anc_idx != 0
    assert int(state2.budget.steps - state1.budget.steps) == int(extended.sum())
    after = np.asarray(state1.particles["steps"]) + extended  # before the second resampling
    np.testing.assert_array_equal(
        np.asarray(state2.particles["steps"]), after[np.asarray(info2.ancestors)]
    )


def test_paper_run_resamples_every_step_and_anneals():
    lm, prm = tabular_models()
    res = llm.particle_filter(
        jax.random.key(0), lm, prm, PROMPT, 16, temperature=(2.0, 0.5, 3), max_steps=4
    )
    steps = int(res.num_steps)
    assert np.all(np.asarray(res.resampled[:steps]))  # including after the last step
    np.testing.assert_allclose(res.temperatures[:steps], [2.0, 1.5, 1.0, 0.5][:steps], rtol=1e-6)
    assert res.log_evidence is None  # the paper's weights estimate no evidence
    sched = Annealing.from_arg((2.0, 0.5, 3))
    np.testing.assert_allclose([sched(t) for t in range(6)], [2, 1.5, 1, 0.5, 0.5, 0.5])


def test_entropic_temperature_by_hand():
    lw = jnp.log(jnp.array([1.0, 1e-30, 1e-30, 1e-30]))  # ESS = 1, ESS / N = 0.25
    np.testing.assert_allclose(Entropic().temperature(lw, 0.25), 4 * 0.75, rtol=1e-5)
    assert float(Entropic().temperature(lw, 0.6)) == 1.0  # past the early phase
    assert float(Entropic().temperature(jnp.zeros(4), 0.1)) == 1.0  # diverse: ESS / N = 1
    np.testing.assert_allclose(Entropic(method="base").temperature(lw, 0.25), 1.75, rtol=1e-6)
    # Entropy of a (clipped) one-hot is ~0, so T = 1 / progress.
    np.testing.assert_allclose(Entropic(method="entropy").temperature(lw, 0.25), 4.0, rtol=1e-3)


def test_tempered_resampling_is_properly_weighted():
    w = jnp.array([0.1, 0.2, 0.3, 0.4])
    f = jnp.array([1.0, 2.0, 3.0, 4.0])
    from probkit.core import resampling

    def estimate(k):
        anc, lw, log_total = tempered_resample(k, resampling.systematic, jnp.log(w), 3.0)
        return jnp.exp(log_total) * jnp.sum(jnp.exp(lw) * f[anc]), jnp.exp(log_total)

    est, total = jax.jit(jax.vmap(estimate))(keys(4000, 5))
    # sum_j W_j f(x_a_j) is unbiased for sum_i w_i f(x_i) = 3.0, and sum_j W_j for 1;
    # 4000 reps, 4 SE.
    assert_within_se(np.asarray(total), 1.0, z=4, what="tempered total weight")
    assert_within_se(np.asarray(est), 3.0, z=4, what="tempered resampling")


# --- text models on the host ---------------------------------------------------------------


class TextTabular:
    """The tabular model behind the text protocol (steps are "0", "1", "2")."""

    separator = " "

    def __init__(self, lm):
        self.lm = lm

    def extend(self, prompt, prefixes, *, seeds=None):
        out = []
        for steps, seed in zip(prefixes, seeds):
            rng = np.random.default_rng(seed)
            p = self.lm.initial if not steps else self.lm.transition[int(steps[-1])]
            v = int(rng.choice(3, p=np.asarray(p) / np.sum(p)))
            done = len(steps) + 1 >= self.lm.num_steps or v == self.lm.stop_value
            out.append(llm.Step(str(v), done, 1, None))
        return out


def _text_prm(prm):
    table = np.asarray(prm.table)

    def step_scores(prompt, prefixes):
        out = []
        for steps in prefixes:
            vals = [int(s) for s in steps]
            out.append([table[a, b] for a, b in zip([3, *vals[:-1]], vals)])
        return out

    return llm.ProcessRewardModel(step_scores, prm.aggregation)


def test_text_backend_twisted_matches_exact_target():
    lm, prm = tabular_models()
    exact = exact_target(lm, prm)
    tlm, tprm = TextTabular(lm), _text_prm(prm)
    zs, answers = [], []
    for k in keys(80, 6):
        res = llm.particle_filter(
            k,
            tlm,
            tprm,
            "tabular",
            32,
            weighting="twisted",
            select="sample",
            max_steps=4,
            answer_fn=lambda t: str(sum(map(int, t.split())) % 3),
        )
        zs.append(float(np.exp(res.log_evidence)))
        answers.append(int(res.answer))
    # Same law as the compiled path: unbiased evidence (3 SE) and the target's answers.
    assert_within_se(np.array(zs), exact.evidence, z=3, what="host evidence")
    assert_chi_square(np.bincount(answers, minlength=3), exact.answer_probs, alpha=1e-3)


class EchoLM:
    """Deterministic text LM: step t of particle is 'step t'; finishes with \\boxed{k}."""

    separator = "\n\n"

    def __init__(self, finish_at=3, never=False):
        self.finish_at, self.never, self.calls = finish_at, never, 0

    def extend(self, prompt, prefixes, *, seeds=None):
        self.calls += 1
        out = []
        for steps, seed in zip(prefixes, seeds):
            t = len(steps) + 1
            done = t >= self.finish_at and not self.never
            text = f"step {t}" + (f" \\boxed{{{seed % 3}}}" if done else "")
            out.append(llm.Step(text, done, 5))
        return out


def constant_prm(value):
    return llm.OutcomeRewardModel(lambda p, responses: [value] * len(responses))


def test_text_run_response_budget_and_answer():
    lm = EchoLM(finish_at=3)
    res = llm.particle_filter(jax.random.key(0), lm, constant_prm(0.5), "What?", 4, select="vote")
    assert res.response.startswith("step 1\n\nstep 2\n\nstep 3 \\boxed{")
    assert res.answer in {"0", "1", "2"} and res.answer == res.answers[int(res.index)]
    assert int(res.budget.steps) == 12 and int(res.budget.tokens) == 60
    assert lm.calls == 3  # one batched call per step


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan")])
def test_text_reward_outside_unit_interval_is_refused(bad):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        llm.particle_filter(jax.random.key(0), EchoLM(), constant_prm(bad), "What?", 2)


def test_jax_reward_outside_unit_interval_is_refused():
    for bad in (jnp.nan, 1.2):
        with pytest.raises(ValueError, match=r"outside \[0, 1\] or NaN"):
            llm.particle_filter(
                jax.random.key(0),
                PAPER_LM,
                PAPER_PRM,
                fixed_prompt([0.5, bad, 0.5, 0.5]),
                4,
                max_steps=5,
            )


def test_empty_prompt_is_refused():
    for prompt in ("", "   \n"):
        with pytest.raises(ValueError, match="non-empty"):
            llm.particle_filter(jax.random.key(0), EchoLM(), constant_prm(0.5), prompt, 2)
    with pytest.raises(TypeError, match="pytree of arrays"):
        llm.particle_filter(jax.random.key(0), PAPER_LM, PAPER_PRM, "x", 1)


def test_lm_that_never_finishes_is_stopped_at_max_steps():
    with pytest.warns(RuntimeWarning, match="reached max_steps"):
        res = llm.particle_filter(
            jax.random.key(0), EchoLM(never=True), constant_prm(0.5), "What?", 3, max_steps=5
        )
    assert int(res.num_steps) == 5 and np.all(np.asarray(res.truncated))
    assert res.answer is None and res.response.count("step") == 5
    with pytest.warns(RuntimeWarning, match="3 of 4 solutions"):  # particle 0 finishes
        res = llm.particle_filter(
            jax.random.key(0),
            PAPER_LM,
            PAPER_PRM,
            fixed_prompt([0.5] * 4, finish_after=100),
            4,
            max_steps=5,
        )
    assert int(res.num_steps) == 5 and int(np.sum(np.asarray(res.truncated))) >= 1


@pytest.mark.parametrize(
    "kwargs,error",
    [
        (dict(weighting="greedy"), ValueError),
        (dict(select="best"), ValueError),
        (dict(num_particles=0), ValueError),
        (dict(temperature=-1.0), ValueError),
        (dict(ess_threshold=2.0), ValueError),
        (dict(resampling="bogus"), ValueError),
        (dict(max_steps=0), ValueError),
        (dict(entropic="yes"), TypeError),
        (dict(reward_model=PAPER_PRM), TypeError),  # JAX-native PRM, text LM
    ],
)
def test_bad_settings_are_refused(kwargs, error):
    args = dict(lm=EchoLM(), reward_model=constant_prm(0.5), prompt="What?", num_particles=2)
    args.update(kwargs)
    lm, rm, prompt, n = (args.pop(k) for k in ("lm", "reward_model", "prompt", "num_particles"))
    with pytest.raises(error):
        llm.particle_filter(jax.random.key(0), lm, rm, prompt, n, **args)


def test_failed_at_is_the_first_step_whose_weights_all_vanish():
    # Every reward 0: under twisted weighting every weight is zero after the first step, which
    # the result reports (failed, failed_at = 0) instead of NaN weights.
    lm = FixedRewardLM()
    dead = llm.particle_filter(
        jax.random.key(0), lm, FixedRewardPRM(), fixed_prompt([0.0] * 4), 4, weighting="twisted"
    )
    assert bool(dead.failed) and int(dead.failed_at) == 0
    assert not np.isnan(np.asarray(dead.log_weights)).any()
    alive = llm.particle_filter(
        jax.random.key(0), lm, FixedRewardPRM(), fixed_prompt([0.5] * 4), 4, weighting="twisted"
    )
    assert not bool(alive.failed) and int(alive.failed_at) == -1


def test_the_old_result_name_is_a_deprecated_alias():
    with pytest.warns(DeprecationWarning, match="FilterResult"):
        assert llm.ParticleFilterResult is llm.FilterResult
    assert llm.FilterResult is not __import__("probkit").smc.ParticleFilterResult
