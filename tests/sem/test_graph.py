"""MixedGraph: construction from lists / networkx / matrices, validation, structure helpers."""

import networkx as nx
import numpy as np
import pytest

from probkit.sem import MixedGraph


def test_lists_and_labels_give_the_same_structure():
    g = MixedGraph(3, directed=[(0, 1), (1, 2), (2, 0)], bidirected=[(1, 0)])
    assert g.nodes == (0, 1, 2)
    assert g.directed == ((0, 1), (1, 2), (2, 0))
    assert g.bidirected == ((0, 1),)  # stored once, in index order
    h = MixedGraph(
        ["x", "y", "z"], directed=[("x", "y"), ("y", "z"), ("z", "x")], bidirected=[("y", "x")]
    )
    assert h.directed_indices == g.directed_indices
    assert h.bidirected == (("x", "y"),)
    assert h.parents("x") == ("z",) and h.children("x") == ("y",) and h.siblings("x") == ("y",)
    assert g.num_parameters == 3 + 3 + 1


def test_networkx_round_trip_and_multidigraph_attribute():
    d = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "b")])
    b = nx.Graph([("a", "c")])
    g = MixedGraph.from_networkx(d, b)
    assert g.nodes == ("a", "b", "c")
    d2, b2 = g.to_networkx()
    assert set(d2.edges) == set(d.edges) and {frozenset(e) for e in b2.edges} == {
        frozenset(("a", "c"))
    }
    m = nx.MultiDiGraph()
    m.add_edges_from([("a", "b"), ("b", "c"), ("c", "b")])
    m.add_edge("a", "c", bidirected=True)
    assert MixedGraph.from_networkx(m) == g
    # networkx graphs are also accepted as edge lists
    assert MixedGraph(["a", "b", "c"], directed=d, bidirected=b) == g


def test_adjacency_matrices():
    a = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    s = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    g = MixedGraph(3, directed=a, bidirected=s)
    assert g.directed_indices == ((0, 1), (1, 2), (2, 0)) and g.bidirected_indices == ((0, 1),)
    assert np.array_equal(g.directed_adjacency(), a.astype(bool))
    assert np.array_equal(g.bidirected_adjacency(), s.astype(bool))


def test_structure_predicates():
    chain = MixedGraph(3, directed=[(0, 1), (1, 2)])
    assert chain.is_acyclic() and chain.is_simple()
    bow = MixedGraph(2, directed=[(0, 1)], bidirected=[(0, 1)])
    assert bow.bows() == ((0, 1),) and not bow.is_simple() and bow.is_acyclic()
    two = MixedGraph(2, directed=[(0, 1), (1, 0)])
    assert two.two_cycles() == ((0, 1),) and not two.is_simple() and not two.is_acyclic()
    tri = MixedGraph(3, directed=[(0, 1), (1, 2), (2, 0)])
    assert tri.is_simple() and not tri.is_acyclic()
    assert tri.directed_cycles() == [(0, 1, 2)]


def test_directed_cycles_of_complete_digraph():
    # K4 has sum_k C(4,k)(k-1)! = 6 + 8 + 6 = 20 simple cycles
    g = MixedGraph(4, directed=[(i, j) for i in range(4) for j in range(4) if i != j])
    cycles = g.directed_cycles()
    assert len(cycles) == 20 and len(set(cycles)) == 20
    assert all(c[0] == min(c) for c in cycles)


def test_treks_of_chain_with_bidirected_top():
    g = MixedGraph(3, directed=[(0, 1), (1, 2)], bidirected=[(0, 2)])
    treks = g.treks(0, 2)
    assert sorted(treks) == sorted([((0,), (0, 1, 2), (0,)), ((0,), (2,), (0, 2))])
    # Sigma_11 of node 1: tops 0 (both sides 0->1) and 1 (trivial)
    assert len(g.treks(1, 1)) == 2
    with pytest.raises(ValueError, match="acyclic"):
        MixedGraph(2, directed=[(0, 1), (1, 0)]).treks(0, 1)


def test_equality_and_hash():
    a = MixedGraph(3, directed=[(0, 1)], bidirected=[(2, 1)])
    b = MixedGraph(3, directed=[(0, 1), (0, 1)], bidirected=[(1, 2)])
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != MixedGraph(3, directed=[(1, 0)])
    assert "MixedGraph(3" in repr(a)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(nodes=3, directed=[(0, 3)]), "node 3, which is not in the graph"),
        (dict(nodes=["a", "b"], bidirected=[("a", "c")]), "node 'c'"),
        (dict(nodes=3, directed=[(1, 1)]), "self-loop"),
        (dict(nodes=3, bidirected=[(2, 2)]), "self-loop"),
        (dict(nodes=["a", "a"]), "distinct"),
        (dict(nodes=0), "positive"),
        (dict(nodes=3, directed=[(0, 1, 2)]), "pairs"),
        (dict(nodes=2, bidirected=np.array([[0, 1], [0, 0]])), "symmetric"),
        (dict(nodes=2, directed=np.zeros((3, 3))), "shape"),
    ],
)
def test_bad_graphs_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MixedGraph(**kwargs)


def test_bad_types():
    with pytest.raises(TypeError, match="from_networkx"):
        MixedGraph(nx.DiGraph([(0, 1)]))
    with pytest.raises(TypeError, match="pairs"):
        MixedGraph(2, directed="01")
    with pytest.raises(TypeError, match="DiGraph"):
        MixedGraph.from_networkx(nx.Graph([(0, 1)]))
    with pytest.raises(ValueError, match="not in the graph"):
        MixedGraph(2).index(5)
