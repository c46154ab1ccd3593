"""FFBS (backward simulation) against the exact RTS smoother on a linear-Gaussian model."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit import smc
from probkit.testing import assert_within_se, keys

NUM_SEEDS = 40
N, M = 200, 100


@pytest.fixture(scope="module")
def ffbs_runs(lgssm_2d):
    """40 seeded FFBS runs, one compilation (the exact kernel: the cheapest to compile; the
    kernels themselves are tested in test_backward.py)."""
    model, params, ys, _ = lgssm_2d
    with jax.enable_x64(True):
        run = jax.vmap(lambda k: smc.ffbs(k, model, params, ys, N, M, backward="exact"))
        return jax.block_until_ready(run(keys(NUM_SEEDS, seed=4)))


def test_paths_match_rts_sum_and_lag_one_products(x64, lgssm_2d, ffbs_runs):
    """The paths' joint law: E[Σ x_t] and E[Σ x_t x_t+1ᵀ] within 4 SE of RTS (per seed, the
    average over M paths; the O(1/N) filter bias at N = 200 is far below 4 SE)."""
    _, _, ys, (sum_exact, pair_exact) = lgssm_2d
    res = ffbs_runs
    assert res.paths.shape == (NUM_SEEDS, M, ys.shape[0], 2)
    sums = res.paths.sum(axis=2).mean(axis=1)
    pairs = jnp.einsum("smti,smtj->sij", res.paths[:, :, :-1], res.paths[:, :, 1:]) / M
    assert_within_se(sums, sum_exact, z=4, what="FFBS E[sum x_t]")
    assert_within_se(pairs.reshape(NUM_SEEDS, -1), pair_exact.ravel(), z=4, what="FFBS pairs")
    assert not bool(jnp.any(res.failed)) and not bool(jnp.any(res.bound_violated))
    np.testing.assert_array_equal(res.trials[:, :-1], 1.0)  # one exact row per draw
    idx = res.indices[0]
    assert bool(jnp.all((idx >= 0) & (idx < N)))


def test_bad_input_gets_clear_errors(x64, lgssm_2d):
    model, params, ys, _ = lgssm_2d
    k = jax.random.key(0)
    filtered = smc.particle_filter(k, model, params, ys, 10)
    last_only = filtered._replace(
        particles=filtered.particles[-1], log_weights=filtered.log_weights[-1]
    )  # what history=False returns
    with pytest.raises(ValueError, match="history=True"):
        smc.backward_simulation(k, model, params, last_only, 5)
    with pytest.raises(ValueError, match="num_paths"):
        smc.backward_simulation(k, model, params, filtered, 0)
    with pytest.raises(ValueError, match="smc.paris only"):
        smc.backward_simulation(k, model, params, filtered, 5, backward="bounded")
    with pytest.raises(TypeError, match="ParticleFilterResult"):
        smc.backward_simulation(k, model, params, filtered.particles, 5)
    no_bound = dataclasses.replace(model, transition_log_bound=None)
    with pytest.raises(ValueError, match="transition_log_bound"):
        smc.ffbs(k, no_bound, params, ys, 10, 5)
