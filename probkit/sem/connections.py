"""One-connections, cycle families and the one-connection rule (Adhikari et al. 2022).

For Lambda supported on the directed edges D (cycles allowed) write, for a node set U,

    Delta(U) = sum over families F of vertex-disjoint directed cycles inside U of
               (-1)^|F| * prod_{C in F} lambda^C,

so that Delta(V) = det(I - Lambda). A *one-connection* k ~> i is a simple directed path
P: k -> ... -> i together with a family F of vertex-disjoint cycles avoiding P; its signed
weight is (-1)^|F| lambda^P prod_{C in F} lambda^C, and

    [(I - Lambda)^{-1}]_{ki} = N_{ki} / Delta(V),   N_{ki} = sum of the one-connections k ~> i
                                                          = sum_P lambda^P Delta(V \\ P).

(This is the 1-connection expansion of the adjugate in the digraph of I - Lambda with the unit
self-loops cancelled, i.e. Mason's gain formula.) Hence, with tops k = l or k <-> l,

    Sigma = N^T Omega N / Delta(V)^2,   Sigma_ij = sum_{k,l} omega_kl N_ki N_lj / Delta(V)^2,

a finite sum over pairs of one-connections joined at a top; for acyclic D, Delta = 1 and it is
the trek rule.

The number of paths and cycle families grows exponentially with the graph's density, so every
enumeration here is lazy (`iter_*`) and every list refuses with `TooManyTerms` past `max_terms`
(raise it to go further). `compile_plan` turns the enumeration into flat index arrays once per
graph; `evaluate_plan` then computes N and det(I - Lambda) with gathers and segment sums only,
so it is jit-able and vmap-able over parameter draws.
"""

import functools
from collections.abc import Iterator
from types import ModuleType
from typing import NamedTuple

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from probkit.core.types import Array, ArrayLike
from probkit.sem.graph import MixedGraph, simple_paths_from

__all__ = [
    "DEFAULT_MAX_TERMS",
    "ConnectionPlan",
    "CycleFamily",
    "OneConnection",
    "TooManyTerms",
    "compile_plan",
    "cycle_families",
    "edge_values",
    "evaluate_edges",
    "evaluate_plan",
    "iter_cycle_families",
    "iter_one_connections",
    "one_connections",
]

DEFAULT_MAX_TERMS = 500_000
"""Default cap on enumerated objects (paths, cycles, families) before `TooManyTerms`."""


class TooManyTerms(ValueError):
    """An enumeration would exceed its `max_terms` cap (raise the cap or use method='inverse')."""


class CycleFamily(NamedTuple):
    """A set of vertex-disjoint directed cycles: one term of Delta(U) = det(I - Lambda)_U.

    Attributes:
        cycles: each (v0, ..., v_{m-1}) meaning v0 -> ... -> v_{m-1} -> v0 (labels).
        sign: (-1)^len(cycles).
    """

    cycles: tuple  # each (v0, ..., v_{m-1}) meaning v0 -> ... -> v_{m-1} -> v0 (labels)
    sign: int  # (-1)^len(cycles)

    def edges(self) -> tuple:
        """The directed edges (u, v) of all cycles, as labels."""
        return tuple(e for c in self.cycles for e in _cycle_edges(c))

    def weight(self, graph: MixedGraph, lam):
        """sign * prod of lam over the family's edges (lam indexed in graph order)."""
        return self.sign * _product(graph, lam, self.edges())


class OneConnection(NamedTuple):
    """A one-connection source ~> target: a simple path plus vertex-disjoint cycles avoiding it.

    Attributes:
        path: (source, ..., target) labels; (v,) when source == target.
        cycles: each (v0, ..., v_{m-1}) meaning v0 -> ... -> v0, disjoint from path.
        sign: (-1)^len(cycles).
    """

    path: tuple  # (source, ..., target) labels; (v,) when source == target
    cycles: tuple  # each (v0, ..., v_{m-1}) meaning v0 -> ... -> v0, disjoint from path
    sign: int  # (-1)^len(cycles)

    def edges(self) -> tuple:
        """The directed edges of the path, then of the cycles, as labels."""
        path_edges = tuple(zip(self.path[:-1], self.path[1:]))
        return path_edges + tuple(e for c in self.cycles for e in _cycle_edges(c))

    def weight(self, graph: MixedGraph, lam):
        """Signed weight sign * lambda^path * prod lambda^cycle (lam indexed in graph order)."""
        return self.sign * _product(graph, lam, self.edges())


def _cycle_edges(c: tuple) -> tuple:
    return tuple(zip(c, c[1:] + c[:1]))


