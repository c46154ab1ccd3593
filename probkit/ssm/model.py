"""The state-space model contract and the batched helpers every particle method uses.

A model is three functions returning numpyro distributions:

* `initial(params)` — law of x_0;
* `transition(params, x_prev, t)` — law of x_t given x_{t-1} (t >= 1);
* `observation(params, x, t)` — law of y_t given x_t (t >= 0);

plus an optional `transition_log_bound(params)`, an upper bound of log m(x_prev, x) over both
arguments, which enables rejection-based backward sampling.

The functions are written for one particle. Set `vectorized=True` when they also accept a
leading batch axis of particles (x of shape `(B, *state_shape)` giving a distribution of batch
shape `(B,)`): sampling then draws all particles with one key instead of one key per particle,
which is faster on CPU. Log-densities are always computed with `vmap`, which is exact either way.

Missing data: NaN entries of an observation are skipped. A fully missing y_t contributes
nothing; a partly missing one is marginalised exactly for multivariate normal, scalar and
`Independent` observation laws (the common cases) and refused otherwise.
"""

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpyro.distributions as dist

from probkit.core.types import Array, PRNGKey, PyTree

__all__ = [
    "StateSpaceModel",
    "initial_log_prob",
    "masked_log_prob",
    "observation_log_prob",
    "sample_initial",
    "sample_transition",
    "transition_log_prob",
]


@dataclasses.dataclass(frozen=True, eq=False)
class StateSpaceModel:
    """A state-space model as three functions returning numpyro distributions.

    Instances are hashable by identity, so they can be static arguments of `jax.jit`.
    `params_type`, when set (the built-in models set it), is the type `params` must have; the
    smoothers and filters check it eagerly, so a plain dict gets a clear error.

    Attributes:
        initial: `initial(params)` -> distribution of x_0.
        transition: `transition(params, x_prev, t)` -> distribution of x_t.
        observation: `observation(params, x, t)` -> distribution of y_t.
        transition_log_bound: optional `transition_log_bound(params)`: an upper bound of log m(x_t |
            x_prev), for rejection backward sampling.
        vectorized: the functions also accept a leading particle axis.
        name: shown in the repr.
        params_type: the type `params` must have, or None.
    """

    initial: Callable[[PyTree], dist.Distribution]
    transition: Callable[[PyTree, Array, Array], dist.Distribution]
    observation: Callable[[PyTree, Array, Array], dist.Distribution]
    transition_log_bound: Callable[[PyTree], Array] | None = None
    vectorized: bool = False
    name: str = "StateSpaceModel"
    params_type: type | None = None

    def __post_init__(self):
        for field in ("initial", "transition", "observation"):
            if not callable(getattr(self, field)):
                raise TypeError(f"StateSpaceModel.{field} must be callable")
        if self.transition_log_bound is not None and not callable(self.transition_log_bound):
            raise TypeError("StateSpaceModel.transition_log_bound must be callable or None")

    def __repr__(self) -> str:
        return f"{self.name}(vectorized={self.vectorized})"


def sample_initial(key: PRNGKey, model: StateSpaceModel, params, num: int) -> Array:
    """`num` independent draws of x_0: `(num, *state_shape)`.

    Examples:
        >>> model, params = ssm.stochastic_volatility()
        >>> ssm.sample_initial(jax.random.key(0), model, params, 100).shape
        (100,)
    """
    return model.initial(params).sample(key, (num,))


def sample_transition(key: PRNGKey, model: StateSpaceModel, params, x_prev: Array, t) -> Array:
    """One draw of x_t for each row of `x_prev` `(N, *state_shape)`.

    Examples:
        >>> model, params = ssm.linear_gaussian(F=0.9, Q=1.0, H=1.0, R=1.0, m0=0.0, P0=1.0)
        >>> ssm.sample_transition(jax.random.key(0), model, params, jnp.zeros((5, 1)), 1).shape
        (5, 1)
    """
    if model.vectorized:
        return model.transition(params, x_prev, t).sample(key)
    keys = jax.random.split(key, x_prev.shape[0])
    return jax.vmap(lambda k, xp: model.transition(params, xp, t).sample(k))(keys, x_prev)


