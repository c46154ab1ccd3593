"""Graphs for random walks: a padded neighbour table built from a networkx graph.

`from_networkx(G, target=None)` indexes the nodes in G's node order (labels are kept in
`Graph.nodes` for output) and stores an `(n, D + 1)` neighbour table, D = max degree: columns
`0..deg(i)-1` hold i's neighbours, the rest hold i itself and are masked, and the last column is
the Metropolis–Hastings self-loop. Gathering a row costs O(D), so a step costs O(D) for every
walker; on heavy-tailed graphs D is the largest degree (see `srrw(..., layout="bucketed")`,
which reads rows of the walker's degree-bucket width, and `hdt` for an O(1) step).

Base chains (`base_chain`): "srw" P(i,j) = 1/deg(i) with stationary law μ ∝ deg; "mhrw" the
Metropolis–Hastings walk to the target μ with SRW proposals (default target uniform); "nbrw" the
non-backtracking walk (second order; its node marginal is ∝ deg, it is not reversible).
"""

import weakref
from typing import NamedTuple

import jax.numpy as jnp
import networkx as nx
import numpy as np

from probkit.core import validate
from probkit.core.types import Array

__all__ = ["BASES", "BaseChain", "Graph", "base_chain", "dense_transition", "from_networkx"]

BASES = ("srw", "mhrw", "nbrw")
"""Base chains: simple (srw), Metropolis–Hastings (mhrw), non-backtracking (nbrw)."""


class Graph(NamedTuple):
    """A graph as padded arrays (a pytree; `nodes` is a tuple of labels, not an array).

    Attributes:
        neighbors: (n, D + 1) int32; padded with the row's own index; last column = self.
        mask: (n, D + 1) bool; True for real neighbours (the self column is False).
        degree: (n,) int32 number of neighbours of each node.
        target: (n,) user target μ (sums to 1), or None: each base's own.
        nodes: node labels in index order.
    """

    neighbors: Array  # (n, D + 1) int32; padded with the row's own index; last column = self
    mask: Array  # (n, D + 1) bool; True for real neighbours (the self column is False)
    degree: Array  # (n,) int32
    target: Array | None  # (n,) user target μ (sums to 1), or None: each base's own
    nodes: tuple  # node labels in index order

    @property
    def num_nodes(self) -> int:
        return int(self.degree.shape[0])


class BaseChain(NamedTuple):
    """One base chain in padded form: row i of P is `exp(log_p[i])` over `neighbors[i]`.

    For "nbrw" `log_p` is the SRW row; the step removes the previous node when deg > 1.

    Attributes:
        neighbors: (n, D + 1) int32 neighbour indices, padded (D the largest degree).
        log_p: (n, D + 1) log P(i, neighbors[i, k]); -inf where masked.
        log_mu: (n,) log of the chain's stationary law μ.
        mask: (n, D + 1) bool: real neighbours (the self column excluded).
        degree: (n,) int32 number of neighbours of each node.
    """

    neighbors: Array  # (n, D + 1) int32
    log_p: Array  # (n, D + 1) log P(i, neighbors[i, k]); -inf where masked
    log_mu: Array  # (n,) log of the chain's stationary law μ
    mask: Array  # (n, D + 1) bool: real neighbours (the self column excluded)
    degree: Array  # (n,) int32


def from_networkx(G, target=None) -> Graph:
    """Build a `Graph` from an undirected networkx graph.

    Args:
        G: `networkx.Graph` (or MultiGraph: parallel edges are merged; self-loops are dropped).
            Must be connected with no isolated node.
        target: the target law μ as a dict {node: weight} or an array (n,) in G's node order;
            positive, finite, normalised here. None: each base chain's own stationary law
            (∝ degree for "srw"/"nbrw", uniform for "mhrw").

    Returns:
        Graph with `(n, D + 1)` neighbour table, D = max degree.

    Examples:
        >>> import networkx as nx
        >>> g = walks.from_networkx(nx.star_graph(3))  # hub 0 with 3 leaves
        >>> g.num_nodes, g.neighbors.shape, g.degree.tolist()
        (4, (4, 4), [3, 1, 1, 1])
    """
    if not isinstance(G, nx.Graph):
        raise TypeError(f"G must be a networkx graph, got {type(G).__name__}")
    if G.is_directed():
        raise ValueError("G must be undirected (random walks here use undirected edges)")
    nodes = tuple(G.nodes())
    n = len(nodes)
    if n < 2:
        raise ValueError(f"G must have at least 2 nodes, got {n}")
    index = {v: i for i, v in enumerate(nodes)}
    adj = [sorted({index[u] for u in G.neighbors(v) if u != v}) for v in nodes]
    isolated = [nodes[i] for i, a in enumerate(adj) if not a]
    if isolated:
        raise ValueError(f"G has isolated node(s) {isolated[:5]}; every node needs an edge")
    if not nx.is_connected(nx.Graph(G)):
        k = nx.number_connected_components(nx.Graph(G))
        raise ValueError(f"G must be connected, it has {k} connected components")
    deg = np.array([len(a) for a in adj], dtype=np.int32)
    width = int(deg.max()) + 1
    nbr = np.repeat(np.arange(n, dtype=np.int32)[:, None], width, axis=1)
    mask = np.zeros((n, width), dtype=bool)
    for i, a in enumerate(adj):
        nbr[i, : len(a)] = a
        mask[i, : len(a)] = True
    mu = None if target is None else _target(target, nodes, index)
    return Graph(jnp.asarray(nbr), jnp.asarray(mask), jnp.asarray(deg), mu, nodes)


