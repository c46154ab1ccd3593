"""The shared particle step: ESS-triggered resampling and reweighting, and both filters on it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit import smc, ssm
from probkit.core import accumulate, resampling, weights
from probkit.core.particles import resample_when, reweight
from probkit.llm import filtering as llm_pf

from ..llm.llm_models import FixedRewardLM, FixedRewardPRM, fixed_prompt

SYSTEMATIC = resampling.get("systematic")
SKEWED = jnp.log(jnp.array([0.93, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01]))  # ESS about 1.2


def test_resample_when_follows_the_ess_rule():
    key = jax.random.key(0)
    flat = jnp.full((8,), -jnp.log(8.0))
    draw = SYSTEMATIC.resample(key, SKEWED, 8)
    for lw, threshold, expect in [
        (SKEWED, 0.5, True), (flat, 0.5, False), (flat, 1.0, True), (SKEWED, 0.0, False),
        (SKEWED, 0.1, False),  # ESS 1.15 >= 0.1 x 8
    ]:  # fmt: skip
        anc, new_lw, did = resample_when(key, lw, SYSTEMATIC, threshold)
        assert bool(did) is expect, (threshold, expect)
        if expect:
            np.testing.assert_array_equal(anc, SYSTEMATIC.resample(key, lw, 8))
            np.testing.assert_allclose(new_lw, np.full(8, -np.log(8.0)), rtol=1e-6)
        else:
            np.testing.assert_array_equal(anc, np.arange(8))
            np.testing.assert_array_equal(new_lw, lw)
    anc, _, did = resample_when(key, SKEWED, SYSTEMATIC, 0.5, enabled=jnp.array(False))
    assert not bool(did) and np.array_equal(anc, np.arange(8))
    anc, _, _ = resample_when(key, SKEWED, SYSTEMATIC, 0.5, enabled=True)
    np.testing.assert_array_equal(anc, draw)


def test_resample_when_counts_only_live_slots():
    live = jnp.array([True] * 4 + [False] * 4)
    lw = jnp.where(live, jnp.log(jnp.array([0.25] * 8)), -jnp.inf)  # ESS 4 = live count
    _, _, did = resample_when(jax.random.key(0), lw, SYSTEMATIC, 0.99, live=live)
    assert not bool(did)  # ESS 4 >= 0.99 x 4 live slots (it is < 0.99 x N = 7.92)
    _, new_lw, did = resample_when(jax.random.key(0), lw, SYSTEMATIC, 1.0, live=live)
    assert bool(did)
    np.testing.assert_allclose(np.exp(new_lw), [0.25] * 4 + [0.0] * 4, rtol=1e-6)


def test_reweight_takes_the_evidence_increment_and_flags_degeneracy():
    prev = jnp.log(jnp.array([0.5, 0.25, 0.25]))
    incr = jnp.log(jnp.array([2.0, 4.0, 0.0]))
    rw = reweight(prev, prev + incr)
    np.testing.assert_allclose(np.exp(rw.log_evidence_increment), 0.5 * 2 + 0.25 * 4, rtol=1e-6)
    np.testing.assert_allclose(np.exp(rw.log_weights), [0.5, 0.5, 0.0], rtol=1e-6)
    np.testing.assert_allclose(rw.ess, 2.0, rtol=1e-6)
    bad = reweight(prev, jnp.full((3,), -jnp.inf))
    assert bool(bad.degenerate) and np.isneginf(float(bad.log_evidence_increment))


def test_state_space_and_llm_filters_resample_through_the_shared_step():
    """Same weights, same resampling key: both filters' ancestors and evidence are the shared
    step's (the state-space filter resamples its previous weights first; the LLM filter
    resamples after reweighting)."""
    # state-space filter: a state whose weights are SKEWED
    model, params = ssm.linear_gaussian(0.8, 1.0, 1.0, 0.5, 0.0, 1.0)
    state = smc.ParticleFilterState(
        jnp.zeros((8, 1)), SKEWED, accumulate.init(jnp.zeros(())), jnp.array(False),
        jnp.array(-1, jnp.int32),
    )  # fmt: skip
    key = jax.random.key(7)
    _, info = smc.particle_filter.step(key, state, model, params, jnp.zeros(1), jnp.asarray(1))
    k_res = jax.random.split(key)[0]
    expected, _, did = resample_when(k_res, SKEWED, SYSTEMATIC, 0.5)
    assert bool(info.resampled) and bool(did)
    np.testing.assert_array_equal(info.ancestors, expected)

    # LLM filter (twisted weighting): rewards proportional to the same weights
    rewards = jnp.exp(SKEWED)
    lm, prm = FixedRewardLM(), FixedRewardPRM()
    prompt = fixed_prompt(rewards, finish_after=3)
    cfg = llm_pf.filter_config(weighting="twisted", resampling="systematic", max_steps=3)
    s0 = llm_pf.init(lm, prm, prompt, 8, cfg)
    s1, info = llm_pf.step(key, s0, lm, prm, prompt, cfg)
    k_res = jax.random.split(key)[1]
    rw = reweight(s0.log_weights, s0.log_weights + jnp.log(rewards))
    expected, _, did = resample_when(k_res, rw.log_weights, SYSTEMATIC, 0.5, ess=rw.ess)
    assert bool(info.resampled) and bool(did)
    np.testing.assert_array_equal(info.ancestors, expected)
    np.testing.assert_allclose(s1.log_evidence, rw.log_evidence_increment, rtol=1e-6)
    np.testing.assert_allclose(
        s1.log_evidence, weights.logsumexp(SKEWED) - jnp.log(8.0), rtol=1e-6
    )  # mean reward: the evidence of one twisted step from uniform weights


@pytest.mark.parametrize("threshold", [0.0, 0.5, 1.0])
def test_filter_step_resamples_by_the_rule(threshold):
    model, params = ssm.linear_gaussian(0.8, 1.0, 1.0, 0.5, 0.0, 1.0)
    state = smc.ParticleFilterState(
        jnp.zeros((8, 1)), SKEWED, accumulate.init(jnp.zeros(())), jnp.array(False),
        jnp.array(-1, jnp.int32),
    )  # fmt: skip
    _, info = smc.particle_filter.step(
        jax.random.key(1), state, model, params, jnp.zeros(1), jnp.asarray(1),
        ess_threshold=threshold,
    )  # fmt: skip
    assert bool(info.resampled) is (threshold > 0.0)
