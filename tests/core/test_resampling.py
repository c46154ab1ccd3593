import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit.core import resampling
from probkit.testing import assert_within_se, keys

W = jnp.array([0.05, 0.3, 0.0, 0.15, 0.5])


@pytest.mark.parametrize("scheme", sorted(resampling.SCHEMES))
def test_offspring_counts_are_unbiased(x64, scheme):
    r = resampling.get(scheme)
    n = 7
    idx = jax.vmap(lambda k: r.resample(k, jnp.log(W), n))(keys(4000))
    counts = jax.vmap(lambda a: jnp.bincount(a, length=W.shape[0]))(idx)
    assert idx.dtype == jnp.int32 and int(idx.min()) >= 0 and int(idx.max()) < W.shape[0]
    assert int(counts[:, 2].max()) == 0  # zero weight is never chosen
    # E[count_j] = n W_j; zero-variance coordinates (deterministic counts) compare exactly.
    c = np.asarray(counts, float)
    det = c.std(0) == 0
    np.testing.assert_allclose(c.mean(0)[det], n * np.asarray(W)[det], atol=1e-12)
    assert_within_se(c[:, ~det], n * np.asarray(W)[~det], z=4, what=f"{scheme} counts")


@pytest.mark.parametrize("scheme", ["systematic", "residual"])
def test_low_variance_schemes_keep_counts_within_floor_and_ceil(scheme):
    r = resampling.get(scheme)
    n = 11
    idx = jax.vmap(lambda k: r.resample(k, jnp.log(W), n))(keys(500, seed=1))
    counts = np.asarray(jax.vmap(lambda a: jnp.bincount(a, length=5))(idx))
    lo = np.floor(n * np.asarray(W) - 1e-6)
    assert (counts >= lo).all()
    if scheme == "systematic":
        assert (counts <= np.ceil(n * np.asarray(W) + 1e-6)).all()


def test_systematic_matches_the_inverse_cdf_definition(x64):
    lw = jax.random.normal(jax.random.key(3), (50,))
    w = np.exp(lw - jax.nn.logsumexp(lw))
    key = jax.random.key(4)
    got = np.asarray(resampling.systematic.resample(key, lw, 50))
    u = float(jax.random.uniform(key, (), dtype=jnp.float64))
    points = (np.arange(50) + u) / 50
    expected = np.searchsorted(np.cumsum(w) / np.sum(w), points, side="right")
    np.testing.assert_array_equal(got, expected)


def test_degenerate_weights_resample_uniformly_without_nan():
    idx = resampling.systematic.resample(jax.random.key(0), jnp.full(8, -jnp.inf), 8)
    np.testing.assert_array_equal(np.sort(np.asarray(idx)), np.arange(8))


def test_unknown_scheme_is_a_clear_error():
    with pytest.raises(ValueError, match="resampling must be one of"):
        resampling.get("bogus")


@pytest.mark.parametrize("scheme", sorted(resampling.SCHEMES))
def test_eager_calls_reject_nan_and_empty_log_weights(scheme):
    r = resampling.get(scheme)
    k = jax.random.key(0)
    with pytest.raises(ValueError, match="log_weights has 1 NaN"):
        r.resample(k, jnp.array([0.0, jnp.nan, 0.0]), 3)
    with pytest.raises(ValueError, match="log_weights has 1 NaN"):
        r.conditional(k, jnp.array([0.0, jnp.nan, 0.0]), 0)
    with pytest.raises(ValueError, match="at least one entry"):
        r.resample(k, jnp.zeros(0), 3)
    with pytest.raises(ValueError, match="log_weights must have"):
        r.resample(k, jnp.zeros((2, 3)), 3)
    # inside compiled code nothing can raise: NaN counts as -inf (mass 0)
    idx = jax.jit(lambda lw: r.resample(k, lw, 50))(jnp.array([0.0, jnp.nan, 0.0]))
    assert not np.any(np.asarray(idx) == 1)