def _product(graph, lam, edges):
    out = 1
    for u, v in edges:
        out = out * lam[graph.index(u), graph.index(v)]
    return out


# -- cycles and families (node positions, bitmasks) -------------------------------------------
class _Cycles(NamedTuple):
    cycles: tuple  # canonical cycles (positions), sorted by (length, positions)
    masks: tuple  # bitmask of each cycle's nodes
    by_min: tuple  # by_min[v] = ids of cycles whose smallest node is v


@functools.lru_cache(maxsize=64)
def _cycle_table(graph: MixedGraph, max_terms: int) -> _Cycles:
    g = graph.index_digraph()
    found = []
    for c in nx.simple_cycles(g):
        found.append(c)
        if len(found) > max_terms:
            raise TooManyTerms(
                f"the graph has more than max_terms={max_terms} directed cycles; raise "
                "max_terms (the one-connection rule costs grow with the number of cycle "
                "families) or use method='inverse'"
            )
    cycles = []
    for c in found:
        k = c.index(min(c))
        cycles.append(tuple(c[k:] + c[:k]))
    cycles.sort(key=lambda c: (len(c), c))
    masks = tuple(sum(1 << v for v in c) for c in cycles)
    by_min = [[] for _ in range(graph.num_nodes)]
    for cid, c in enumerate(cycles):
        by_min[c[0]].append(cid)
    return _Cycles(tuple(cycles), masks, tuple(tuple(b) for b in by_min))


def _iter_families(table: _Cycles, allowed: int, start: int = 0) -> Iterator[tuple]:
    """Families (sorted cycle ids >= start) of disjoint cycles inside bitmask `allowed`; lazy."""
    yield ()
    for cid in range(start, len(table.cycles)):
        m = table.masks[cid]
        if m & allowed == m:
            for rest in _iter_families(table, allowed & ~m, cid + 1):
                yield (cid, *rest)


def _mask(graph: MixedGraph, nodes) -> int:
    if nodes is None:
        return (1 << graph.num_nodes) - 1
    return sum(1 << graph.index(v) for v in set(nodes))


def _check_graph(graph):
    if not isinstance(graph, MixedGraph):
        raise TypeError(f"graph must be a sem.MixedGraph, got {type(graph).__name__}")


def _cap(max_terms) -> int:
    if isinstance(max_terms, bool) or not isinstance(max_terms, int | np.integer):
        raise TypeError(f"max_terms must be a positive integer, got {max_terms!r}")
    if max_terms < 1:
        raise ValueError(f"max_terms must be a positive integer, got {max_terms}")
    return int(max_terms)


def iter_cycle_families(graph: MixedGraph, nodes=None, *, max_cycles: int = DEFAULT_MAX_TERMS):
    """Lazily yield every `CycleFamily` inside `nodes` (default: all nodes), empty family first.

    Summing `family.weight(graph, lam)` gives Delta(nodes); over all nodes, det(I - Lambda).

    Examples:
        >>> g = sem.MixedGraph(3, directed=[(0, 1), (1, 0), (1, 2), (2, 1)])
        >>> [f.cycles for f in sem.iter_cycle_families(g)]  # the two 2-cycles share node 1
        [(), ((0, 1),), ((1, 2),)]
    """
    _check_graph(graph)
    table = _cycle_table(graph, _cap(max_cycles))
    allowed = _mask(graph, nodes)
    labels = graph.nodes
    for fam in _iter_families(table, allowed):
        cycles = tuple(tuple(labels[v] for v in table.cycles[c]) for c in fam)
        yield CycleFamily(cycles, (-1) ** len(fam))


def cycle_families(graph: MixedGraph, nodes=None, *, max_terms: int = DEFAULT_MAX_TERMS):
    """Every `CycleFamily` inside `nodes` as a list; `TooManyTerms` past `max_terms`.

    det(I - Lambda) = sum(f.weight(graph, lam) for f in cycle_families(graph)).

    Examples:
        >>> g = sem.MixedGraph(2, directed=[(0, 1), (1, 0)])  # a 2-cycle
        >>> fams = sem.cycle_families(g)  # the empty family and {0 -> 1 -> 0}
        >>> [(f.cycles, f.sign) for f in fams]
        [((), 1), (((0, 1),), -1)]
        >>> lam = jnp.array([[0.0, 0.5], [0.4, 0.0]])
        >>> round(float(sum(f.weight(g, lam) for f in fams)), 4)  # det(I - lam) = 1 - 0.2
        0.8
    """
    max_terms = _cap(max_terms)
    out = []
    for fam in iter_cycle_families(graph, nodes, max_cycles=max_terms):
        out.append(fam)
        if len(out) > max_terms:
            raise TooManyTerms(
                f"more than max_terms={max_terms} cycle families; raise max_terms to list them all"
            )
    return out


