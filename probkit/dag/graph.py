"""Graph utilities: acyclicity, projection of a weighted matrix onto a DAG, prior-knowledge edge
sets, and networkx export.

`is_dag` and `threshold_to_dag` are pure JAX (jit- and vmap-able); they compute reachability by
repeated squaring of the adjacency matrix, O(d^3 log d), which is negligible next to a fit.
"""

from collections.abc import Iterable, Sequence

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from probkit.core.types import Array, ArrayLike

__all__ = [
    "check_prior_knowledge",
    "edge_mask",
    "is_dag",
    "reachability",
    "threshold_to_dag",
    "to_networkx",
]


def reachability(B: ArrayLike) -> Array:
    """Transitive closure: `R[i, j]` is True iff there is a directed path i -> ... -> j.

    Args:
        B: `(..., d, d)` adjacency (nonzero = edge).

    Returns:
        `(..., d, d)` bool; the diagonal is True only for nodes on a cycle.
    """
    B = jnp.asarray(B)
    d = B.shape[-1]
    R = (B != 0).astype(jnp.float32)
    # After k squarings R holds all paths of length <= 2^k; paths longer than d repeat a node.
    for _ in range(max(1, int(np.ceil(np.log2(max(d, 2)))))):
        R = jnp.minimum(R + R @ R, 1.0)
    return R > 0


@jax.jit
def is_dag(B: ArrayLike) -> Array:
    """True iff the directed graph with adjacency `B` (nonzero = edge) has no directed cycle.

    Self-loops count as cycles. Works on `(..., d, d)` batches and under `jit`/`vmap`.

    Examples:
        >>> dag.is_dag(jnp.array([[0, 1], [0, 0]]))
        Array(True, dtype=bool)
        >>> dag.is_dag(jnp.array([[[0, 1], [1, 0]], [[0, 0], [0, 0]]])).tolist()  # (..., d, d)
        [False, True]
    """
    R = reachability(B)
    return ~jnp.any(jnp.diagonal(R, axis1=-2, axis2=-1), axis=-1)


@jax.jit
def threshold_to_dag(
    W: ArrayLike,
    threshold: float = 0.3,
    required: ArrayLike | None = None,
    excluded: ArrayLike | None = None,
) -> Array:
    """Binary adjacency of `W` that is guaranteed acyclic.

    Keeps the edges with `|W[i, j]| > threshold`; if they contain a cycle, raises the threshold
    just enough to leave a DAG, i.e. removes the weakest edges one at a time until the graph is
    acyclic (equal weights are removed in row-major order, as a stable sort would). Acyclicity
    is monotone in the number removed, so a binary search finds it with O(log d) acyclicity
    checks. Required edges are always kept and
    excluded edges never are; the required set must itself be acyclic (checked where the
    masks are built, see `edge_mask`).

    Args:
        W: `(d, d)` weighted adjacency (a batch `(..., d, d)` under `vmap`).
        threshold: initial threshold on |W|.
        required: optional `(d, d)` bool, edges always kept.
        excluded: optional `(d, d)` bool, edges never kept.

    Returns:
        `(d, d)` bool adjacency with no directed cycle.

    Examples:
        >>> W = jnp.array([[0.0, 0.9], [0.4, 0.0]])  # a 2-cycle above the threshold
        >>> dag.threshold_to_dag(W, 0.3).astype(int).tolist()  # the weaker edge goes
        [[0, 1], [0, 0]]
    """
    W = jnp.asarray(W)
    d = W.shape[-1]
    required = jnp.zeros(W.shape, bool) if required is None else jnp.asarray(required, bool)
    excluded = jnp.zeros(W.shape, bool) if excluded is None else jnp.asarray(excluded, bool)
    a = jnp.abs(W)
    a = jnp.where(jnp.eye(d, dtype=bool) | excluded | ~jnp.isfinite(a), 0.0, a)
    a = jnp.where(a > threshold, a, 0.0)
    flat = a.reshape(*a.shape[:-2], d * d)
    # Rank the entries by |w| (ties broken by row-major position, like a stable sort), so that
    # "remove the k weakest" is well defined even with equal weights.
    order = jnp.argsort(flat, axis=-1, stable=True)
    rank = jnp.argsort(order, axis=-1).reshape(a.shape)
    present = a > 0

    def keep_at(k):
        return (present & (rank >= jnp.asarray(k)[..., None, None])) | required

    # Smallest k with keep_at(k) acyclic; k = d*d keeps only the required edges (a DAG).
    lo = jnp.zeros(a.shape[:-2], jnp.int32)
    hi = jnp.full(a.shape[:-2], d * d, jnp.int32)

    def bisect(_, bounds):
        lo, hi = bounds
        mid = (lo + hi) // 2
        ok = is_dag(keep_at(mid))
        return jnp.where(ok, lo, mid + 1), jnp.where(ok, mid, hi)

    steps = int(np.ceil(np.log2(d * d + 1))) + 1
    lo, hi = jax.lax.fori_loop(0, steps, bisect, (lo, hi))
    return keep_at(hi) & ~excluded


