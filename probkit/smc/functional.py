"""Additive functionals h(x_0:T-1) = initial(x_0) + Σ_{t=1}^{T-1} increment(x_{t-1}, x_t, t).

The smoothers (`smc.paris`, `smc.ppg`) estimate E[h(X_0:T-1) | y_0:T-1] for such an h. Values
are arbitrary pytrees of float arrays: a scalar, a vector, a matrix, or a gradient shaped like
the model parameters. Plain functionals see only states and the time index:

    h = smc.AdditiveFunctional(initial=lambda x0: x0, increment=lambda x_prev, x, t: x)

With `with_context=True` both functions also receive a `FunctionalContext` (the parameters the
smoother runs at and the observation at that time) as a last argument. That is how a functional
depends on parameters that change between calls without recompiling — the score of Fisher's
identity (`score_functional`) is one:

    ∇θ log p(y_0:T-1) = E[ ∇θ log χ(X_0) g(y_0|X_0) + Σ_t ∇θ log m(X_{t-1}, X_t) g(y_t|X_t) | y ].

`AdditiveFunctional` objects are hashable by identity and are static arguments of the compiled
smoothers: create one and reuse it (a new object means a new compilation).
"""

import dataclasses
import math
import weakref
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from probkit.core import validate
from probkit.core.types import Array, PyTree
from probkit.ssm import model as ssm_model
from probkit.ssm.model import StateSpaceModel

__all__ = [
    "AdditiveFunctional",
    "FunctionalContext",
    "check_functional",
    "evaluate_increment",
    "evaluate_initial",
    "leaf_names",
    "score_functional",
]


class FunctionalContext(NamedTuple):
    """What an additive functional may read besides the states: parameters and observation.

    Attributes:
        params: the parameters the smoother was called with.
        y: the observation at the time of the (last) state, NaN where missing.
    """

    params: PyTree  # the parameters the smoother was called with
    y: Array  # the observation at the time of the (last) state, NaN where missing


@dataclasses.dataclass(frozen=True, eq=False)
class AdditiveFunctional:
    """h(x_0:T-1) = initial(x_0) + Σ_{t>=1} increment(x_{t-1}, x_t, t), for one particle.

    Attributes:
        initial: `x0 -> pytree` (or `(x0, ctx) -> pytree` with `with_context`).
        increment: `(x_prev, x, t) -> pytree` (or `(x_prev, x, t, ctx) -> pytree`), with the
            same structure and shapes as `initial`'s value.
        with_context: pass a `FunctionalContext(params, y)` as the last argument.
        name: shown in error messages.
    """

    initial: Callable
    increment: Callable
    with_context: bool = False
    name: str = "functional"

    def __post_init__(self):
        if not callable(self.initial) or not callable(self.increment):
            raise TypeError("AdditiveFunctional.initial and .increment must be callable")

    def __repr__(self) -> str:
        return f"AdditiveFunctional({self.name})"


def _as_float(tree, dtype):
    def leaf(v):
        v = jnp.asarray(v)
        return v if jnp.issubdtype(v.dtype, jnp.floating) else v.astype(dtype)

    return jax.tree.map(leaf, tree)


def evaluate_initial(h: AdditiveFunctional, x0: Array, params: PyTree, y0: Array) -> PyTree:
    """h.initial on every particle `x0` `(N, *state_shape)`: leaves `(N, *h_shape)`."""
    ctx = FunctionalContext(params, y0)
    if h.with_context:
        out = jax.vmap(lambda x: h.initial(x, ctx))(x0)
    else:
        out = jax.vmap(h.initial)(x0)
    return _as_float(out, x0.dtype)