def iter_one_connections(
    graph: MixedGraph, source, target, *, max_cycles: int = DEFAULT_MAX_TERMS
) -> Iterator[OneConnection]:
    """Lazily yield every one-connection source ~> target (paths in DFS order).

    Examples:
        >>> g = sem.MixedGraph(3, directed=[(0, 1), (1, 2), (0, 2)])
        >>> [c.path for c in sem.iter_one_connections(g, 0, 2)]
        [(0, 1, 2), (0, 2)]
    """
    _check_graph(graph)
    s, t = graph.index(source), graph.index(target)
    table = _cycle_table(graph, _cap(max_cycles))
    full = (1 << graph.num_nodes) - 1
    labels = graph.nodes
    if s == t:
        paths: Iterator = iter([[s]])
    else:
        paths = nx.all_simple_paths(graph.index_digraph(), s, t)
    for p in paths:
        path = tuple(labels[v] for v in p)
        rest = full & ~sum(1 << v for v in p)
        for fam in _iter_families(table, rest):
            cycles = tuple(tuple(labels[v] for v in table.cycles[c]) for c in fam)
            yield OneConnection(path, cycles, (-1) ** len(fam))


def one_connections(
    graph: MixedGraph, source, target, *, max_terms: int = 100_000
) -> list[OneConnection]:
    """Every one-connection source ~> target with its sign; their weights sum to N_{source,target}.

    [(I - Lambda)^{-1}]_{source,target} = sum(c.weight(graph, lam) for c in ...) / det(I - Lambda).

    Raises:
        TooManyTerms: more than `max_terms` one-connections (the count is exponential in
            general); raise `max_terms` or iterate lazily with `iter_one_connections`.

    Examples:
        >>> g = sem.MixedGraph(2, directed=[(0, 1), (1, 0)])
        >>> cs = sem.one_connections(g, 0, 0)  # the trivial path, no cycle disjoint from it
        >>> [(c.path, c.cycles, c.sign) for c in cs]
        [((0,), (), 1)]
    """
    max_terms = _cap(max_terms)
    out = []
    for oc in iter_one_connections(graph, source, target, max_cycles=max_terms):
        out.append(oc)
        if len(out) > max_terms:
            raise TooManyTerms(
                f"more than max_terms={max_terms} one-connections {source!r} ~> {target!r}; "
                "raise max_terms, or iterate lazily with sem.iter_one_connections"
            )
    return out


# -- compiled plan ------------------------------------------------------------------------------
class ConnectionPlan(NamedTuple):
    """The one-connection rule of one graph as flat index arrays (built once by `compile_plan`).

    Path values are built level by level (a path of length d is its prefix of length d-1 times
    one lambda), and so are cycle-family values (a family is its prefix family times one cycle),
    so each product costs one multiplication.

    Attributes:
        num_nodes: n.
        edge_rows: (E,) tails of the directed edges.
        edge_cols: (E,) heads.
        cycle_edges: (C, L) edge ids of each cycle, padded with E (a constant 1).
        family_levels: per level k >= 1: (parent id in level k-1 (F_k,), cycle id (F_k,)).
        family_sign: (F,) (-1)^k over the concatenated levels (level 0: the empty family).
        delta_family: (Q,) family ids: Delta(U) sums the families inside U ...
        delta_subset: (Q,) ... with these subset ids (subset 0 is V: det(I - Lambda)).
        num_subsets: number of node subsets U used.
        path_levels: per level d >= 1: (parent id in level d-1 (P_d,), edge id (P_d,)).
        path_pair: (P,) flat k * n + i of each path k -> ... -> i (levels concatenated).
        path_subset: (P,) subset id of V minus the path's nodes.
        subsets: bitmask of each subset id.
        cycles: canonical cycles (positions).
        num_terms: paths + families + (family, subset) pairs + cycles.
    """

    num_nodes: int
    edge_rows: np.ndarray  # (E,) tails of the directed edges
    edge_cols: np.ndarray  # (E,) heads
    cycle_edges: np.ndarray  # (C, L) edge ids of each cycle, padded with E (a constant 1)
    family_levels: tuple  # per level k >= 1: (parent id in level k-1 (F_k,), cycle id (F_k,))
    family_sign: np.ndarray  # (F,) (-1)^k over the concatenated levels (level 0: the empty family)
    delta_family: np.ndarray  # (Q,) family ids: Delta(U) sums the families inside U ...
    delta_subset: np.ndarray  # (Q,) ... with these subset ids (subset 0 is V: det(I - Lambda))
    num_subsets: int
    path_levels: tuple  # per level d >= 1: (parent id in level d-1 (P_d,), edge id (P_d,))
    path_pair: np.ndarray  # (P,) flat k * n + i of each path k -> ... -> i (levels concatenated)
    path_subset: np.ndarray  # (P,) subset id of V minus the path's nodes
    subsets: tuple  # bitmask of each subset id
    cycles: tuple  # canonical cycles (positions)
    num_terms: int  # paths + families + (family, subset) pairs + cycles

    @property
    def num_paths(self) -> int:
        return len(self.path_pair)

    @property
    def num_families(self) -> int:
        return len(self.family_sign)


