import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest

from probkit import ssm
from probkit.ssm import model as ssm_model
from probkit.testing import assert_within_se


def test_simulate_shapes_and_stationary_sv_moments(x64):
    model, params = ssm.stochastic_volatility(mu=-1.0, rho=0.9, sigma=0.3)
    xs, ys = jax.vmap(lambda k: ssm.simulate(k, model, params, 5))(
        jax.random.split(jax.random.key(0), 4000)
    )
    assert xs.shape == (4000, 5) and ys.shape == (4000, 5)
    # stationary: mean mu, variance sigma^2 / (1 - rho^2) at every t
    assert_within_se(xs, -1.0 * np.ones(5), z=4, what="SV mean")
    assert_within_se((xs + 1.0) ** 2, 0.09 / 0.19 * np.ones(5), z=4, what="SV variance")


def test_vectorized_and_per_particle_sampling_have_the_same_law(x64):
    model, params = ssm.stochastic_volatility()
    loose = ssm.StateSpaceModel(model.initial, model.transition, model.observation)
    x_prev = jnp.linspace(-2, 0, 6)
    a = jax.vmap(lambda k: ssm_model.sample_transition(k, model, params, x_prev, 1))(
        jax.random.split(jax.random.key(1), 3000)
    )
    b = jax.vmap(lambda k: ssm_model.sample_transition(k, loose, params, x_prev, 1))(
        jax.random.split(jax.random.key(2), 3000)
    )
    expected = params.mu + params.rho * (x_prev - params.mu)
    assert_within_se(a, expected, z=4)
    assert_within_se(b, expected, z=4)


def test_masked_log_prob_marginalises_missing_coordinates(x64):
    cov = jnp.array([[1.0, 0.3, 0.1], [0.3, 2.0, 0.2], [0.1, 0.2, 0.5]])
    d = dist.MultivariateNormal(jnp.array([0.1, -0.2, 0.3]), covariance_matrix=cov)
    y = jnp.array([0.5, jnp.nan, -0.1])
    marginal = dist.MultivariateNormal(
        d.loc[jnp.array([0, 2])],
        covariance_matrix=cov[jnp.ix_(jnp.array([0, 2]), jnp.array([0, 2]))],
    )
    np.testing.assert_allclose(
        ssm_model.masked_log_prob(d, y), marginal.log_prob(y[jnp.array([0, 2])]), rtol=1e-12
    )
    ind = dist.Normal(jnp.zeros(3), 1.0).to_event(1)
    np.testing.assert_allclose(
        ssm_model.masked_log_prob(ind, y),
        dist.Normal(0.0, 1.0).log_prob(y[jnp.array([0, 2])]).sum(),
    )
    assert float(ssm_model.masked_log_prob(d, jnp.full(3, jnp.nan))) == 0.0


def test_model_and_parameter_validation():
    with pytest.raises(TypeError, match="StateSpaceModel.transition must be callable"):
        ssm.StateSpaceModel(lambda p: None, 3, lambda p, x, t: None)
    with pytest.raises(ValueError, match=r"rho must satisfy \|rho\| < 1"):
        ssm.stochastic_volatility(rho=1.0)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        ssm.stochastic_volatility(sigma=0.0)
    with pytest.raises(ValueError, match="num_steps must be an integer >= 1"):
        ssm.simulate(jax.random.key(0), *ssm.stochastic_volatility(), 0)