def evaluate_increment(
    h: AdditiveFunctional, x_prev: Array, x: Array, t, params: PyTree, y: Array
) -> PyTree:
    """h.increment on paired rows `x_prev[i], x[i]` `(N, *state_shape)`: leaves `(N, *h_shape)`."""
    ctx = FunctionalContext(params, y)
    if h.with_context:
        out = jax.vmap(lambda xp, xi: h.increment(xp, xi, t, ctx))(x_prev, x)
    else:
        out = jax.vmap(lambda xp, xi: h.increment(xp, xi, t))(x_prev, x)
    return _as_float(out, x.dtype)


def check_functional(
    functional,
    model: StateSpaceModel,
    params: PyTree,
    ys: Array,
    key,
    *,
    argname: str = "functional",
) -> AdditiveFunctional:
    """Eager check: `functional` is an `AdditiveFunctional` whose values are finite float pytrees
    of one structure, evaluated at a few draws from the model. Raises `TypeError`/`ValueError`."""
    if not isinstance(functional, AdditiveFunctional):
        raise TypeError(
            f"{argname} must be a probkit.smc.AdditiveFunctional, got {type(functional).__name__}"
        )
    if not all(validate.is_concrete(leaf) for leaf in jax.tree.leaves((params, ys))):
        return functional  # inside a user's jit: shapes are checked at trace time instead
    with jax.ensure_compile_time_eval():
        return _check_values(functional, model, params, ys, key, argname)


@partial(jax.jit, static_argnames=("functional", "model"))
def _evaluate_at_draws(functional, model, params, y0, y1):
    # Fixed draws: the check must neither depend on nor trace the caller's key.
    k0, k1 = jax.random.split(jax.random.key(0x5EED))
    x0 = ssm_model.sample_initial(k0, model, params, 4)
    x1 = ssm_model.sample_transition(k1, model, params, x0, 1)
    return (
        evaluate_initial(functional, x0, params, y0),
        evaluate_increment(functional, x0, x1, 1, params, y1),
    )


def _check_values(functional, model, params, ys, key, argname):
    del key
    try:
        v0, v1 = _evaluate_at_draws(functional, model, params, ys[0], ys[min(1, ys.shape[0] - 1)])
    except (TypeError, ValueError) as exc:  # re-raise naming the argument
        raise type(exc)(
            f"{argname} ({functional!r}) failed on draws from the model: {exc}"
        ) from exc
    s0, s1 = jax.tree.structure(v0), jax.tree.structure(v1)
    if s0 != s1:
        raise ValueError(
            f"{argname}.initial and {argname}.increment must return the same pytree structure, "
            f"got {s0} and {s1}"
        )
    for a, b in zip(jax.tree.leaves(v0), jax.tree.leaves(v1)):
        if a.shape != b.shape:
            raise ValueError(
                f"{argname}.initial and {argname}.increment must return leaves of equal shapes, "
                f"got {a.shape[1:]} and {b.shape[1:]}"
            )
    if not all(validate.is_concrete(v) for v in jax.tree.leaves((v0, v1))):
        return functional
    for which, vals in (("initial", v0), ("increment", v1)):
        for leaf in jax.tree.leaves(vals):
            if not np.all(np.isfinite(np.asarray(leaf))):
                raise ValueError(
                    f"{argname}.{which} returned non-finite values (NaN or inf) at draws from "
                    f"the model; smoothed expectations of it are undefined"
                )
    return functional


def leaf_names(tree: PyTree, prefix: str = "") -> dict[str, Array]:
    """`{name: leaf}` with readable names (`prefix` + dict keys / fields / indices joined by
    "."), for exporting pytree-valued draws to ArviZ."""
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        parts = []
        for k in path:
            for attr in ("key", "name", "idx"):
                if hasattr(k, attr):
                    parts.append(str(getattr(k, attr)))
                    break
        name = ".".join(parts)
        out[(prefix + "." + name if name else prefix) if prefix else (name or "value")] = leaf
    return out