@functools.lru_cache(maxsize=64)
def compile_plan(graph: MixedGraph, max_terms: int = DEFAULT_MAX_TERMS) -> ConnectionPlan:
    """Enumerate paths, cycles and cycle families once and store them as index arrays.

    Cost and size are proportional to `plan.num_terms`, which grows exponentially with the
    graph's density; past `max_terms` this raises `TooManyTerms`.

    Examples:
        >>> g = sem.MixedGraph(3, directed=[(0, 1), (1, 2), (2, 0)])  # a 3-cycle
        >>> plan = sem.compile_plan(g)
        >>> plan.num_nodes, plan.num_terms > 0
        (3, True)
    """
    _check_graph(graph)
    max_terms = _cap(max_terms)
    n = graph.num_nodes
    table = _cycle_table(graph, max_terms)
    edge_id = {e: k for k, e in enumerate(graph.directed_indices)}
    num_edges = len(edge_id)
    count = len(table.cycles)

    def bump(k=1):
        nonlocal count
        count += k
        if count > max_terms:
            raise TooManyTerms(
                f"the one-connection expansion of this graph has more than max_terms={max_terms} "
                "terms (paths, cycle families); raise max_terms (memory and time grow with it) "
                "or use method='inverse'"
            )

    # paths, by depth, from a DFS from every source
    succ = [[] for _ in range(n)]
    for i, j in graph.directed_indices:
        succ[i].append(j)
    path_levels: list[list[tuple]] = [[(k,) for k in range(n)]]
    for k in range(n):
        for p in simple_paths_from(succ, k):
            if len(p) > 1:
                while len(path_levels) < len(p):
                    path_levels.append([])
                path_levels[len(p) - 1].append(p)
                bump()
    full = (1 << n) - 1
    subsets = {full: 0}
    path_pair, path_subset, levels = [], [], []
    prev_index = {p: a for a, p in enumerate(path_levels[0])}
    for depth, paths in enumerate(path_levels):
        if depth > 0:
            parents = np.array([prev_index[p[:-1]] for p in paths], dtype=np.int32)
            edges = np.array([edge_id[(p[-2], p[-1])] for p in paths], dtype=np.int32)
            levels.append((parents, edges))
            prev_index = {p: a for a, p in enumerate(paths)}
        for p in paths:
            rest = full & ~sum(1 << v for v in p)
            path_subset.append(subsets.setdefault(rest, len(subsets)))
            path_pair.append(p[0] * n + p[-1])

    # cycle families of every subset, as sets of cycle ids built by prefix
    family_index = {(): 0}
    family_level_lists: list[list[tuple]] = [[()]]
    delta_family, delta_subset = [], []
    for mask, sid in subsets.items():
        for fam in _iter_families(table, mask):
            if fam not in family_index:
                family_index[fam] = len(family_index)
                while len(family_level_lists) <= len(fam):
                    family_level_lists.append([])
                family_level_lists[len(fam)].append(fam)
                bump()
            delta_family.append(fam)
            delta_subset.append(sid)
            bump()
    # renumber families level by level so that each level is a contiguous block
    order = [fam for lvl in family_level_lists for fam in lvl]
    position = {fam: a for a, fam in enumerate(order)}
    family_levels = []
    for k in range(1, len(family_level_lists)):
        local_prev = {fam: a for a, fam in enumerate(family_level_lists[k - 1])}
        lvl = family_level_lists[k]
        family_levels.append(
            (
                np.array([local_prev[f[:-1]] for f in lvl], dtype=np.int32),
                np.array([f[-1] for f in lvl], dtype=np.int32),
            )
        )
    family_sign = np.array([(-1) ** len(f) for f in order], dtype=np.int8)

    longest = max((len(c) for c in table.cycles), default=0)
    cycle_edges = np.full((len(table.cycles), longest), num_edges, dtype=np.int32)
    for cid, c in enumerate(table.cycles):
        for a, e in enumerate(_cycle_edges(c)):
            cycle_edges[cid, a] = edge_id[e]
    rows = np.array([i for i, _ in graph.directed_indices], dtype=np.int32)
    cols = np.array([j for _, j in graph.directed_indices], dtype=np.int32)
    return ConnectionPlan(
        num_nodes=n,
        edge_rows=rows,
        edge_cols=cols,
        cycle_edges=cycle_edges,
        family_levels=tuple(family_levels),
        family_sign=family_sign,
        delta_family=np.array([position[f] for f in delta_family], dtype=np.int32),
        delta_subset=np.array(delta_subset, dtype=np.int32),
        num_subsets=len(subsets),
        path_levels=tuple(levels),
        path_pair=np.array(path_pair, dtype=np.int32),
        path_subset=np.array(path_subset, dtype=np.int32),
        subsets=tuple(subsets),
        cycles=table.cycles,
        num_terms=count,
    )