def edge_mask(name: str, edges, num_nodes: int) -> np.ndarray:
    """A `(d, d)` bool mask from a `(d, d)` array or an iterable of `(i, j)` pairs (edge i -> j).

    Arrays (anything with a `shape`) are masks; lists, sets and networkx graphs with nodes
    0..d-1 are edge lists. Raises a `ValueError` naming `name` for a wrong shape, out-of-range
    nodes or self-loops.
    """
    d = num_nodes
    if edges is None:
        return np.zeros((d, d), bool)
    if isinstance(edges, nx.Graph):
        edges = list(edges.edges)
    if hasattr(edges, "shape"):
        arr = np.asarray(edges)
        if arr.shape != (d, d):
            raise ValueError(f"{name} as an array must have shape ({d}, {d}), got {arr.shape}")
        mask = arr.astype(bool)
    else:
        if not isinstance(edges, Iterable):
            raise TypeError(
                f"{name} must be a ({d}, {d}) boolean array or an iterable of (i, j) "
                f"pairs, got {type(edges).__name__}"
            )
        mask = np.zeros((d, d), bool)
        for pair in edges:
            try:
                i, j = (int(v) for v in pair)
            except (TypeError, ValueError):
                raise TypeError(
                    f"{name} must be a ({d}, {d}) boolean array or an iterable of (i, j) "
                    f"integer pairs, got element {pair!r}"
                ) from None
            if not (0 <= i < d and 0 <= j < d):
                raise ValueError(f"{name} has edge ({i}, {j}) outside the nodes 0..{d - 1}")
            mask[i, j] = True
    if np.any(np.diag(mask)):
        k = int(np.flatnonzero(np.diag(mask))[0])
        raise ValueError(f"{name} has a self-loop ({k}, {k}); a DAG has none")
    return mask


def to_networkx(
    adjacency: ArrayLike, weights: ArrayLike | None = None, node_names: Sequence | None = None
) -> nx.DiGraph:
    """A `networkx.DiGraph` with an edge i -> j for every nonzero `adjacency[i, j]`.

    Args:
        adjacency: `(d, d)` binary adjacency.
        weights: optional `(d, d)` weights, stored as the edge attribute `"weight"`.
        node_names: optional sequence of d labels (default 0..d-1).

    Examples:
        >>> B, W = np.array([[0, 1], [0, 0]]), np.array([[0, 1.5], [0, 0]])
        >>> G = dag.to_networkx(B, weights=W, node_names=["rain", "wet"])
        >>> list(G.edges(data="weight"))
        [('rain', 'wet', 1.5)]
    """
    A = np.asarray(adjacency)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(
            f"adjacency must be a single (d, d) matrix, got shape {A.shape}; "
            "index a batched result first"
        )
    d = A.shape[0]
    names = list(range(d)) if node_names is None else list(node_names)
    if len(names) != d:
        raise ValueError(f"node_names must have {d} entries, got {len(names)}")
    g = nx.DiGraph()
    g.add_nodes_from(names)
    Wn = None if weights is None else np.asarray(weights)
    for i, j in zip(*np.nonzero(A)):
        attrs = {} if Wn is None else {"weight": float(Wn[i, j])}
        g.add_edge(names[i], names[j], **attrs)
    return g


def _find_cycle(mask: np.ndarray) -> list[int] | None:
    g = nx.DiGraph([(int(i), int(j)) for i, j in zip(*np.nonzero(mask))])
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return None
    return [u for u, _ in cycle] + [cycle[0][0]]


def check_prior_knowledge(exclude, require, num_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Validated `(excluded, required)` masks; a required set with a cycle is an error."""
    excluded = edge_mask("exclude", exclude, num_nodes)
    required = edge_mask("require", require, num_nodes)
    both = excluded & required
    if both.any():
        i, j = (int(v) for v in np.argwhere(both)[0])
        raise ValueError(f"edge ({i}, {j}) is both required and excluded")
    cycle = _find_cycle(required)
    if cycle is not None:
        path = " -> ".join(map(str, cycle))
        raise ValueError(
            f"require closes a directed cycle ({path}); required edges must form a DAG"
        )
    return excluded, required
