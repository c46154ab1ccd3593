"""Shared models and exact references for the smoothing tests (built once per session)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit import smc, ssm


@pytest.fixture(scope="session")
def lgssm_2d():
    """2-D linear-Gaussian model, T = 20, with RTS references for Σ x_t and Σ x_t x_t+1ᵀ."""
    with jax.enable_x64(True):
        F = jnp.array([[0.9, 0.2], [-0.1, 0.7]])
        model, params = ssm.linear_gaussian(
            F,
            0.5 * jnp.eye(2),
            jnp.array([[1.0, 0.5], [0.0, 1.0]]),
            0.3 * jnp.eye(2),
            jnp.zeros(2),
            jnp.eye(2),
        )
        _, ys = ssm.simulate(jax.random.key(3), model, params, 20)
        rts = ssm.rts_smoother(params, ys)
        m = np.asarray(rts.means)
        pair = sum(np.outer(m[t], m[t + 1]) + np.asarray(rts.cross_covs[t]) for t in range(19))
        exact = (m.sum(0), pair)
        return model, params, ys, exact


_SUM_AND_PAIRS = smc.AdditiveFunctional(
    initial=lambda x0: (x0, jnp.zeros((x0.shape[0], x0.shape[0]), x0.dtype)),
    increment=lambda x_prev, x, t: (x, jnp.outer(x_prev, x)),
    name="sum and lag-one products",
)


@pytest.fixture(scope="session")
def sum_and_pairs():
    """h = (Σ_t x_t, Σ_t x_t x_t+1ᵀ): a pytree-valued functional (one object: one compilation)."""
    return _SUM_AND_PAIRS


@pytest.fixture(scope="session")
def lg_params_of():
    """The parametrization u -> 1-D linear-Gaussian parameters."""
    return _lg_1d_params


def _lg_1d_params(u):
    """u = {rho, log_sx, log_sy} -> 1-D linear-Gaussian parameters (m0 = 0, P0 = 1)."""
    one = jnp.ones((1, 1), u["rho"].dtype)
    return ssm.LinearGaussianParams(
        u["rho"] * one,
        jnp.exp(2 * u["log_sx"]) * one,
        one,
        jnp.exp(2 * u["log_sy"]) * one,
        jnp.zeros(1, u["rho"].dtype),
        one,
    )


@pytest.fixture(scope="session")
def lgssm_1d():
    """1-D linear-Gaussian model on u = (rho, log sigma_x, log sigma_y), T = 10, with the exact
    score jax.grad(Kalman log-likelihood)(u) and the smoothing moments."""
    with jax.enable_x64(True):
        model, _ = ssm.linear_gaussian(0.8, 1.0, 1.0, 0.5, 0.0, 1.0)
        u = {
            "rho": jnp.array(0.8),
            "log_sx": jnp.array(0.0),
            "log_sy": jnp.array(0.5 * np.log(0.5)),
        }
        _, ys = ssm.simulate(jax.random.key(11), model, _lg_1d_params(u), 10)
        score = jax.grad(lambda v: ssm.kalman_filter(_lg_1d_params(v), ys).log_likelihood)(u)
        model_u = smc.learning.reparametrized(model, _lg_1d_params)
        return model, model_u, u, ys, score