def _build_levels(xp, first, levels, factors):
    """Concatenate level blocks, each the previous block (gathered by parent) times a factor."""
    blocks = [first]
    for parents, idx in levels:
        blocks.append(blocks[-1][parents] * factors[idx])
    return xp.concatenate(blocks, axis=0)


def _segment_sum(xp, values, ids, num):
    if xp is np:
        out = np.zeros((num, *values.shape[1:]), values.dtype)
        np.add.at(out, ids, values)
        return out
    return jax.ops.segment_sum(values, ids, num_segments=num)


def evaluate_edges(plan: ConnectionPlan, lam_e: Array, xp: ModuleType = jnp) -> tuple[Array, Array]:
    """The one-connection sums from edge values; any trailing batch axes.

    Args:
        plan: from `compile_plan`.
        lam_e: (E + 1, *batch) values of lambda on `graph.directed_indices`, then a row of ones.
        xp: `jax.numpy` (default) or `numpy`.

    Returns:
        (N, det), N of shape (n * n, *batch) with N[k * n + i] the sum of the one-connections
            k ~> i, and det(I - Lambda) of shape (*batch,). Every gather is along the leading
            axis, so a trailing batch axis moves whole rows (fast for many draws at once).
    """
    batch = lam_e.shape[1:]
    ones = (1,) * len(batch)
    one = xp.ones((1, *batch), lam_e.dtype)
    cyc = xp.prod(lam_e[plan.cycle_edges], axis=1)
    fam = _build_levels(xp, one, plan.family_levels, cyc)
    fam = fam * plan.family_sign.astype(lam_e.dtype).reshape(-1, *ones)
    delta = _segment_sum(xp, fam[plan.delta_family], plan.delta_subset, plan.num_subsets)
    n = plan.num_nodes
    paths = _build_levels(xp, xp.ones((n, *batch), lam_e.dtype), plan.path_levels, lam_e)
    values = paths * delta[plan.path_subset]
    return _segment_sum(xp, values, plan.path_pair, n * n), delta[0]


def edge_values(plan: ConnectionPlan, lam: ArrayLike, xp: ModuleType = jnp) -> Array:
    """(E + 1,) lambda on the directed edges then 1, from an (n, n) lam."""
    lam = xp.asarray(lam)
    return xp.concatenate([lam[plan.edge_rows, plan.edge_cols], xp.ones((1,), lam.dtype)])


def evaluate_plan(plan: ConnectionPlan, lam: ArrayLike, xp: ModuleType = jnp):
    """(N, det) with N[k, i] = sum of one-connections k ~> i and det = det(I - lam).

    `lam` is (n, n) in graph order (only the entries on D are read). With `xp=jax.numpy`
    (default) this is pure JAX, jit- and vmap-able; `xp=numpy` runs the same arithmetic
    eagerly in NumPy (no compilation). (I - lam)^{-1} = N / det. For many draws at once,
    `evaluate_edges` with a trailing batch axis is faster than vmap.

    Examples:
        >>> g = sem.MixedGraph(2, directed=[(0, 1), (1, 0)])
        >>> lam = jnp.array([[0.0, 0.5], [0.4, 0.0]])
        >>> N, det = sem.evaluate_plan(sem.compile_plan(g), lam, xp=np)  # NumPy: no compilation
        >>> np.allclose(N / det, np.linalg.inv(np.eye(2) - lam)), round(float(det), 4)
        (True, 0.8)
    """
    n = plan.num_nodes
    big_n, det = evaluate_edges(plan, edge_values(plan, lam, xp), xp)
    return big_n.reshape(n, n), det
