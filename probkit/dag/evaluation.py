"""Accuracy of an estimated graph: SHD / TPR / FDR / FPR / nnz, and the structural intervention
distance (SID).

`metrics` follows the `count_accuracy` convention of NOTEARS, DAGMA and CoLiDE, so numbers are
comparable with those papers; it is pure JAX (batched over leading axes, jit/vmap-able).

`sid` (Peters & Bühlmann, "Structural intervention distance for evaluating causal graphs",
Neural Computation 2015) counts the ordered pairs (i, j), i != j, for which adjusting for the
estimated parents Pa_H(i) does not give the true interventional distribution p(x_j | do(x_i)):

- if j is in Pa_H(i), H claims no effect: a mistake iff j is a descendant of i in G;
- otherwise Pa_H(i) must be a valid adjustment set for (i, j) in G (Shpitser, VanderWeele &
  Robins 2010): (a) it contains no descendant of a node w != i on a directed path i -> ... -> j,
  and (b) it d-separates i and j once the first edges of those directed paths are removed.

d-separation is decided by the Bayes-ball reachability algorithm (Koller & Friedman, Alg. 3.1),
one run per distinct set of removed first edges; cost O(d (d + e)) per node i in the worst case.
"""

import jax
import jax.numpy as jnp
import numpy as np

from probkit.core import validate
from probkit.core.types import ArrayLike

__all__ = ["d_connected", "metrics", "sid"]


def _binary_pair(B_true, B_est):
    B_true = validate.array("B_true", B_true, min_ndim=2)
    B_est = validate.array("B_est", B_est, min_ndim=2)
    if B_true.shape[-1] != B_true.shape[-2]:
        raise ValueError(f"B_true must be square (d, d), got shape {B_true.shape}")
    if B_est.shape[-2:] != B_true.shape[-2:]:
        raise ValueError(
            f"B_est must have shape {B_true.shape[-2:]} like B_true, got {B_est.shape}"
        )
    return B_true != 0, B_est != 0


def metrics(B_true: ArrayLike, B_est: ArrayLike) -> dict:
    """SHD, TPR, FDR, FPR and nnz of `B_est` against `B_true` (nonzero = edge i -> j).

    - nnz: number of predicted edges;
    - tpr: predicted edges with the right direction / true edges;
    - fdr: (reversed + absent-from-the-skeleton predicted edges) / predicted edges;
    - fpr: the same count / (d(d-1)/2 - true edges);
    - shd: missing + extra skeleton edges + reversed edges.

    Leading batch axes broadcast; every value has the batch shape. Ratios with an empty
    denominator use denominator 1, as in the reference code. For single (d, d) graphs the values
    are Python numbers (int shd and nnz, float rates); for batches, arrays of the batch shape.
    Both graphs must be DAGs (checked when concrete): the metrics are defined for DAGs only.

    Examples:
        >>> B_true = np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]])
        >>> B_est = np.array([[0, 1, 0], [0, 0, 0], [0, 1, 0]])  # 1 -> 2 reversed
        >>> m = dag.metrics(B_true, B_est)
        >>> m["shd"], m["nnz"], m["tpr"], m["fdr"]
        (1, 2, 0.5, 0.5)
    """
    T, E = _binary_pair(B_true, B_est)
    if validate.is_concrete(T) and validate.is_concrete(E):
        from probkit.dag.graph import is_dag

        for name, G in (("B_true", T), ("B_est", E)):
            ok = np.asarray(is_dag(G))
            if not ok.all():
                where = "" if ok.ndim == 0 else f" (batch index {np.argwhere(~ok)[0].tolist()})"
                raise ValueError(f"{name} must be a DAG{where}; it has a directed cycle")
    out = _metrics(T, E)
    if T.ndim == 2 and E.ndim == 2 and validate.is_concrete(out["shd"]):
        return {k: (int(v) if k in ("shd", "nnz") else float(v)) for k, v in out.items()}
    return out


@jax.jit
def _metrics(T, E):
    d = T.shape[-1]
    Tt = jnp.swapaxes(T, -1, -2)
    Et = jnp.swapaxes(E, -1, -2)
    axes = (-2, -1)
    cond = jnp.sum(T, axis=axes)
    pred = jnp.sum(E, axis=axes)
    true_pos = jnp.sum(E & T, axis=axes)
    reverse = jnp.sum(E & ~T & Tt, axis=axes)
    false_pos = jnp.sum(E & ~(T | Tt), axis=axes)
    lower = jnp.tril(jnp.ones((d, d), bool), k=-1)
    sk_true, sk_est = (T | Tt) & lower, (E | Et) & lower
    extra = jnp.sum(sk_est & ~sk_true, axis=axes)
    missing = jnp.sum(sk_true & ~sk_est, axis=axes)
    cond_neg = d * (d - 1) / 2 - cond
    wrong = reverse + false_pos
    return {
        "shd": extra + missing + reverse,
        "tpr": true_pos / jnp.maximum(cond, 1),
        "fdr": wrong / jnp.maximum(pred, 1),
        "fpr": wrong / jnp.maximum(cond_neg, 1),
        "nnz": pred,
    }


