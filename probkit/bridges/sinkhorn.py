"""Entropic optimal transport by log-domain Sinkhorn, and the Sinkhorn divergence.

Convention (documented in docs/bridges.md): for weights a (n,), b (m,) and a cost (n, m),

    OT_eps(a, b) = min_P <P, C> + eps * KL(P || a b^T)   over couplings P of a and b,

so sigma^2 := eps / 2 is the Brownian-bridge noise of the matching Schroedinger bridge (cost
squared Euclidean). Potentials f (n,), g (m,) give P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)
and OT_eps = <f, a> + <g, b> at convergence. Cost per iteration O(n m); `jit`/`vmap`-able (under
`vmap` every problem runs until the slowest one has converged).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from probkit.core import sharding as sharding_mod
from probkit.core import validate
from probkit.core.types import Array, ArrayLike

__all__ = [
    "SinkhornResult",
    "batched_sinkhorn",
    "sinkhorn",
    "sinkhorn_unchecked",
    "sinkhorn_divergence",
    "squared_euclidean",
    "check_weights",
]


class SinkhornResult(NamedTuple):
    """Entropic OT coupling from `sinkhorn`, its costs, dual potentials and convergence flags.

    Attributes:
        plan: (n, m) coupling P.
        cost: () OT_eps = <P, C> + eps KL(P || a b^T).
        transport_cost: () <P, C>.
        f: (n,) dual potential of a.
        g: (m,) dual potential of b.
        iterations: () int32, Sinkhorn sweeps done.
        error: () L1 error of the row marginals (columns are met exactly).
        converged: () bool, error <= threshold.
        failed: () bool, a potential or the plan is not finite.
    """

    plan: Array  # (n, m) coupling P
    cost: Array  # () OT_eps = <P, C> + eps KL(P || a b^T)
    transport_cost: Array  # () <P, C>
    f: Array  # (n,) dual potential of a
    g: Array  # (m,) dual potential of b
    iterations: Array  # () int32, Sinkhorn sweeps done
    error: Array  # () L1 error of the row marginals (columns are met exactly)
    converged: Array  # () bool, error <= threshold
    failed: Array  # () bool, a potential or the plan is not finite


def squared_euclidean(x: ArrayLike, y: ArrayLike) -> Array:
    """(n, m) matrix of ||x_i - y_j||^2 for x (n, d), y (m, d).

    Examples:
        >>> bridges.squared_euclidean(jnp.zeros((2, 2)), jnp.array([[1.0, 1.0], [3.0, 4.0]]))
        Array([[ 2., 25.],
               [ 2., 25.]], dtype=float32)
    """
    x, y = jnp.asarray(x), jnp.asarray(y)
    sq = jnp.sum(x**2, -1)[:, None] + jnp.sum(y**2, -1)[None, :] - 2.0 * x @ y.T
    return jnp.maximum(sq, 0.0)


def check_weights(name: str, w: ArrayLike, size: int | None = None) -> Array:
    """A (size,) probability vector: finite, >= 0, summing to 1 (to 1e-4 relative)."""
    w = validate.finite(name, w)
    w = validate.array(name, w, ndim=1, shape=None if size is None else (size,))
    validate.stochastic(name, w, what="weights", atol=1e-4)
    return w


def _log(w):
    return jnp.where(w > 0, jnp.log(jnp.where(w > 0, w, 1.0)), -jnp.inf)


_DECAY = 0.8  # epsilon-scaling factor per sweep


def sinkhorn_unchecked(a, b, cost, epsilon, f0, g0, threshold, max_iterations, epsilon_start=None):
    """`sinkhorn` without argument checks (for callers inside compiled code): weights a (n,),
    b (m,), cost (n, m), starting potentials f0 (n,) and g0 (m,) or None."""
    la, lb = _log(a), _log(b)
    eps_start = epsilon if epsilon_start is None else jnp.maximum(epsilon_start, epsilon)

    def f_update(g, eps):  # rows of P sum to a
        return -eps * jax.nn.logsumexp(lb[None, :] + (g[None, :] - cost) / eps, axis=1)

    def g_update(f, eps):  # columns of P sum to b
        return -eps * jax.nn.logsumexp(la[:, None] + (f[:, None] - cost) / eps, axis=0)

    def row_error(f, f_next, eps):
        # with columns exact, row i of P sums to a_i exp((f_i - f_next_i) / eps)
        r = jnp.where(a > 0, a * jnp.expm1((f - f_next) / eps), 0.0)
        return jnp.sum(jnp.abs(r))

    def eps_at(it):
        return jnp.maximum(epsilon, eps_start * _DECAY ** it.astype(cost.dtype))

    def cond(state):
        _, _, err, it = state
        return (it < max_iterations) & (err > threshold) & ~jnp.isnan(err)

    def body(state):
        f, g, _, it = state
        eps = eps_at(it)
        f_next = f_update(g, eps)
        err = row_error(f, f_next, eps)
        done = (err <= threshold) & (eps <= epsilon)
        err = jnp.where(eps <= epsilon, err, jnp.inf)
        g_next = g_update(f_next, eps)
        f = jnp.where(done, f, f_next)
        g = jnp.where(done, g, g_next)
        return f, g, err, it + jnp.where(done, 0, 1)

    g = g_update(f0, eps_start) if g0 is None else g0
    inf = jnp.asarray(jnp.inf, cost.dtype)
    f, g, err, it = jax.lax.while_loop(cond, body, (f0, g, inf, jnp.int32(0)))
    err = row_error(f, f_update(g, epsilon), epsilon)
    logp = la[:, None] + lb[None, :] + (f[:, None] + g[None, :] - cost) / epsilon
    plan = jnp.exp(logp)
    transport = jnp.sum(jnp.where(plan > 0, plan * cost, 0.0))
    dual = jnp.sum(jnp.where(a > 0, a * f, 0.0)) + jnp.sum(jnp.where(b > 0, b * g, 0.0))
    # primal value <P,C> + eps KL(P||ab^T); equals the dual at convergence
    kl = jnp.sum(jnp.where(plan > 0, plan * (logp - la[:, None] - lb[None, :]), 0.0))
    value = jnp.where(err <= threshold, dual, transport + epsilon * (kl - jnp.sum(plan) + 1.0))
    failed = ~(jnp.all(jnp.isfinite(f)) & jnp.all(jnp.isfinite(g)) & jnp.all(jnp.isfinite(plan)))
    return SinkhornResult(
        plan, value, transport, f, g, it, err, (err <= threshold) & ~failed, failed
    )


_sinkhorn_jit = jax.jit(sinkhorn_unchecked, static_argnames=("max_iterations",))


def sinkhorn(
    a: ArrayLike,
    b: ArrayLike,
    cost: ArrayLike,
    epsilon: float = 1.0,
    *,
    init: tuple[ArrayLike, ArrayLike] | None = None,
    epsilon_start: float | None = None,
    threshold: float = 1e-6,
    max_iterations: int = 10_000,
) -> SinkhornResult:
    """Entropic OT between weights a (n,) and b (m,) for a cost matrix (n, m), in the log domain.

    `epsilon` > 0 is the entropic regularisation (see the module docstring). A reference
    transition density p(y | x) enters as `cost = -log p` with `epsilon=1` (see
    `transition_cost`): the plan then minimises KL(P || a (x) p). `init=(f, g)` warm-starts
    from earlier potentials. `epsilon_start` > epsilon turns on epsilon-scaling: sweep s uses
    max(epsilon, epsilon_start 0.8^s), which speeds up small-epsilon problems. Iterates until
    the L1 row-marginal error is <= `threshold` or `max_iterations` sweeps; `converged` and
    `failed` report how it ended (in float32 the error cannot fall much below
    1e-7 max|f| / epsilon: raise `threshold` or use float64 for small epsilon). For a batch of
    problems of one shape inside `jit`, use `batched_sinkhorn`.

    Examples:
        >>> a = jnp.array([0.5, 0.5])
        >>> res = bridges.sinkhorn(a, a, jnp.array([[0.0, 1.0], [1.0, 0.0]]), epsilon=0.05)
        >>> res.plan.round(3).tolist(), bool(res.converged), bool(res.failed)
        ([[0.5, 0.0], [0.0, 0.5]], True, False)
    """
    cost = validate.finite("cost", cost)
    cost = validate.array("cost", cost, ndim=2, dtype_kind="fiu")
    n, m = cost.shape
    a = check_weights("a", a, n)
    b = check_weights("b", b, m)
    epsilon = validate.positive_float("epsilon", epsilon)
    threshold = validate.positive_float("threshold", threshold)
    max_iterations = validate.positive_int("max_iterations", max_iterations)
    if epsilon_start is not None:
        epsilon_start = validate.positive_float("epsilon_start", epsilon_start)
    dtype = jnp.result_type(cost.dtype, a.dtype, b.dtype, float)
    cost, a, b = cost.astype(dtype), a.astype(dtype), b.astype(dtype)
    if init is None:
        f0, g0 = jnp.zeros(n, dtype), None
    else:
        f0 = validate.array("init[0]", init[0], shape=(n,)).astype(dtype)
        g0 = validate.array("init[1]", init[1], shape=(m,)).astype(dtype)
    eps0 = None if epsilon_start is None else jnp.asarray(epsilon_start, dtype)
    return _sinkhorn_jit(
        a, b, cost, jnp.asarray(epsilon, dtype), f0, g0, threshold, max_iterations, eps0
    )


def batched_sinkhorn(
    a: Array, b: Array, cost: Array, epsilon, *, threshold=1e-6, max_iterations=10_000,
    sharding=None,
) -> SinkhornResult:  # fmt: skip
    """`sinkhorn` over a leading batch axis: a (B, n), b (B, m), cost (B, n, m); no validation.

    Traceable (use inside `jit`); `epsilon` is a scalar or (B,); every field of the result
    gains the batch axis. `sharding` (a `NamedSharding` from
    `probkit.core.sharding.batch_sharding`, or a `Mesh`) splits the B problems over devices,
    each running its own loop until its own problems converge; same answers as unsharded.

    Examples:
        >>> a = jnp.full((3, 2), 0.5)  # B = 3 problems, n = m = 2
        >>> cost = jnp.broadcast_to(jnp.array([[0.0, 1.0], [1.0, 0.0]]), (3, 2, 2))
        >>> res = jax.jit(bridges.batched_sinkhorn)(a, a, cost, jnp.array([0.1, 1.0, 10.0]))
        >>> res.plan.shape, res.cost.shape, bool(res.converged.all())
        ((3, 2, 2), (3,), True)
    """
    eps = jnp.broadcast_to(jnp.asarray(epsilon, cost.dtype), cost.shape[:1])
    f0 = jnp.zeros(a.shape, cost.dtype)

    def one(a_, b_, c_, e_, f_):
        return sinkhorn_unchecked(a_, b_, c_, e_, f_, None, threshold, max_iterations)

    return sharding_mod.shard_vmap(one, sharding)(a, b, cost, eps, f0)


def sinkhorn_divergence(
    x: ArrayLike,
    y: ArrayLike,
    epsilon: float,
    *,
    a: ArrayLike | None = None,
    b: ArrayLike | None = None,
    threshold: float = 1e-6,
    max_iterations: int = 10_000,
) -> Array:
    """S_eps = OT_eps(a, b) - OT_eps(a, a)/2 - OT_eps(b, b)/2 for clouds x (n, d), y (m, d).

    Squared Euclidean cost; uniform weights unless `a`/`b` are given. S_eps >= 0, S_eps(x, x) = 0,
    and S_eps(x, x + tau) = ||tau||^2 for a translation tau (same weights).

    Examples:
        >>> x = jax.random.normal(jax.random.key(0), (20, 2))
        >>> tau = jnp.array([1.0, 2.0])
        >>> round(float(bridges.sinkhorn_divergence(x, x + tau, 1.0)), 3)  # ||tau||²
        5.0
    """
    x = validate.finite("x", validate.array("x", x, ndim=2, dtype_kind="fiu"))
    y = validate.finite("y", validate.array("y", y, ndim=2, dtype_kind="fiu"))
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape} and {y.shape}")
    a = jnp.full(x.shape[0], 1.0 / x.shape[0]) if a is None else a
    b = jnp.full(y.shape[0], 1.0 / y.shape[0]) if b is None else b
    kw = dict(threshold=threshold, max_iterations=max_iterations)
    xy = sinkhorn(a, b, squared_euclidean(x, y), epsilon, **kw).cost
    xx = sinkhorn(a, a, squared_euclidean(x, x), epsilon, **kw).cost
    yy = sinkhorn(b, b, squared_euclidean(y, y), epsilon, **kw).cost
    return xy - 0.5 * (xx + yy)
