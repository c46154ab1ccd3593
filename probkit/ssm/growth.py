"""The univariate non-stationary growth model (Gordon, Salmond & Smith 1993; Kitagawa 1996).

    x_0 ~ N(0, s0^2),
    x_t = b x_{t-1} + c x_{t-1} / (1 + x_{t-1}^2) + d cos(e (t - 1)) + sigma_x eps_t,
    y_t | x_t ~ N(a x_t^2, sigma_y^2).

A standard strongly nonlinear benchmark: the observation x^2 / 20 cannot tell x from -x, so
filtering distributions are bimodal. Defaults are those of `particles`' `Gordon_etal`
(a = 0.05, b = 0.5, c = 25, d = 8, e = 1.2, sigma_x = sqrt(10), sigma_y = 1, s0 = 2).
"""

import math
from typing import NamedTuple

import jax.numpy as jnp
import numpyro.distributions as dist

from probkit.core import validate
from probkit.core.types import Array
from probkit.ssm.model import StateSpaceModel

__all__ = ["GrowthParams", "nonlinear_growth", "nonlinear_growth_model"]


class GrowthParams(NamedTuple):
    """Parameters of the nonlinear growth model (`ssm.nonlinear_growth`).

    Attributes:
        a: () observation scale of x^2.
        b: () linear autoregression.
        c: () strength of the x / (1 + x^2) term.
        d: () amplitude of the cosine forcing.
        e: () frequency of the cosine forcing.
        sigma_x: () transition noise scale, > 0.
        sigma_y: () observation noise scale, > 0.
        s0: () scale of x_0, > 0.
    """

    a: Array  # () observation scale of x^2
    b: Array  # () linear autoregression
    c: Array  # () strength of the x / (1 + x^2) term
    d: Array  # () amplitude of the cosine forcing
    e: Array  # () frequency of the cosine forcing
    sigma_x: Array  # () transition noise scale, > 0
    sigma_y: Array  # () observation noise scale, > 0
    s0: Array  # () scale of x_0, > 0


def _mean(p: GrowthParams, x_prev, t):
    return p.b * x_prev + p.c * x_prev / (1.0 + x_prev**2) + p.d * jnp.cos(p.e * (t - 1))


def _initial(p: GrowthParams):
    return dist.Normal(jnp.zeros_like(p.s0), p.s0)


def _transition(p: GrowthParams, x_prev, t):
    return dist.Normal(_mean(p, x_prev, t), p.sigma_x)


def _observation(p: GrowthParams, x, t):
    return dist.Normal(p.a * x**2, p.sigma_y)


def _log_bound(p: GrowthParams):
    return -0.5 * math.log(2 * math.pi) - jnp.log(p.sigma_x)


nonlinear_growth_model = StateSpaceModel(
    initial=_initial,
    transition=_transition,
    observation=_observation,
    transition_log_bound=_log_bound,
    vectorized=True,
    name="NonlinearGrowth",
    params_type=GrowthParams,
)
"""The model object shared by every `nonlinear_growth(...)` call (one compilation for all)."""


_SQRT_10 = math.sqrt(10.0)


def nonlinear_growth(
    a=0.05, b=0.5, c=25.0, d=8.0, e=1.2, sigma_x=_SQRT_10, sigma_y=1.0, s0=2.0
) -> tuple[StateSpaceModel, GrowthParams]:
    """The growth model and its parameters (scalar state and observation).

    Examples:
        >>> model, params = ssm.nonlinear_growth()
        >>> xs, ys = ssm.simulate(jax.random.key(0), model, params, 5)
        >>> xs.shape, ys.shape
        ((5,), (5,))
    """
    values = dict(a=a, b=b, c=c, d=d, e=e, sigma_x=sigma_x, sigma_y=sigma_y, s0=s0)
    for name, v in values.items():
        validate.finite(name, v)
        if jnp.ndim(v) != 0:
            raise ValueError(f"{name} must be a scalar, got shape {jnp.shape(v)}")
    for name in ("sigma_x", "sigma_y", "s0"):
        if validate.is_concrete(jnp.asarray(values[name])) and not float(values[name]) > 0:
            raise ValueError(f"{name} must be > 0, got {values[name]}")
    dtype = jnp.result_type(float)
    return nonlinear_growth_model, GrowthParams(*(jnp.asarray(v, dtype) for v in values.values()))