def _closure(A: np.ndarray) -> np.ndarray:
    """Reachability by paths of length >= 1."""
    R = A.astype(bool)
    while True:
        nxt = R | ((R.astype(np.int64) @ R.astype(np.int64)) > 0)
        if (nxt == R).all():
            return R
        R = nxt


def d_connected(A: np.ndarray, source: int, given) -> np.ndarray:
    """Nodes d-connected to `source` given the set `given` in the DAG with adjacency `A`.

    Bayes-ball reachability; returns a `(d,)` bool mask (False for `source` and for `given`).
    """
    A = np.asarray(A) != 0
    d = A.shape[0]
    Z = np.zeros(d, bool)
    Z[list(given)] = True
    # Ancestors of Z (including Z): a collider is open iff it is one of them.
    anc = Z.copy()
    frontier = Z.copy()
    while frontier.any():
        new = A[:, frontier].any(axis=1) & ~anc
        anc |= new
        frontier = new
    reach = np.zeros(d, bool)
    seen_up = np.zeros(d, bool)  # visited arriving from a child
    seen_down = np.zeros(d, bool)  # visited arriving from a parent
    stack = [(source, True)]
    while stack:
        y, up = stack.pop()
        if (seen_up if up else seen_down)[y]:
            continue
        (seen_up if up else seen_down)[y] = True
        if not Z[y]:
            reach[y] = True
        if up and not Z[y]:
            stack.extend((int(p), True) for p in np.flatnonzero(A[:, y]))
            stack.extend((int(c), False) for c in np.flatnonzero(A[y]))
        elif not up:
            if not Z[y]:
                stack.extend((int(c), False) for c in np.flatnonzero(A[y]))
            if anc[y]:
                stack.extend((int(p), True) for p in np.flatnonzero(A[:, y]))
    reach[source] = False
    return reach


def sid(B_true: ArrayLike, B_est: ArrayLike) -> int:
    """Structural intervention distance SID(G, H) between DAGs G = `B_true` and H = `B_est`.

    Returns the number of ordered pairs (i, j), i != j, whose interventional distribution
    p(x_j | do(x_i)) is wrongly inferred by adjusting for H's parents of i (0 <= SID <= d(d-1)).
    It is not symmetric, and it can be 0 while SHD is not (an extra edge that respects G's
    causal order keeps every parent set a valid adjustment set), or large while SHD is 1 (one
    reversed edge near the top of G spoils many adjustment sets).

    Examples:
        >>> B_true = np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]])  # 0 -> 1 -> 2
        >>> dag.sid(B_true, B_true), dag.sid(B_true, np.zeros((3, 3), int))  # every pair wrong
        (0, 3)
    """
    T, E = _binary_pair(B_true, B_est)
    if T.ndim != 2:
        raise ValueError(f"sid takes single (d, d) graphs, got shape {T.shape}")
    from probkit.dag.graph import is_dag

    if not bool(is_dag(T)):
        raise ValueError("B_true must be a DAG (it has a directed cycle)")
    if not bool(is_dag(E)):
        raise ValueError("B_est must be a DAG (it has a directed cycle)")
    G, H = np.asarray(T), np.asarray(E)
    d = G.shape[0]
    R = _closure(G)  # R[a, b]: directed path a -> ... -> b in G
    R_refl = R | np.eye(d, dtype=bool)  # ancestor-or-self
    mistakes = 0
    for i in range(d):
        Z = np.flatnonzero(H[:, i])
        z_mask = np.zeros(d, bool)
        z_mask[Z] = True
        anc_z = R_refl[:, z_mask].any(axis=1)  # nodes with a descendant-or-self in Z
        children = np.flatnonzero(G[i])
        # w on a directed path from i (w != i) that is an ancestor-or-self of Z violates (a)
        bad_w = R[i] & anc_z
        cache: dict[tuple, np.ndarray] = {}
        for j in range(d):
            if j == i:
                continue
            if z_mask[j]:
                mistakes += int(R[i, j])
                continue
            if np.any(bad_w & R_refl[:, j]):
                mistakes += 1
                continue
            cut = tuple(int(c) for c in children if R_refl[c, j])
            if cut not in cache:
                A = G.copy()
                A[i, list(cut)] = False
                cache[cut] = d_connected(A, i, Z)
            mistakes += int(cache[cut][j])
    return mistakes
