"""One-connections, cycle families and the compiled plan against exact linear algebra."""

import itertools

import numpy as np
import pytest
import sympy

from probkit import sem
from probkit.sem.connections import compile_plan, evaluate_plan

from ._graphs import random_cyclic_graph, random_parameters

THREE_CYCLE = sem.MixedGraph(3, directed=[(0, 1), (1, 2), (2, 0)], bidirected=[(0, 1)])


def complete_digraph(n):
    return sem.MixedGraph(n, directed=[(i, j) for i in range(n) for j in range(n) if i != j])


def test_three_cycle_one_connections_match_the_notes():
    # notes, part (a): 1->2->3->1 with a, b, c; N rows [1, a, ab], [bc, 1, b], [c, ac, 1]
    a, b, c = sympy.symbols("a b c")
    lam = sympy.Matrix([[0, a, 0], [0, 0, b], [c, 0, 0]])
    big_n = sympy.Matrix(
        3,
        3,
        lambda k, i: sum(
            oc.weight(THREE_CYCLE, lam) for oc in sem.one_connections(THREE_CYCLE, k, i)
        ),
    )
    assert big_n == sympy.Matrix([[1, a, a * b], [b * c, 1, b], [c, a * c, 1]])
    det = sum(f.weight(THREE_CYCLE, lam) for f in sem.cycle_families(THREE_CYCLE))
    assert sympy.expand(det - (1 - a * b * c)) == 0
    assert sympy.expand(det - (sympy.eye(3) - lam).det()) == 0


def test_one_connection_sums_are_the_adjugate_on_random_graphs():
    rng = np.random.default_rng(1)
    for _ in range(30):
        g = random_cyclic_graph(rng, int(rng.integers(3, 7)), 0.4, 0.0)
        lam, _ = random_parameters(rng, g)
        n = g.num_nodes
        adj = np.linalg.det(np.eye(n) - lam) * np.linalg.inv(np.eye(n) - lam)
        listed = np.array(
            [
                [sum(oc.weight(g, lam) for oc in sem.one_connections(g, k, i)) for i in range(n)]
                for k in range(n)
            ]
        )
        np.testing.assert_allclose(listed, adj, rtol=0, atol=1e-12)  # exact sums, fp rounding
        big_n, det = evaluate_plan(compile_plan(g), lam, np)
        np.testing.assert_allclose(big_n, adj, rtol=0, atol=1e-12)
        assert det == pytest.approx(np.linalg.det(np.eye(n) - lam), abs=1e-12)


def test_cycle_families_sum_to_the_determinant_of_k4():
    g = complete_digraph(4)
    rng = np.random.default_rng(2)
    lam = np.where(g.directed_adjacency(), rng.uniform(-1, 1, (4, 4)), 0.0)
    fams = sem.cycle_families(g)
    # families of disjoint cycles in K4: empty, 20 single cycles, 3 pairs of disjoint 2-cycles
    assert len(fams) == 1 + 20 + 3
    det = sum(f.weight(g, lam) for f in fams)
    assert det == pytest.approx(np.linalg.det(np.eye(4) - lam), abs=1e-13)
    sub = sum(f.weight(g, lam) for f in sem.cycle_families(g, nodes=[0, 2, 3]))
    assert sub == pytest.approx(np.linalg.det(np.eye(3) - lam[np.ix_([0, 2, 3], [0, 2, 3])]))


def test_one_connections_are_well_formed():
    g = complete_digraph(5)
    edges = set(g.directed)
    ocs = sem.one_connections(g, 0, 3)
    assert len(ocs) == len(set(ocs))
    for oc in ocs:
        assert oc.path[0] == 0 and oc.path[-1] == 3 and oc.sign == (-1) ** len(oc.cycles)
        assert set(oc.edges()) <= edges
        used = list(oc.path) + [v for c in oc.cycles for v in c]
        assert len(used) == len(set(used))  # path and cycles vertex-disjoint
    # source == target: the trivial path with the cycle families of the other nodes
    loops = sem.one_connections(g, 2, 2)
    assert all(oc.path == (2,) for oc in loops)
    assert len(loops) == len(sem.cycle_families(g, nodes=[0, 1, 3, 4]))


def test_caps_refuse_with_a_clear_message_and_can_be_raised():
    g = complete_digraph(6)
    with pytest.raises(sem.TooManyTerms, match="max_terms=50"):
        sem.one_connections(g, 0, 5, max_terms=50)
    assert len(sem.one_connections(g, 0, 5, max_terms=10**6)) > 50
    with pytest.raises(sem.TooManyTerms, match="raise max_terms"):
        compile_plan(g, max_terms=100)
    lam, omega = random_parameters(np.random.default_rng(0), g, 0.01, 0.05)
    with pytest.raises(sem.TooManyTerms):
        sem.covariance(g, lam, omega, method="one-connection", max_terms=100)
    with pytest.raises(sem.TooManyTerms):
        sem.cycle_families(g, max_terms=10)


def test_enumeration_is_lazy():
    g = complete_digraph(8)  # ~16k cycles; the full one-connection list is far larger
    first = list(itertools.islice(sem.iter_one_connections(g, 0, 7), 5))
    assert len(first) == 5 and first[0].path == (0, 1, 2, 3, 4, 5, 6, 7)
    assert sum(1 for _ in itertools.islice(sem.iter_cycle_families(g), 100)) == 100


def test_unknown_nodes_and_bad_caps():
    with pytest.raises(ValueError, match="node 7"):
        sem.one_connections(THREE_CYCLE, 0, 7)
    with pytest.raises(ValueError, match="max_terms"):
        sem.one_connections(THREE_CYCLE, 0, 1, max_terms=0)
    with pytest.raises(TypeError, match="MixedGraph"):
        sem.one_connections("not a graph", 0, 1)
