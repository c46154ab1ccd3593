import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp as sp_lse

from probkit.core import weights


def test_normalize_and_ess_match_direct_formulas(x64):
    lw = jnp.array([-1.0, 0.5, -jnp.inf, 2.0])
    w = np.exp(np.asarray(lw) - sp_lse(lw))
    np.testing.assert_allclose(weights.normalize(lw), w, rtol=1e-14)
    np.testing.assert_allclose(weights.ess(lw), 1.0 / np.sum(w**2), rtol=1e-14)
    np.testing.assert_allclose(weights.log_mean_exp(lw), sp_lse(lw) - np.log(4), rtol=1e-14)


def test_summarize_agrees_with_separate_helpers(x64):
    lw = jnp.array([[-3.0, 0.1, 4.0, -jnp.inf], [jnp.nan, 1.0, 1.0, 1.0]])
    s = weights.summarize(lw)
    np.testing.assert_allclose(s.log_normalized, weights.log_normalize(lw), rtol=1e-12)
    np.testing.assert_allclose(s.logsumexp, weights.logsumexp(weights.sanitize(lw)), rtol=1e-14)
    np.testing.assert_allclose(s.ess, weights.ess(lw), rtol=1e-14)
    np.testing.assert_allclose(s.ess[1], 3.0, rtol=1e-14)  # NaN weight carries no mass


@pytest.mark.parametrize("bad", [jnp.full(5, -jnp.inf), jnp.full(5, jnp.nan)])
def test_degenerate_sets_give_uniform_weights_zero_ess_and_no_nan(bad):
    s = weights.summarize(bad)
    assert bool(s.degenerate) and bool(weights.is_degenerate(bad))
    np.testing.assert_allclose(jnp.exp(s.log_normalized), 0.2, rtol=1e-6)
    assert float(s.ess) == 0.0 and float(weights.ess(bad)) == 0.0
    assert float(s.logsumexp) == -np.inf
    assert not np.isnan(np.asarray(weights.normalize(bad))).any()


def test_likelihood_increment_without_resampling_is_lse_difference(x64):
    lw_prev = jnp.log(jnp.array([0.1, 0.2, 0.7]))
    incr = jnp.array([0.3, -1.0, 2.0])
    expected = np.log(np.sum(np.exp(lw_prev + incr)))  # lw_prev is normalised: LSE = 0
    got = weights.log_likelihood_increment(lw_prev, lw_prev + incr)
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_infinite_log_weights_take_all_the_mass():
    lw = jnp.array([0.0, jnp.inf, -1.0, jnp.inf, jnp.nan])
    np.testing.assert_array_equal(weights.normalize(lw), [0.0, 0.5, 0.0, 0.5, 0.0])
    assert float(weights.ess(lw)) == 2.0
    s = weights.summarize(lw)
    assert float(s.logsumexp) == np.inf and float(s.ess) == 2.0 and not bool(s.degenerate)
    np.testing.assert_array_equal(weights.log_normalize(jnp.array([0.0, jnp.inf])), [-np.inf, 0.0])
    assert float(weights.log_likelihood_increment(jnp.zeros(2), lw)) == np.inf
