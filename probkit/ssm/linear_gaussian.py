"""Linear-Gaussian state-space model of any state/observation dimension.

    x_0 ~ N(m0, P0),   x_t = F x_{t-1} + N(0, Q),   y_t = H x_t + N(0, R).

`linear_gaussian(F, Q, H, R, m0, P0)` returns `(model, params)`; the exact references for it
(`kalman_filter`, `rts_smoother`) are in `probkit.ssm.kalman`.
"""

import math
from typing import NamedTuple

import jax.numpy as jnp
import numpyro.distributions as dist

from probkit.core import validate
from probkit.core.types import Array, ArrayLike
from probkit.ssm.model import StateSpaceModel

__all__ = ["LinearGaussianParams", "check_params", "linear_gaussian", "linear_gaussian_model"]


class LinearGaussianParams(NamedTuple):
    """Parameters of a linear-Gaussian state-space model (`ssm.linear_gaussian`).

    Attributes:
        F: (dx, dx) transition matrix.
        Q: (dx, dx) transition noise covariance.
        H: (dy, dx) observation matrix.
        R: (dy, dy) observation noise covariance.
        m0: (dx,) initial mean.
        P0: (dx, dx) initial covariance.
    """

    F: Array  # (dx, dx) transition matrix
    Q: Array  # (dx, dx) transition noise covariance
    H: Array  # (dy, dx) observation matrix
    R: Array  # (dy, dy) observation noise covariance
    m0: Array  # (dx,) initial mean
    P0: Array  # (dx, dx) initial covariance

    @property
    def state_dim(self) -> int:
        return self.F.shape[0]

    @property
    def obs_dim(self) -> int:
        return self.H.shape[0]


def _initial(p: LinearGaussianParams):
    return dist.MultivariateNormal(p.m0, covariance_matrix=p.P0)


def _transition(p: LinearGaussianParams, x_prev, t):
    return dist.MultivariateNormal(x_prev @ p.F.T, covariance_matrix=p.Q)


def _observation(p: LinearGaussianParams, x, t):
    return dist.MultivariateNormal(x @ p.H.T, covariance_matrix=p.R)


def _log_bound(p: LinearGaussianParams):
    dx = p.Q.shape[0]
    _, logdet = jnp.linalg.slogdet(p.Q)
    return -0.5 * (dx * math.log(2 * math.pi) + logdet)


linear_gaussian_model = StateSpaceModel(
    initial=_initial,
    transition=_transition,
    observation=_observation,
    transition_log_bound=_log_bound,
    vectorized=True,
    name="LinearGaussian",
    params_type=LinearGaussianParams,
)
"""The model object shared by every `linear_gaussian(...)` call (one compilation for all)."""


def check_params(params: LinearGaussianParams, name: str = "params") -> LinearGaussianParams:
    """Validate shapes, finiteness and positive-definiteness; returns float arrays."""
    if not isinstance(params, LinearGaussianParams):
        raise TypeError(f"{name} must be LinearGaussianParams, got {type(params).__name__}")
    dtype = jnp.result_type(float)
    F = validate.square_matrix(f"{name}.F", params.F)
    dx = F.shape[0]
    Q = validate.positive_definite(f"{name}.Q", params.Q, dx)
    H = validate.finite(f"{name}.H", params.H)
    if H.ndim != 2 or H.shape[1] != dx:
        raise ValueError(f"{name}.H must have shape (obs_dim, {dx}), got {H.shape}")
    R = validate.positive_definite(f"{name}.R", params.R, H.shape[0])
    m0 = validate.finite(f"{name}.m0", params.m0)
    if m0.shape != (dx,):
        raise ValueError(f"{name}.m0 must have shape ({dx},), got {m0.shape}")
    P0 = validate.positive_definite(f"{name}.P0", params.P0, dx)
    return LinearGaussianParams(*(jnp.asarray(a, dtype) for a in (F, Q, H, R, m0, P0)))


def linear_gaussian(
    F: ArrayLike, Q: ArrayLike, H: ArrayLike, R: ArrayLike, m0: ArrayLike, P0: ArrayLike
) -> tuple[StateSpaceModel, LinearGaussianParams]:
    """Linear-Gaussian model and its parameters.

    Shapes: `F` `(dx, dx)`, `Q` `(dx, dx)`, `H` `(dy, dx)`, `R` `(dy, dy)`, `m0` `(dx,)`,
    `P0` `(dx, dx)`; states are `(dx,)` vectors and observations `(dy,)` vectors.

    Scalars are accepted for a one-dimensional model (`F=0.9` means `[[0.9]]`). Raises
    `ValueError` naming the argument on inconsistent shapes, non-finite values, or a covariance
    that is not symmetric positive definite.

    Examples:
        >>> F, Q = jnp.array([[1.0, 1.0], [0.0, 1.0]]), 0.1 * jnp.eye(2)  # dx = 2
        >>> H, R = jnp.array([[1.0, 0.0]]), jnp.eye(1)  # dy = 1
        >>> model, params = ssm.linear_gaussian(F, Q, H, R, m0=jnp.zeros(2), P0=jnp.eye(2))
        >>> params.F.shape, params.H.shape, params.m0.shape
        ((2, 2), (1, 2), (2,))
    """

    def mat(a):
        a = jnp.asarray(a)
        return a.reshape(1, 1) if a.ndim == 0 else a

    m0 = jnp.asarray(m0)
    params = LinearGaussianParams(
        mat(F), mat(Q), mat(H), mat(R), m0.reshape(1) if m0.ndim == 0 else m0, mat(P0)
    )
    return linear_gaussian_model, check_params(params, name="linear_gaussian")