def _target(target, nodes, index) -> Array:
    n = len(nodes)
    if isinstance(target, dict):
        missing = [v for v in nodes if v not in target]
        extra = [k for k in target if k not in index]
        if missing or extra:
            raise ValueError(
                f"target must give a weight for every node of G: missing {missing[:5]}, "
                f"unknown {extra[:5]}"
            )
        values = np.array([float(target[v]) for v in nodes])
    else:
        values = np.asarray(validate.array("target", target, ndim=1, shape=(n,), dtype_kind="fiu"))
    values = values.astype(float)
    if not np.isfinite(values).all() or (values <= 0).any():
        raise ValueError("target must be finite and > 0 at every node")
    return jnp.asarray(values / values.sum(), dtype=jnp.result_type(float))


def _stationary(graph: Graph, base: str) -> np.ndarray:
    deg = np.asarray(graph.degree, dtype=float)
    if base == "mhrw":
        if graph.target is None:
            return np.full(deg.shape, 1.0 / deg.size)
        return np.asarray(graph.target, dtype=float)
    mu = deg / deg.sum()
    if graph.target is not None and not np.allclose(np.asarray(graph.target), mu, rtol=1e-5):
        raise ValueError(
            f"base={base!r} has stationary law proportional to degree, but the graph's target "
            "differs; use base='mhrw' to sample a different target"
        )
    return mu


_CHAINS: dict = {}  # (ids of the graph's arrays, base, dtype) -> (weak refs to them, chain)


def base_chain(graph: Graph, base: str = "srw") -> BaseChain:
    """The base chain's padded transition table and stationary law (built eagerly).

    Cached per graph (while its arrays live): building it is O(n D) NumPy work (0.3 s for a
    10⁴-node Barabási–Albert graph), which repeated `srrw` calls would otherwise repeat.

    Examples:
        >>> import networkx as nx
        >>> g = walks.from_networkx(nx.path_graph(3))  # degrees 1, 2, 1
        >>> chain = walks.base_chain(g, "srw")
        >>> chain.log_p.shape, np.exp(chain.log_mu).round(3).tolist()  # (n, D + 1), μ ∝ degree
        ((3, 3), [0.25, 0.5, 0.25])
    """
    validate.one_of("base", base, BASES)
    if not isinstance(graph, Graph):
        raise TypeError(f"graph must be a walks.Graph (walks.from_networkx), got {type(graph)}")
    arrays = (graph.neighbors, graph.mask, graph.degree, graph.target)
    key = (*map(id, arrays), base, str(jnp.result_type(float)))  # x64 mode changes the dtype
    hit = _CHAINS.get(key)
    if hit is not None and all(r() is a for r, a in zip(hit[0], arrays) if a is not None):
        return hit[1]
    chain = _build_chain(graph, base)
    if all(_weakrefable(a) for a in arrays if a is not None):
        refs = tuple(
            weakref.ref(a, lambda _, k=key: _CHAINS.pop(k, None)) if a is not None else None
            for a in arrays
        )
        _CHAINS[key] = (refs, chain)
    return chain


def _weakrefable(a) -> bool:
    try:
        weakref.ref(a)
    except TypeError:
        return False
    return True


def _build_chain(graph: Graph, base: str) -> BaseChain:
    nbr = np.asarray(graph.neighbors)
    mask = np.asarray(graph.mask)
    deg = np.asarray(graph.degree, dtype=float)
    mu = _stationary(graph, base)
    p = np.where(mask, 1.0 / deg[:, None], 0.0)
    if base == "mhrw":
        ratio = (mu[nbr] * deg[:, None]) / (mu[:, None] * deg[nbr])
        p = np.where(mask, np.minimum(1.0, ratio) / deg[:, None], 0.0)
        p[:, -1] = np.clip(1.0 - p.sum(axis=1), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        log_p = np.log(p)
    dtype = jnp.result_type(float)
    return BaseChain(
        jnp.asarray(nbr),
        jnp.asarray(log_p, dtype=dtype),
        jnp.asarray(np.log(mu), dtype=dtype),
        jnp.asarray(mask),
        jnp.asarray(graph.degree),
    )


def dense_transition(graph: Graph, base: str = "srw") -> tuple[np.ndarray, np.ndarray]:
    """(P, μ) as dense float64 NumPy arrays (for theory and tests; "nbrw" is refused).

    Examples:
        >>> import networkx as nx
        >>> P, mu = walks.dense_transition(walks.from_networkx(nx.path_graph(3)))
        >>> np.round(P, 6).tolist(), np.round(mu, 6).tolist()
        ([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5], [0.0, 1.0, 0.0]], [0.25, 0.5, 0.25])
    """
    if base == "nbrw":
        raise ValueError("base='nbrw' is a second-order chain with no (n, n) transition matrix")
    chain = base_chain(graph, base)
    n = graph.num_nodes
    p = np.zeros((n, n))
    nbr = np.asarray(chain.neighbors)
    w = np.exp(np.asarray(chain.log_p, dtype=float))
    np.add.at(p, (np.repeat(np.arange(n), nbr.shape[1]), nbr.ravel()), w.ravel())
    return p, np.exp(np.asarray(chain.log_mu, dtype=float))
