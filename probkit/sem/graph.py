"""Mixed graphs G = (V, D, B) for linear structural equation models.

A mixed graph has directed edges i -> j (D, the structural coefficients lambda_ij; directed
cycles are allowed) and bidirected edges i <-> j (B, correlated errors omega_ij). Nodes are
0..n-1 or any hashable labels; internally node k is its position in `graph.nodes`, and every
matrix (Lambda, Omega, Sigma) is indexed in that order.

A graph is *simple* when every pair of nodes is joined by at most one edge: no bow
(i -> j together with i <-> j) and no 2-cycle (i -> j together with j -> i). Adhikari, Gross,
Härkönen and Tsigaridas (2022) show that a simple G gives a generically finite-to-one
parametrization (see `probkit.sem.identifiability`).
"""

from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import NamedTuple

import networkx as nx
import numpy as np

__all__ = ["EdgeInput", "MixedGraph", "Trek"]

EdgeInput = Iterable[tuple] | nx.Graph | np.ndarray
"""Edges: a list of node pairs, a networkx graph, or an (n, n) adjacency matrix."""


class Trek(NamedTuple):
    """A trek between i and j in an acyclic graph: two directed paths joined at a top.

    The top is one node k (both paths start at k) or a bidirected edge k <-> l (the left path
    starts at k, the right one at l). Its weight is omega_top times the lambdas of both paths.

    Attributes:
        left: (top_left, ..., i) node labels.
        right: (top_right, ..., j) node labels.
        top: (k,) for a node top, (k, l) for a bidirected top k <-> l.
    """

    left: tuple  # (top_left, ..., i) node labels
    right: tuple  # (top_right, ..., j) node labels
    top: tuple  # (k,) for a node top, (k, l) for a bidirected top k <-> l


def _is_networkx(obj) -> bool:
    return isinstance(obj, nx.Graph)


def _edge_pairs(name: str, edges, labels: tuple, symmetric: bool) -> list[tuple]:
    """Edges as label pairs from a list of pairs, a networkx graph or an adjacency matrix."""
    if edges is None:
        return []
    if _is_networkx(edges):
        return [(u, v) for u, v in edges.edges()]
    if isinstance(edges, np.ndarray) or (
        hasattr(edges, "shape") and hasattr(edges, "dtype") and len(edges.shape) == 2
    ):
        adj = np.asarray(edges)
        n = len(labels)
        if adj.shape != (n, n):
            raise ValueError(
                f"{name} given as an adjacency matrix must have shape ({n}, {n}), got {adj.shape}"
            )
        if symmetric and not np.array_equal(adj != 0, (adj != 0).T):
            bad = np.argwhere((adj != 0) != (adj != 0).T)[0]
            raise ValueError(
                f"{name} adjacency matrix must be symmetric (a bidirected edge has no "
                f"direction); entry ({bad[0]}, {bad[1]}) is set but ({bad[1]}, {bad[0]}) is not"
            )
        rows, cols = np.nonzero(adj)
        pairs = [(labels[r], labels[c]) for r, c in zip(rows, cols)]
        return [p for p in pairs if not symmetric or labels.index(p[0]) <= labels.index(p[1])]
    if isinstance(edges, str | bytes):
        raise TypeError(f"{name} must be a list of node pairs, got a string")
    try:
        pairs = list(edges)
    except TypeError:
        raise TypeError(
            f"{name} must be a list of node pairs, a networkx graph or an adjacency matrix, "
            f"got {type(edges).__name__}"
        ) from None
    out = []
    for e in pairs:
        try:
            u, v = e
        except (TypeError, ValueError):
            raise ValueError(f"{name} must contain pairs (u, v) of nodes, got {e!r}") from None
        out.append((u, v))
    return out