def initial_log_prob(model: StateSpaceModel, params, x: Array) -> Array:
    """log chi(x_0) for each row of `x`: `(N,)`.

    Examples:
        >>> model, params = ssm.linear_gaussian(F=0.9, Q=1.0, H=1.0, R=1.0, m0=0.0, P0=1.0)
        >>> lp = ssm.initial_log_prob(model, params, jnp.zeros((3, 1)))  # N = 3 particles, dx = 1
        >>> lp.shape, round(float(lp[0]), 4)  # log N(0; 0, 1)
        ((3,), -0.9189)
    """
    return jax.vmap(lambda xi: model.initial(params).log_prob(xi))(x)


def transition_log_prob(model: StateSpaceModel, params, x_prev: Array, x: Array, t) -> Array:
    """log m(x_prev[i], x[i]) for each row: `(N,)` (rows of x_prev and x are paired).

    Examples:
        >>> model, params = ssm.linear_gaussian(F=1.0, Q=1.0, H=1.0, R=1.0, m0=0.0, P0=1.0)
        >>> x_prev, x = jnp.zeros((2, 1)), jnp.array([[0.0], [1.0]])  # paired rows
        >>> lp = ssm.transition_log_prob(model, params, x_prev, x, 1)
        >>> [round(v, 4) for v in lp.tolist()]  # log N(0; 0, 1), log N(1; 0, 1)
        [-0.9189, -1.4189]
    """
    return jax.vmap(lambda xp, xi: model.transition(params, xp, t).log_prob(xi))(x_prev, x)


def masked_log_prob(d: dist.Distribution, y: Array) -> Array:
    """log p(y) over the observed (non-NaN) entries of `y`; 0 when all are missing.

    `d` is an unbatched distribution with event shape `y.shape`.
    """
    mask = ~jnp.isnan(y)
    observed_all = jnp.all(mask)
    safe = jnp.where(mask, y, d.support.feasible_like(y))
    if y.ndim == 0:
        return jnp.where(mask, d.log_prob(safe), 0.0)
    if isinstance(d, dist.MultivariateNormal) and y.ndim == 1:
        m = mask.astype(d.loc.dtype)
        cov = d.covariance_matrix * jnp.outer(m, m) + jnp.diag(1.0 - m)
        diff = jnp.where(mask, y - d.loc, 0.0)
        # Whiten with the explicit inverse of the Cholesky factor: under vmap over particles
        # the factor is shared and this is a matmul, where numpyro's log_prob runs a batched
        # triangular solve that XLA on CPU executes ~300x slower for small matrices.
        chol = jnp.linalg.cholesky(cov)
        eye = jnp.eye(y.shape[0], dtype=chol.dtype)
        z = jax.scipy.linalg.solve_triangular(chol, eye, lower=True) @ diff
        half_log_det = jnp.sum(jnp.log(jnp.diagonal(chol)))
        return -0.5 * jnp.sum(z**2) - half_log_det - 0.5 * math.log(2 * math.pi) * jnp.sum(m)
    if isinstance(d, dist.Independent) and d.reinterpreted_batch_ndims == y.ndim:
        elementwise = d.base_dist.log_prob(safe)
        return jnp.sum(jnp.where(mask, elementwise, 0.0))
    # Any other law: only whole-step missingness can be skipped (checked eagerly by callers).
    return jnp.where(observed_all, d.log_prob(safe), 0.0)


def supports_partial_missing(d: dist.Distribution, y_ndim: int) -> bool:
    """Whether `masked_log_prob` can marginalise a partly missing observation from `d`."""
    return (
        y_ndim == 0
        or (isinstance(d, dist.MultivariateNormal) and y_ndim == 1)
        or (isinstance(d, dist.Independent) and d.reinterpreted_batch_ndims == y_ndim)
    )


def observation_log_prob(model: StateSpaceModel, params, x: Array, y: Array, t) -> Array:
    """log g(y | x[i]) for each particle `(N,)`, skipping NaN entries of `y`.

    Examples:
        >>> model, params = ssm.linear_gaussian(F=0.9, Q=1.0, H=1.0, R=1.0, m0=0.0, P0=1.0)
        >>> x = jnp.zeros((3, 1))  # N = 3 particles
        >>> ssm.observation_log_prob(model, params, x, jnp.zeros(1), 0).shape
        (3,)
        >>> ssm.observation_log_prob(model, params, x, jnp.full(1, jnp.nan), 0) == 0  # missing
        Array([ True,  True,  True], dtype=bool)
    """
    return jax.vmap(lambda xi: masked_log_prob(model.observation(params, xi, t), y))(x)