def log_prob(d, x: Array) -> Array:
    """`d.log_prob(x)` for one particle. A multivariate normal is whitened by the explicit
    inverse of its Cholesky factor: under vmap over particles the factor is shared and this is
    a matmul, where numpyro runs a batched triangular solve (very slow on CPU for small dx)."""
    if isinstance(d, dist.MultivariateNormal) and x.ndim == 1:
        L = d.scale_tril
        if all(s == 1 for s in L.shape[:-2]):
            L = L.reshape(L.shape[-2:])
            inv = jax.scipy.linalg.solve_triangular(
                L, jnp.eye(x.shape[0], dtype=L.dtype), lower=True
            )
            z = inv @ (x - d.loc.reshape(x.shape))
            half_log_det = jnp.sum(jnp.log(jnp.diagonal(L)))
            return -0.5 * jnp.sum(z**2) - half_log_det - 0.5 * x.shape[0] * math.log(2 * math.pi)
    return d.log_prob(x)


# --- the score of Fisher's identity --------------------------------------------------------

_SCORES: "weakref.WeakKeyDictionary[StateSpaceModel, AdditiveFunctional]" = (
    weakref.WeakKeyDictionary()
)


def score_functional(model: StateSpaceModel) -> AdditiveFunctional:
    """The additive functional whose smoothed expectation is ∇ log p(y_0:T-1) (Fisher's identity).

    Its value has the structure of the `params` the smoother runs at; both pieces are
    derivatives of the log-densities at those params (forward-mode `jax.jacfwd`, efficient for
    the usual handful of parameters; no differentiation through resampling):

        initial(x_0) = ∇ log χ(x_0) + ∇ log g(y_0 | x_0),
        increment(x_t-1, x_t, t) = ∇ log m(x_t-1, x_t) + ∇ log g(y_t | x_t).

    To differentiate with respect to a transformed variable u (log-scales, ...), run the
    smoother on `smc.learning.reparametrized(model, fn)` at u. The same object is returned for
    the same model, so smoothers called with it compile once per model.

    Examples:
        >>> from probkit import ssm
        >>> model, params = ssm.linear_gaussian(F=0.9, Q=1.0, H=1.0, R=1.0, m0=0.0, P0=1.0)
        >>> _, ys = ssm.simulate(jax.random.key(0), model, params, 10)  # (T, dy)
        >>> score = smc.score_functional(model)  # ∇ log p(y_0:T-1) by Fisher's identity
        >>> score is smc.score_functional(model)  # one object per model: compiled once
        True
        >>> ctx = smc.FunctionalContext(params, ys[0])
        >>> g0 = score.initial(jnp.zeros(1), ctx)  # the first term at x_0 = 0, shaped like params
        >>> type(g0).__name__, g0.F.shape, g0.Q.shape
        ('LinearGaussianParams', (1, 1), (1, 1))
        >>> # smc.paris(key, model, params, ys, score, N).estimate is then the score estimate
    """
    cached = _SCORES.get(model)
    if cached is not None:
        return cached

    def log_first(params, x0, y0):
        return log_prob(model.initial(params), x0) + ssm_model.masked_log_prob(
            model.observation(params, x0, 0), y0
        )

    def log_pair(params, x_prev, x, t, y):
        return log_prob(model.transition(params, x_prev, t), x) + ssm_model.masked_log_prob(
            model.observation(params, x, t), y
        )

    # Forward mode: the tangents of parameter-only work (a Cholesky factor, its inverse) do not
    # depend on the particle, so under vmap over particles they are computed once, where reverse
    # mode would transpose that linear algebra once per particle (slow batched solves on CPU).
    def initial(x0, ctx):
        return jax.jacfwd(log_first)(ctx.params, x0, ctx.y)

    def increment(x_prev, x, t, ctx):
        return jax.jacfwd(log_pair)(ctx.params, x_prev, x, t, ctx.y)

    h = AdditiveFunctional(initial, increment, with_context=True, name=f"score of {model!r}")
    _SCORES[model] = h
    return h
