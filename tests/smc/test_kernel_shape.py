"""One kernel shape: every public init/step in smc (and llm) by signature, and the shims."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit import llm, smc, ssm
from probkit.smc import conditional

STEPS = {
    "particle_filter.step": smc.particle_filter.step,
    "paris.step": smc.paris.step,
    "ppg.step": smc.ppg.step,
    "csmc.step": smc.csmc.step,
    "conditional_step": conditional.conditional_step,
}
INITS = {
    "particle_filter.init": smc.particle_filter.init,
    "paris.init": smc.paris.init,
    "ppg.init": smc.ppg.init,
    "csmc.initial_path": smc.csmc.initial_path,
    "conditional_init": conditional.conditional_init,
}


def _names(fn, k):
    return [p.name for p in inspect.signature(fn).parameters.values()][:k]


def _returns_a_pair(fn):
    ann = inspect.signature(fn, eval_str=True).return_annotation
    return getattr(ann, "__origin__", None) is tuple and len(ann.__args__) == 2


@pytest.mark.parametrize("name", sorted(STEPS))
def test_every_smc_step_is_key_state_model_params_and_returns_state_info(name):
    assert _names(STEPS[name], 4) == ["key", "state", "model", "params"], name
    assert _returns_a_pair(STEPS[name]), name


@pytest.mark.parametrize("name", sorted(INITS))
def test_every_smc_init_is_key_model_params(name):
    assert _names(INITS[name], 3) == ["key", "model", "params"], name


def test_csmc_init_starts_a_chain_from_a_path():
    assert _names(smc.csmc.init, 2) == ["path"]


@pytest.mark.parametrize(
    "fn", [llm.particle_filter.step, llm.particle_gibbs.step, llm.parallel_tempering.step]
)
def test_llm_steps_take_key_then_their_state(fn):
    """The LLM steps' state is the filter state or the Gibbs reference(s); the rest of their
    arguments (lm, reward_model, prompt, config) differ from smc's (model, params)."""
    assert _names(fn, 1) == ["key"]
    params = list(inspect.signature(fn).parameters)
    assert params[1] in ("state", "reference", "references"), params


def test_no_step_or_kernel_field_is_typed_object():
    for kernel in (smc.CSMCKernel, smc.PPGKernel):
        assert all(ann is not object for ann in kernel.__annotations__.values()), kernel


# ------------------------------------------------------------------ deprecation shims


@pytest.fixture(scope="module")
def tiny():
    model, params = ssm.linear_gaussian(0.8, 1.0, 1.0, 0.5, 0.0, 1.0)
    _, ys = ssm.simulate(jax.random.key(0), model, params, 5)
    return model, params, ys


def test_old_model_params_order_warns_and_gives_the_same_draw(tiny):
    model, params, ys = tiny
    path = smc.csmc.initial_path(jax.random.key(1), model, params, ys, 8)
    state = smc.csmc.init(path)
    new, _ = smc.csmc.step(jax.random.key(2), state, model, params, ys, 8)
    with pytest.warns(DeprecationWarning, match="csmc.step"):
        old, _ = smc.csmc.step(jax.random.key(2), state, params, model, ys, 8)
    np.testing.assert_array_equal(new.path, old.path)

    h = smc.AdditiveFunctional(initial=lambda x0: x0, increment=lambda xp, x, t: x)
    s0 = smc.ppg.init(jax.random.key(3), model, params, ys, 8)
    with pytest.warns(DeprecationWarning, match="ppg.init"):
        s0_old = smc.ppg.init(jax.random.key(3), params, model, ys, 8)
    np.testing.assert_array_equal(s0.path, s0_old.path)
    s1, _ = smc.ppg.step(jax.random.key(4), s0, model, params, ys, h, 8)
    with pytest.warns(DeprecationWarning, match="ppg.step"):
        s1_old, _ = smc.ppg.step(jax.random.key(4), s0, params, model, ys, h, 8)
    np.testing.assert_array_equal(s1.path, s1_old.path)


def test_old_resampling_spellings_warn_and_agree(tiny):
    model, params, ys = tiny
    state, _ = smc.particle_filter.init(jax.random.key(0), model, params, ys[0], 8)
    t = jnp.asarray(1)
    new, _ = smc.particle_filter.step(
        jax.random.key(1), state, model, params, ys[1], t, resampling="multinomial",
        ess_threshold=1.0,
    )  # fmt: skip
    with pytest.warns(DeprecationWarning, match="resampling_scheme"):
        old, _ = smc.particle_filter.step(
            jax.random.key(1), state, model, params, ys[1], t, resampling_scheme="multinomial",
            ess_threshold=1.0,
        )  # fmt: skip
    np.testing.assert_array_equal(new.particles, old.particles)
    with pytest.raises(TypeError, match="pass resampling= only"):
        smc.particle_filter.step(
            jax.random.key(1), state, model, params, ys[1], t, resampling="multinomial",
            resampling_scheme="multinomial",
        )  # fmt: skip

    c_state, c_info = conditional.conditional_init(
        jax.random.key(0), model, params, ys[0], 8, jnp.zeros(1)
    )
    assert isinstance(c_info, smc.ParticleFilterInfo)
    got, step_info = conditional.conditional_step(
        jax.random.key(1), c_state, model, params, ys[1], 1, jnp.zeros(1), resampling="systematic"
    )
    assert isinstance(step_info, smc.ParticleFilterInfo) and bool(step_info.resampled)
    assert int(step_info.ancestors[0]) == 0 and float(got.particles[0, 0]) == 0.0
    with pytest.warns(DeprecationWarning, match="resampler"):
        conditional.conditional_step(
            jax.random.key(1), c_state, model, params, ys[1], 1, jnp.zeros(1),
            resampler=smc.conditional.resampling_mod.get("systematic"),
        )  # fmt: skip


# ------------------------------------------------------------------ one result convention


def test_every_smc_result_carries_failed_and_failed_at():
    for result in (
        smc.ParticleFilterResult, smc.ParisResult, smc.PPGResult, smc.CSMCResult, smc.FitResult,
    ):  # fmt: skip
        assert hasattr(result, "failed") and hasattr(result, "failed_at"), result.__name__


def test_failed_at_is_the_first_failing_iteration():
    from probkit.core import errors

    assert int(errors.first_failure(jnp.array([False, False, True, True]))) == 2
    assert int(errors.first_failure(jnp.zeros(3, bool))) == -1
    info = smc.CSMCInfo(
        jnp.ones((3, 4)), jnp.zeros(3), jnp.ones((3, 4), bool), jnp.array([False, True, True])
    )
    res = smc.CSMCResult(jnp.zeros((3, 4, 1)), info)
    assert bool(res.failed) and int(res.failed_at) == 1
