"""Exact (unregularised) optimal transport on the host, for evaluation: LP and assignment.

`exact_ot` solves min <P, C> over couplings of a and b by linear programming (scipy HiGHS);
`wasserstein2` is sqrt(OT) with squared Euclidean cost between point clouds, by the Hungarian
algorithm when both clouds have n points and uniform weights, by LP otherwise. This is the
held-out metric of SBIRR (sqrt of POT's `emd2`). Host-side NumPy: not traceable.
"""

import numpy as np
import scipy.optimize

from probkit.bridges.sinkhorn import check_weights
from probkit.core import validate

__all__ = ["exact_ot", "wasserstein2"]


def _host(name, value, ndim):
    """float64 NumPy copy (no float32 round trip), finite and of rank `ndim`."""
    validate.array(name, value, ndim=ndim)
    arr = np.asarray(value, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; it has NaN or infinite entries")
    return arr


def exact_ot(a, b, cost) -> tuple[np.ndarray, float]:
    """(plan (n, m), optimal cost) of min <P, C> s.t. P 1 = a, P^T 1 = b, P >= 0.

    Examples:
        >>> plan, cost = bridges.exact_ot(
        ...     np.array([0.5, 0.5]), np.array([0.5, 0.5]), np.array([[0.0, 1.0], [1.0, 0.0]])
        ... )
        >>> (plan + 0.0).tolist(), float(cost)
        ([[0.5, 0.0], [0.0, 0.5]], 0.0)
    """
    cost = _host("cost", cost, 2)
    n, m = cost.shape
    check_weights("a", a, n)
    check_weights("b", b, m)
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    rows = np.kron(np.eye(n), np.ones((1, m)))
    cols = np.kron(np.ones((1, n)), np.eye(m))
    a_eq = np.vstack([rows, cols])[:-1]  # one constraint is redundant
    b_eq = np.concatenate([a, b / b.sum() * a.sum()])[:-1]
    res = scipy.optimize.linprog(
        cost.ravel(), A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs"
    )
    if res.status != 0:
        raise RuntimeError(f"linear program failed: {res.message}")
    plan = res.x.reshape(n, m)
    return plan, float(res.fun)


def wasserstein2(x, y, a=None, b=None) -> float:
    """W2 between clouds x (n, d) and y (m, d) (uniform weights unless given).

    Examples:
        >>> bridges.wasserstein2(np.array([[0.0], [1.0]]), np.array([[2.0], [3.0]]))
        2.0
    """
    x, y = _host("x", x, 2), _host("y", y, 2)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape} and {y.shape}")
    cost = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    if a is None and b is None and x.shape[0] == y.shape[0]:
        r, c = scipy.optimize.linear_sum_assignment(cost)
        return float(np.sqrt(max(cost[r, c].mean(), 0.0)))
    a = np.full(x.shape[0], 1.0 / x.shape[0]) if a is None else a
    b = np.full(y.shape[0], 1.0 / y.shape[0]) if b is None else b
    return float(np.sqrt(max(exact_ot(a, b, cost)[1], 0.0)))
