"""`smc.SMCConfig`: one validated, hashable bundle of the shared particle-method settings."""

import jax
import pytest

from probkit import smc, ssm
from probkit.core import resampling
from probkit.smc import filtering


def test_names_are_resolved_and_equal_configs_hash_equal():
    a = smc.SMCConfig(num_particles=64, resampling="stratified", backward="exact")
    b = smc.SMCConfig(num_particles=64, resampling=resampling.stratified, backward="exact")
    assert a.resampling is resampling.stratified and a.backward.method == "exact"
    assert a == b and hash(a) == hash(b)
    assert a.replace(num_particles=32) != a and a.replace(num_particles=32).num_particles == 32


@pytest.mark.parametrize(
    "field, value, error, match",
    [
        ("num_particles", 1, ValueError, "num_particles"),
        ("num_particles", 2.5, TypeError, "num_particles"),
        ("resampling", "bogus", ValueError, "resampling"),
        ("ess_threshold", 1.5, ValueError, "ess_threshold"),
        ("proposal", "guided", TypeError, "proposal"),
        ("num_backward", 0, ValueError, "num_backward"),
        ("backward", "fast", ValueError, "backward"),
        ("sharding", "devices", TypeError, "sharding"),
    ],
)
def test_each_field_is_validated_with_its_name(field, value, error, match):
    with pytest.raises(error, match=match):
        smc.SMCConfig(**{field: value})
    with pytest.raises(error, match=match):
        smc.SMCConfig().replace(**{field: value})


def test_the_filter_compiles_once_for_equal_settings_spelled_differently():
    model, params = ssm.stochastic_volatility()
    _, ys = ssm.simulate(jax.random.key(0), model, params, num_steps=8)
    smc.particle_filter(jax.random.key(1), model, params, ys, 16, resampling="stratified")
    before = filtering._run._cache_size()
    smc.particle_filter(jax.random.key(2), model, params, ys, 16, resampling=resampling.stratified)
    smc.particle_filter(jax.random.key(3), model, params, ys, 16, resampling="stratified")
    assert filtering._run._cache_size() == before
