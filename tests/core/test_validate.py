import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit.core import errors, validate


def test_positive_int_messages():
    with pytest.raises(ValueError, match="num_particles must be an integer >= 2, got 1"):
        validate.positive_int("num_particles", 1, minimum=2)
    with pytest.raises(TypeError, match="num_particles must be an integer"):
        validate.positive_int("num_particles", 2.5)
    with pytest.raises(TypeError):
        validate.positive_int("n", True)
    assert validate.positive_int("n", np.int64(3)) == 3


def test_probability_and_finite():
    with pytest.raises(ValueError, match=r"ess_threshold must be in \[0, 1\]"):
        validate.probability("ess_threshold", 1.5)
    with pytest.raises(ValueError, match="x must be finite; it has 1 NaN"):
        validate.finite("x", [1.0, np.nan])
    with pytest.raises(ValueError, match=r"params.*\['b'\] must be finite"):
        validate.finite_tree("params", {"a": 1.0, "b": jnp.array([np.inf])})


def test_matrices():
    with pytest.raises(ValueError, match="Q must be a square matrix"):
        validate.square_matrix("Q", np.ones((2, 3)))
    with pytest.raises(ValueError, match="Q must be positive definite"):
        validate.positive_definite("Q", np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="Q must be symmetric"):
        validate.positive_definite("Q", np.array([[1.0, 0.5], [0.0, 1.0]]))


def test_observations_and_keys():
    with pytest.raises(ValueError, match="ys contains infinite values; use NaN"):
        validate.observations("ys", [1.0, np.inf])
    with pytest.raises(ValueError, match="at least 1 dimension"):
        validate.observations("ys", 3.0)
    with pytest.raises(TypeError, match="key must be a single JAX PRNG key"):
        validate.key("key", 0)
    validate.key("key", jax.random.key(0))
    validate.key("key", jax.random.PRNGKey(0))


def test_check_finite_result():
    class R:
        failed = jnp.array(True)
        failed_at = jnp.array(3)

    with pytest.raises(errors.NumericalFailure, match="at step 3: a non-finite number"):
        errors.check_finite_result(R())

    class Batch:
        failed = jnp.array([False, True, True])

    with pytest.raises(errors.NumericalFailure, match="for 2 of 3 batch entries"):
        errors.check_finite_result(Batch())

    class Ok:
        failed = jnp.zeros(3, bool)

    errors.check_finite_result(Ok())
