"""Univariate stochastic volatility (the `particles` StochVol parametrisation).

x_0 ~ N(mu, sigma^2 / (1 - rho^2)),  x_t = mu + rho (x_{t-1} - mu) + sigma eps_t,
y_t | x_t ~ N(0, exp(x_t)).
"""

import math
from typing import NamedTuple

import jax.numpy as jnp
import numpyro.distributions as dist

from probkit.core import validate
from probkit.core.types import Array
from probkit.ssm.model import StateSpaceModel

__all__ = ["StochVolParams", "stochastic_volatility", "stochastic_volatility_model"]


class StochVolParams(NamedTuple):
    """Parameters of the stochastic-volatility model (`ssm.stochastic_volatility`).

    Attributes:
        mu: () long-run mean of the log-variance.
        rho: () autocorrelation, |rho| < 1.
        sigma: () innovation scale, > 0.
    """

    mu: Array  # () long-run mean of the log-variance
    rho: Array  # () autocorrelation, |rho| < 1
    sigma: Array  # () innovation scale, > 0


def _initial(p: StochVolParams):
    return dist.Normal(p.mu, p.sigma / jnp.sqrt(1.0 - p.rho**2))


def _transition(p: StochVolParams, x_prev, t):
    return dist.Normal(p.mu + p.rho * (x_prev - p.mu), p.sigma)


def _observation(p: StochVolParams, x, t):
    return dist.Normal(0.0, jnp.exp(0.5 * x))


def _log_bound(p: StochVolParams):
    return -0.5 * math.log(2 * math.pi) - jnp.log(p.sigma)


stochastic_volatility_model = StateSpaceModel(
    initial=_initial,
    transition=_transition,
    observation=_observation,
    transition_log_bound=_log_bound,
    vectorized=True,
    name="StochasticVolatility",
    params_type=StochVolParams,
)
"""The stochastic-volatility `StateSpaceModel` (parameters: `StochVolParams`)."""


def stochastic_volatility(mu=-1.0, rho=0.95, sigma=0.2) -> tuple[StateSpaceModel, StochVolParams]:
    """Stochastic-volatility model and its parameters (scalar state and observation).

    Examples:
        >>> model, params = ssm.stochastic_volatility(mu=-1.0, rho=0.9, sigma=0.3)
        >>> xs, ys = ssm.simulate(jax.random.key(0), model, params, 20)
        >>> xs.shape, ys.shape, params.rho.dtype
        ((20,), (20,), dtype('float32'))
    """
    for name, v in (("mu", mu), ("rho", rho), ("sigma", sigma)):
        validate.finite(name, v)
    if validate.is_concrete(jnp.asarray(rho)) and not abs(float(rho)) < 1:
        raise ValueError(f"rho must satisfy |rho| < 1 (stationary), got {rho}")
    if validate.is_concrete(jnp.asarray(sigma)) and not float(sigma) > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    dtype = jnp.result_type(float)
    params = StochVolParams(*(jnp.asarray(v, dtype) for v in (mu, rho, sigma)))
    return stochastic_volatility_model, params
