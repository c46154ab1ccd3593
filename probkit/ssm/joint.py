"""The complete-data log-density log p(x_0:T-1, y_0:T-1 | params) of a state-space model.

    log χ(x_0) + Σ_{t>=1} log m(x_{t-1}, x_t) + Σ_t log g(y_t | x_t)    (NaN entries of y skipped)

Differentiable in `params` and in the path, so it is the log-density of a Gibbs block
"parameters given a path", e.g. a blackjax NUTS step alternating with conditional SMC.
"""

import jax
import jax.numpy as jnp

from probkit.core.types import Array, PyTree
from probkit.ssm import model as ssm_model
from probkit.ssm.model import StateSpaceModel

__all__ = ["log_joint"]


def log_joint(model: StateSpaceModel, params: PyTree, xs: Array, ys: Array) -> Array:
    """`log p(xs, ys | params)` for a path `xs` `(T, *state_shape)` and `ys` `(T, *obs_shape)`.

    Examples:
        >>> model, params = ssm.linear_gaussian(F=0.9, Q=1.0, H=1.0, R=1.0, m0=0.0, P0=1.0)
        >>> xs, ys = jnp.zeros((4, 1)), jnp.zeros((4, 1))  # T = 4
        >>> round(float(ssm.log_joint(model, params, xs, ys)), 4)  # 8 log N(0; 0, 1)
        -7.3515
    """
    T = xs.shape[0]
    ts = jnp.arange(T)
    lp0 = model.initial(params).log_prob(xs[0])
    obs = jax.vmap(lambda x, y, t: ssm_model.masked_log_prob(model.observation(params, x, t), y))(
        xs, ys, ts
    )
    if T == 1:
        return lp0 + jnp.sum(obs)
    trans = jax.vmap(lambda xp, x, t: model.transition(params, xp, t).log_prob(x))(
        xs[:-1], xs[1:], ts[1:]
    )
    return lp0 + jnp.sum(trans) + jnp.sum(obs)
