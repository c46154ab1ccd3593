"""Draw a state path and observations from a state-space model."""

from functools import partial

import jax

from probkit.core import validate
from probkit.core.types import Array, PRNGKey
from probkit.ssm.model import StateSpaceModel

__all__ = ["simulate"]


@partial(jax.jit, static_argnames=("model", "num_steps"))
def _simulate(key, model, params, num_steps):
    k0, k_obs0, k_rest = jax.random.split(key, 3)
    x0 = model.initial(params).sample(k0)
    y0 = model.observation(params, x0, 0).sample(k_obs0)

    def step(x_prev, inp):
        k, t = inp
        kx, ky = jax.random.split(k)
        x = model.transition(params, x_prev, t).sample(kx)
        y = model.observation(params, x, t).sample(ky)
        return x, (x, y)

    keys = jax.random.split(k_rest, num_steps - 1)
    ts = jax.numpy.arange(1, num_steps)
    _, (xs, ys) = jax.lax.scan(step, x0, (keys, ts))
    xs = jax.tree.map(lambda a, b: jax.numpy.concatenate([a[None], b]), x0, xs)
    ys = jax.tree.map(lambda a, b: jax.numpy.concatenate([a[None], b]), y0, ys)
    return xs, ys


def simulate(key: PRNGKey, model: StateSpaceModel, params, num_steps: int) -> tuple[Array, Array]:
    """`(xs, ys)` of shapes `(num_steps, *state_shape)` and `(num_steps, *obs_shape)`.

    Examples:
        >>> model, params = ssm.linear_gaussian(F=0.9, Q=1.0, H=1.0, R=1.0, m0=0.0, P0=1.0)
        >>> xs, ys = ssm.simulate(jax.random.key(0), model, params, 10)
        >>> xs.shape, ys.shape
        ((10, 1), (10, 1))
    """
    validate.key("key", key)
    if not isinstance(model, StateSpaceModel):
        raise TypeError(f"model must be a StateSpaceModel, got {type(model).__name__}")
    validate.positive_int("num_steps", num_steps, minimum=1)
    validate.finite_tree("params", params)
    if num_steps == 1:
        k0, k1, _ = jax.random.split(key, 3)
        x0 = model.initial(params).sample(k0)
        return x0[None], model.observation(params, x0, 0).sample(k1)[None]
    return _simulate(key, model, params, num_steps)
