"""Backward kernels draw from Λ(i, ·) ∝ ω^j m(x_prev^j, x^i) exactly, whichever way they end."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit import smc, ssm
from probkit.smc import backward
from probkit.testing import assert_chi_square

NUM_DRAWS = 4000


@pytest.fixture(scope="module")
def small_system():
    """6 previous particles, 3 rows, stochastic-volatility transition (scalar states)."""
    with jax.enable_x64(True):
        model, params = ssm.stochastic_volatility(mu=0.0, rho=0.8, sigma=1.0)
        x_prev = jnp.array([-1.5, -0.4, 0.0, 0.3, 1.1, 2.0])
        lw = jnp.log(jnp.array([0.1, 0.3, 0.05, 0.25, 0.2, 0.1]))
        x = jnp.array([0.2, -1.0, 1.4])
        lm = backward.row_log_probs(model, params, x_prev, x, 1)
        exact = np.asarray(jax.nn.softmax(lw[None] + lm, axis=-1))
        return model, params, x_prev, lw, x, exact


KERNELS = {
    "exact": backward.exact(chunk_size=2),  # 3 rows in chunks of 2: padding exercised
    "rejection": backward.rejection(),
    # a budget of 1: most draws take the fallback; exact_below=0 keeps accept–reject at N = 6
    "hybrid": backward.hybrid(max_trials=1, exact_below=0),
}


@pytest.fixture(scope="module")
def samplers(small_system):
    """One compiled, vmapped sampler per kernel: (keys, log-weights, rows) -> (J, info)."""
    model, params, x_prev, _, _, _ = small_system

    def make(kernel):
        return jax.jit(
            jax.vmap(
                lambda k, lw, x: backward.sample(k, kernel, model, params, lw, x_prev, x, 1, 2),
                in_axes=(0, None, None),
            )
        )

    return {name: make(kernel) for name, kernel in KERNELS.items()}


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_draws_from_the_backward_law(x64, small_system, samplers, name):
    _, _, _, lw, x, exact = small_system
    kernel = KERNELS[name]
    J, info = samplers[name](jax.random.split(jax.random.key(7), NUM_DRAWS), lw, x)
    J = np.asarray(J)
    assert J.shape == (NUM_DRAWS, 3, 2)
    for row in range(3):  # chi-square at level 1e-3 per row, both draws pooled
        counts = np.bincount(J[:, row].ravel(), minlength=6)
        assert_chi_square(counts, exact[row], what=f"{name}, row {row}")
    assert not bool(jnp.any(info.bound_violated))
    if name == "hybrid":
        assert float(jnp.mean(info.fallbacks)) > 1.0  # the fallback really ran
    if kernel.method != "exact":
        assert float(jnp.mean(info.trials)) >= 1.0


def test_row_log_probs_fast_paths_match_numpyro(x64, lgssm_2d):
    """The whitened multivariate-normal path and the vmap path equal numpyro's log_prob."""
    model, params, _, _ = lgssm_2d
    x_prev = jax.random.normal(jax.random.key(0), (7, 2))
    x = jax.random.normal(jax.random.key(1), (5, 2))
    fast = backward.row_log_probs(model, params, x_prev, x, 1)
    ref = jax.vmap(
        lambda xi: jax.vmap(lambda xp: model.transition(params, xp, 1).log_prob(xi))(x_prev)
    )(x)
    np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=1e-12)
    slow_model = dataclasses.replace(model, vectorized=False)
    np.testing.assert_allclose(
        backward.row_log_probs(slow_model, params, x_prev, x, 1), ref, rtol=1e-12, atol=1e-12
    )
    pairs = backward.pair_log_probs(model, params, x_prev[:5], x, 1)
    np.testing.assert_allclose(pairs, jnp.diagonal(ref[:, :5]), rtol=1e-12, atol=1e-12)


def test_wrong_bound_is_reported(x64, small_system):
    model, params, x_prev, lw, x, _ = small_system
    too_small = dataclasses.replace(model, transition_log_bound=lambda p: jnp.asarray(-5.0))
    kernel = backward.hybrid(exact_below=0)
    sample = jax.jit(lambda k: backward.sample(k, kernel, too_small, params, lw, x_prev, x, 1, 2))
    _, info = sample(jax.random.key(0))
    assert bool(info.bound_violated)


@pytest.mark.parametrize("name", ["exact", "hybrid"])
def test_degenerate_weights_fall_back_to_the_transition(x64, small_system, samplers, name):
    """With every ω = -inf (a failed filter step) the draws are ∝ m, never NaN."""
    model, params, x_prev, _, x, _ = small_system
    keys = jax.random.split(jax.random.key(0), NUM_DRAWS)
    J, info = samplers[name](keys, jnp.full(6, -jnp.inf), x)
    law = np.asarray(jax.nn.softmax(backward.row_log_probs(model, params, x_prev, x, 1), axis=-1))
    for row in range(3):
        assert_chi_square(np.bincount(np.asarray(J[:, row]).ravel(), minlength=6), law[row])
    assert int(jnp.sum(info.degenerate_rows)) == 0


@pytest.mark.parametrize("name", ["exact", "hybrid"])
def test_rows_without_mass_are_reported(x64, small_system, samplers, name):
    _, _, _, lw, _, _ = small_system
    x = jnp.array([0.2, jnp.nan, 1.4])  # log m is NaN for the middle row
    J, info = samplers[name](jax.random.split(jax.random.key(0), NUM_DRAWS), lw, x)
    assert bool(jnp.all(info.degenerate_rows >= 1))
    assert bool(jnp.all((J >= 0) & (J < 6)))


def test_bad_kernel_specs_are_refused():
    with pytest.raises(ValueError, match="backward must be one of"):
        backward.get("smart")
    with pytest.raises(ValueError, match="max_trials"):
        backward.hybrid(max_trials=0)
    with pytest.raises(ValueError, match="chunk_size"):
        backward.exact(chunk_size=0)
    with pytest.raises(ValueError, match="exact_below"):
        backward.hybrid(exact_below=-1)
    model, _ = ssm.stochastic_volatility()
    no_bound = dataclasses.replace(model, transition_log_bound=None)
    for kind in ("rejection", "hybrid"):
        with pytest.raises(ValueError, match="transition_log_bound"):
            backward.check(kind, no_bound)
    assert backward.check("exact", no_bound).method == "exact"
    assert smc.BackwardKernel is backward.BackwardKernel