class MixedGraph:
    """A mixed graph: directed edges (cycles allowed) and bidirected edges over known nodes.

    Args:
        nodes: the number of nodes n (nodes are 0..n-1) or a sequence of distinct hashable
            labels, in the order used by every matrix.
        directed: directed edges i -> j as a list of pairs, a networkx `DiGraph`, or an (n, n)
            adjacency matrix (entry [i, j] nonzero for i -> j).
        bidirected: bidirected edges i <-> j as a list of pairs (either order), a networkx
            `Graph`, or a symmetric (n, n) adjacency matrix.

    Raises:
        ValueError: an edge names an unknown node, an edge is a self-loop, labels repeat, or a
            bidirected adjacency matrix is not symmetric.

    Example:
        >>> g = MixedGraph(3, directed=[(0, 1), (1, 2), (2, 0)], bidirected=[(0, 1)])
        >>> g.is_acyclic(), g.is_simple()
        (False, False)
    """

    __slots__ = ("_bidirected", "_directed", "_hash", "_index", "_nodes")

    def __init__(
        self,
        nodes: int | Sequence[Hashable],
        directed: EdgeInput = (),
        bidirected: EdgeInput = (),
    ):
        if _is_networkx(nodes):
            raise TypeError(
                "nodes is a networkx graph; use MixedGraph.from_networkx(digraph, bidirected) "
                "to take nodes and edges from networkx graphs"
            )
        if isinstance(nodes, bool):
            raise TypeError(f"nodes must be a number of nodes or a sequence of labels, got {nodes}")
        if isinstance(nodes, int | np.integer):
            if nodes < 1:
                raise ValueError(f"nodes must be a positive number of nodes, got {nodes}")
            labels = tuple(range(int(nodes)))
        else:
            if isinstance(nodes, str | bytes):
                raise TypeError("nodes must be a number of nodes or a sequence of labels")
            try:
                labels = tuple(nodes)
            except TypeError:
                raise TypeError(
                    f"nodes must be a number of nodes or a sequence of labels, got "
                    f"{type(nodes).__name__}"
                ) from None
            if not labels:
                raise ValueError("nodes must contain at least one node")
            for v in labels:
                if not isinstance(v, Hashable):
                    raise TypeError(f"node labels must be hashable, got {v!r}")
            if len(set(labels)) != len(labels):
                dup = next(v for v in labels if labels.count(v) > 1)
                raise ValueError(f"nodes must be distinct; {dup!r} appears more than once")
        index = {v: k for k, v in enumerate(labels)}

        def resolve(name, pairs, symmetric):
            out = set()
            for u, v in pairs:
                for w in (u, v):
                    if w not in index:
                        raise ValueError(
                            f"{name} edge ({u!r}, {v!r}) uses node {w!r}, which is not in the "
                            f"graph's nodes {_short(labels)}"
                        )
                i, j = index[u], index[v]
                if i == j:
                    kind = "bidirected" if symmetric else "directed"
                    raise ValueError(
                        f"{name} edge ({u!r}, {v!r}) is a self-loop; a linear SEM has no "
                        f"{kind} self-loops (the error variance omega_ii is always a parameter)"
                    )
                out.add((min(i, j), max(i, j)) if symmetric else (i, j))
            return tuple(sorted(out))

        self._nodes = labels
        self._index = index
        self._directed = resolve(
            "directed", _edge_pairs("directed", directed, labels, False), False
        )
        self._bidirected = resolve(
            "bidirected", _edge_pairs("bidirected", bidirected, labels, True), True
        )
        self._hash = hash((self._nodes, self._directed, self._bidirected))

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_networkx(cls, directed: nx.DiGraph, bidirected: nx.Graph | None = None):
        """Build from networkx: a `DiGraph` (or `MultiDiGraph`) and an optional `Graph`.

        Edges of `directed` whose data has `bidirected=True` are read as bidirected edges, so a
        single `MultiDiGraph` can hold both kinds. Nodes are those of `directed` in its order,
        then any further nodes of `bidirected`.
        """
        if not isinstance(directed, nx.DiGraph):
            raise TypeError(
                "directed must be a networkx DiGraph or MultiDiGraph, got "
                f"{type(directed).__name__}"
            )
        if bidirected is not None and not _is_networkx(bidirected):
            raise TypeError(f"bidirected must be a networkx Graph, got {type(bidirected).__name__}")
        nodes = list(directed.nodes)
        if bidirected is not None:
            nodes += [v for v in bidirected.nodes if v not in directed]
        d_edges, b_edges = [], []
        for u, v, data in directed.edges(data=True):
            (b_edges if data.get("bidirected", False) else d_edges).append((u, v))
        if bidirected is not None:
            b_edges += list(bidirected.edges())
        return cls(nodes, d_edges, b_edges)

    def to_networkx(self) -> tuple[nx.DiGraph, nx.Graph]:
        """(DiGraph of D, Graph of B), both on all nodes in order."""
        d, b = nx.DiGraph(), nx.Graph()
        d.add_nodes_from(self._nodes)
        b.add_nodes_from(self._nodes)
        d.add_edges_from(self.directed)
        b.add_edges_from(self.bidirected)
        return d, b

    # -- basic accessors --------------------------------------------------------------------
    @property
    def nodes(self) -> tuple:
        """Node labels in matrix order."""
        return self._nodes

    @property
    def num_nodes(self) -> int:
        return len(self._nodes)

    @property
    def directed(self) -> tuple:
        """Directed edges (u, v) as labels, in canonical (index) order."""
        return tuple((self._nodes[i], self._nodes[j]) for i, j in self._directed)

    @property
    def bidirected(self) -> tuple:
        """Bidirected edges (u, v) as labels with index(u) < index(v), in canonical order."""
        return tuple((self._nodes[i], self._nodes[j]) for i, j in self._bidirected)

    @property
    def directed_indices(self) -> tuple:
        """Directed edges (i, j) as node positions."""
        return self._directed

    @property
    def bidirected_indices(self) -> tuple:
        """Bidirected edges (i, j), i < j, as node positions."""
        return self._bidirected

    @property
    def num_parameters(self) -> int:
        """n + |D| + |B|: one lambda per directed edge, one omega per node and bidirected edge."""
        return self.num_nodes + len(self._directed) + len(self._bidirected)

    def index(self, node) -> int:
        """Position of a node label; ValueError naming the label when unknown."""
        try:
            return self._index[node]
        except (KeyError, TypeError):
            raise ValueError(
                f"node {node!r} is not in the graph's nodes {_short(self._nodes)}"
            ) from None

    def directed_adjacency(self) -> np.ndarray:
        """(n, n) bool matrix, [i, j] True for i -> j."""
        a = np.zeros((self.num_nodes, self.num_nodes), dtype=bool)
        for i, j in self._directed:
            a[i, j] = True
        return a

    def bidirected_adjacency(self) -> np.ndarray:
        """(n, n) symmetric bool matrix, [i, j] True for i <-> j."""
        a = np.zeros((self.num_nodes, self.num_nodes), dtype=bool)
        for i, j in self._bidirected:
            a[i, j] = a[j, i] = True
        return a

    def parents(self, node) -> tuple:
        k = self.index(node)
        return tuple(self._nodes[i] for i, j in self._directed if j == k)

    def children(self, node) -> tuple:
        k = self.index(node)
        return tuple(self._nodes[j] for i, j in self._directed if i == k)

    def siblings(self, node) -> tuple:
        """Nodes joined to `node` by a bidirected edge."""
        k = self.index(node)
        return tuple(self._nodes[j if i == k else i] for i, j in self._bidirected if k in (i, j))

    # -- structure --------------------------------------------------------------------------
    def is_acyclic(self) -> bool:
        """True when D has no directed cycle (then Sigma is polynomial: the trek rule)."""
        return nx.is_directed_acyclic_graph(self.index_digraph())

    def bows(self) -> tuple:
        """Pairs (u, v) with u -> v (or v -> u) in D and u <-> v in B."""
        d = {frozenset(e) for e in self._directed}
        return tuple(
            (self._nodes[i], self._nodes[j]) for i, j in self._bidirected if frozenset((i, j)) in d
        )

    def two_cycles(self) -> tuple:
        """Pairs (u, v), index(u) < index(v), with both u -> v and v -> u in D."""
        d = set(self._directed)
        return tuple(
            (self._nodes[i], self._nodes[j]) for i, j in self._directed if i < j and (j, i) in d
        )

    def is_simple(self) -> bool:
        """At most one edge between any two nodes: no bow and no 2-cycle."""
        return not self.bows() and not self.two_cycles()

    def directed_cycles(self) -> list[tuple]:
        """Every simple directed cycle as (v0, v1, ..., v_{m-1}) meaning v0 -> v1 -> ... -> v0.

        Each cycle starts at its node of smallest position; the list is sorted by length, then
        by positions. The count can grow exponentially with n (complete digraphs).
        """
        return [tuple(self._nodes[i] for i in c) for c in self.directed_cycle_indices()]

    def directed_cycle_indices(self) -> list[tuple]:
        """`directed_cycles` as node positions."""
        return _canonical_cycles(self.index_digraph())

    def treks(self, i, j, *, max_terms: int = 100_000) -> list[Trek]:
        """Every trek between nodes i and j (acyclic D only: with cycles there are infinitely many).

        Sigma_ij = sum over treks of omega_top * lambda^left * lambda^right (the trek rule).
        """
        if not self.is_acyclic():
            raise ValueError(
                "treks are only finite for acyclic D; this graph has directed cycles "
                f"{self.directed_cycles()[:3]}; use sem.one_connections for cyclic graphs"
            )
        a, b = self.index(i), self.index(j)
        g = self.index_digraph()
        paths_to = _paths_into(g, (a, b))
        tops = [((k,), k, k) for k in range(self.num_nodes)]
        tops += [((k, l), k, l) for k, l in self._bidirected]
        tops += [((l, k), l, k) for k, l in self._bidirected]
        out = []
        for top, start_left, start_right in tops:
            for left in paths_to[a].get(start_left, ()):
                for right in paths_to[b].get(start_right, ()):
                    out.append(
                        Trek(
                            tuple(self._nodes[v] for v in left),
                            tuple(self._nodes[v] for v in right),
                            tuple(self._nodes[v] for v in top),
                        )
                    )
                    if len(out) > max_terms:
                        raise ValueError(
                            f"more than max_terms={max_terms} treks between {i!r} and {j!r}; "
                            "raise max_terms to list them all"
                        )
        return out

    # -- helpers ----------------------------------------------------------------------------
    def index_digraph(self) -> nx.DiGraph:
        """The directed part as a networkx DiGraph on node indices 0..num_nodes-1."""
        g = nx.DiGraph()
        g.add_nodes_from(range(self.num_nodes))
        g.add_edges_from(self._directed)
        return g

    def __eq__(self, other):
        if not isinstance(other, MixedGraph):
            return NotImplemented
        return (self._nodes, self._directed, self._bidirected) == (
            other._nodes,
            other._directed,
            other._bidirected,
        )

    def __hash__(self):
        return self._hash

    def __repr__(self):
        nodes = self.num_nodes if self._nodes == tuple(range(self.num_nodes)) else list(self._nodes)
        return (
            f"MixedGraph({nodes}, directed={list(self.directed)}, "
            f"bidirected={list(self.bidirected)})"
        )


