"""Acyclicity checks, the DAG projection, prior-knowledge masks and networkx export."""

import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from probkit import dag
from probkit.dag import graph

D = 6  # one shape for the property tests: one compilation


def _reference_to_dag(W, thr):
    """The reference post-processing: zero |w| <= thr, then drop the weakest edge until a DAG."""
    A = np.where(np.abs(W) > thr, W, 0.0)
    np.fill_diagonal(A, 0.0)
    order = sorted(zip(*np.nonzero(A)), key=lambda ij: abs(A[ij]))
    for ij in order:
        if nx.is_directed_acyclic_graph(nx.DiGraph(A != 0)):
            break
        A[ij] = 0.0
    return A != 0


def test_is_dag_matches_networkx():
    rng = np.random.default_rng(0)
    Bs = rng.random((200, D, D)) < rng.uniform(0.05, 0.4, (200, 1, 1))
    ours = np.asarray(dag.is_dag(Bs))
    ref = [nx.is_directed_acyclic_graph(nx.DiGraph(b)) for b in Bs]
    assert ours.tolist() == ref
    assert not bool(dag.is_dag(np.eye(3)))  # a self-loop is a cycle


# Subnormal floats are excluded: XLA on CPU flushes them to zero, numpy does not.
weights = hnp.arrays(np.float64, (D, D), elements=st.floats(-3, 3, width=32, allow_subnormal=False))


@settings(max_examples=150, deadline=None)
@given(W=weights, thr=st.floats(0.0, 1.0))
def test_projection_is_always_a_dag_and_equals_the_reference(W, thr):
    out = np.asarray(dag.threshold_to_dag(jnp.asarray(W, jnp.float32), thr))
    assert nx.is_directed_acyclic_graph(nx.DiGraph(out))
    assert not np.any(out & ~((np.abs(W) > thr) & ~np.eye(D, dtype=bool)))  # kept edges only
    assert np.array_equal(out, _reference_to_dag(np.asarray(W, np.float32), thr))


@settings(max_examples=60, deadline=None)
@given(
    perm=st.permutations(range(D)),
    base=st.floats(0.5, 2.0),
    eps=st.floats(0.0, 1e-6),
    chord=st.floats(-3, 3),
    sign=st.sampled_from([-1.0, 1.0]),
)
def test_adversarial_near_cyclic_weights(perm, base, eps, chord, sign):
    """A Hamiltonian cycle with (nearly) equal weights plus chords: ties must not leave a cycle."""
    W = np.zeros((D, D), np.float32)
    for k in range(D):
        W[perm[k], perm[(k + 1) % D]] = sign * (base + eps * k)
    W[perm[0], perm[2]] = chord
    W[perm[3], perm[1]] = -chord
    out = np.asarray(dag.threshold_to_dag(jnp.asarray(W), 0.3))
    assert nx.is_directed_acyclic_graph(nx.DiGraph(out))
    assert np.array_equal(out, _reference_to_dag(W, 0.3))
    if abs(chord) <= 0.3:  # chords dropped: one cycle edge goes, even when all weights tie
        assert out.sum() == D - 1


def test_required_edges_kept_and_excluded_dropped():
    W = np.zeros((D, D), np.float32)
    W[0, 1], W[1, 2], W[2, 0] = 1.0, 1.0, 0.9  # a 3-cycle; 2 -> 0 is the weakest
    required = np.zeros((D, D), bool)
    required[2, 0] = True  # ... but required: another edge must go
    required[4, 5] = True  # a required edge with zero weight is kept
    excluded = np.zeros((D, D), bool)
    excluded[3, 4] = True
    W[3, 4] = 5.0
    out = np.asarray(dag.threshold_to_dag(W, 0.3, required, excluded))
    assert out[2, 0] and out[4, 5] and not out[3, 4]
    assert nx.is_directed_acyclic_graph(nx.DiGraph(out))
    assert out[0, 1] + out[1, 2] == 1


def test_prior_knowledge_validation():
    exc, req = graph.check_prior_knowledge([(1, 0)], np.eye(4, k=1, dtype=bool), 4)
    assert exc[1, 0] and req[2, 3] and req.sum() == 3
    with pytest.raises(ValueError, match=r"cycle \(0 -> 1 -> 2 -> 0\)"):
        graph.check_prior_knowledge(None, [(0, 1), (1, 2), (2, 0)], 4)
    with pytest.raises(ValueError, match="both required and excluded"):
        graph.check_prior_knowledge([(1, 2)], [(1, 2)], 4)
    with pytest.raises(ValueError, match="self-loop"):
        graph.check_prior_knowledge([(2, 2)], None, 4)
    with pytest.raises(ValueError, match="outside the nodes"):
        graph.check_prior_knowledge(None, [(0, 4)], 4)
    with pytest.raises(ValueError, match="shape"):
        graph.check_prior_knowledge(np.zeros((3, 3), bool), None, 4)
    with pytest.raises(TypeError, match="pairs"):
        graph.check_prior_knowledge(["ab"], None, 4)


def test_to_networkx_round_trip():
    W = np.array([[0, 0.5, 0], [0, 0, -1.2], [0, 0, 0]])
    g = dag.to_networkx(W != 0, W, node_names=["a", "b", "c"])
    assert set(g.edges) == {("a", "b"), ("b", "c")}
    assert g["b"]["c"]["weight"] == pytest.approx(-1.2)
    assert list(g.nodes) == ["a", "b", "c"]