def _short(labels: tuple) -> str:
    if labels == tuple(range(len(labels))):
        return f"0..{len(labels) - 1}"
    return repr(list(labels[:10])) + ("..." if len(labels) > 10 else "")


def _canonical_cycles(g: nx.DiGraph) -> list[tuple]:
    cycles = []
    for c in nx.simple_cycles(g):
        k = c.index(min(c))
        cycles.append(tuple(c[k:] + c[:k]))
    return sorted(cycles, key=lambda c: (len(c), c))


def _paths_into(g: nx.DiGraph, targets: Iterable[int]) -> dict[int, dict[int, list[tuple]]]:
    """For each target t: {source s: [every directed path s -> ... -> t]} in an acyclic graph."""
    out = {}
    for t in targets:
        by_source: dict[int, list[tuple]] = {t: [(t,)]}
        for s in nx.ancestors(g, t):
            by_source[s] = [tuple(p) for p in nx.all_simple_paths(g, s, t)]
        out[t] = by_source
    return out


def simple_paths_from(successors: list[list[int]], source: int) -> Iterator[tuple]:
    """Every simple directed path starting at `source` (including the trivial one), depth first."""
    path = [source]
    on_path = {source}
    stack = [iter(successors[source])]
    yield (source,)
    while stack:
        nxt = next(stack[-1], None)
        if nxt is None:
            stack.pop()
            on_path.discard(path.pop())
            continue
        if nxt in on_path:
            continue
        path.append(nxt)
        on_path.add(nxt)
        yield tuple(path)
        stack.append(iter(successors[nxt]))
