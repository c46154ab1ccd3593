"""SHD/TPR/FDR/FPR on hand-counted cases; SID on the paper's example, hand-checked graphs and an
exact linear-Gaussian oracle; d-separation against networkx."""

import itertools

import networkx as nx
import numpy as np
import pytest

from probkit import dag
from probkit.dag import evaluation


def _adj(d, edges):
    B = np.zeros((d, d), int)
    for i, j in edges:
        B[i, j] = 1
    return B


def test_metrics_hand_counted():
    true = _adj(4, [(0, 1), (1, 2), (0, 3)])
    est = _adj(4, [(0, 1), (2, 1), (2, 3)])  # one right, one reversed, one extra; 0->3 missed
    m = {k: float(v) for k, v in dag.metrics(true, est).items()}
    assert m == pytest.approx({"shd": 3, "tpr": 1 / 3, "fdr": 2 / 3, "fpr": 2 / 3, "nnz": 3})
    perfect = {k: float(v) for k, v in dag.metrics(true, true).items()}
    assert perfect == {"shd": 0, "tpr": 1.0, "fdr": 0.0, "fpr": 0.0, "nnz": 3}
    batch = dag.metrics(np.stack([true, true]), np.stack([est, true]))
    assert batch["shd"].tolist() == [3, 0]


# Peters & Bühlmann (2015), Fig. 2: G, H1 = G + (2 -> 3), H2 = G with 0 -> 1 reversed.
G_PAPER = _adj(5, [(0, 1), (0, 2), (0, 3), (0, 4), (1, 2), (1, 3), (1, 4)])
H1 = G_PAPER + _adj(5, [(2, 3)])
H2 = G_PAPER - _adj(5, [(0, 1)]) + _adj(5, [(1, 0)])


def test_sid_paper_example_and_hand_checked_cases():
    # Both H1 and H2 are one edge from G (SHD 1), but SID tells them apart.
    assert int(dag.metrics(G_PAPER, H1)["shd"]) == int(dag.metrics(G_PAPER, H2)["shd"]) == 1
    assert dag.sid(G_PAPER, H1) == 0
    assert dag.sid(G_PAPER, H2) == 8  # i=0: 4 pairs (its "parent" 1 is its child); i=1: 4
    assert dag.sid(G_PAPER, G_PAPER) == 0
    chain = _adj(3, [(0, 1), (1, 2)])
    empty = np.zeros((3, 3), int)
    # Empty H claims no confounding: wrong for (1,0), (2,0), (2,1); right for the causal pairs.
    assert dag.sid(chain, empty) == 3
    # H = chain, G empty: every parent set is a valid (useless) adjustment set.
    assert dag.sid(empty, chain) == 0
    reversed_chain = _adj(3, [(1, 0), (2, 1)])
    # i=0: Pa_H={1}, a child of 0: (0,1) and (0,2) wrong; i=1: Pa_H={2}: (1,2) wrong and (1,0)
    # wrong (0 -> 1 unblocked); i=2: Pa_H={}: (2,0), (2,1) wrong (back-door through 1).
    assert dag.sid(chain, reversed_chain) == 6


def _oracle_sid(G, W, H):
    """Count pairs whose parent-adjustment coefficient differs from the true total effect."""
    d = G.shape[0]
    inv = np.linalg.inv(np.eye(d) - W)
    sigma = inv.T @ inv  # Cov(X) with unit noise variances
    wrong = 0
    for i, j in itertools.permutations(range(d), 2):
        Z = list(np.flatnonzero(H[:, i]))
        if j in Z:
            est = 0.0  # H says x_j is a cause of x_i: no effect on x_j
        else:
            S = [i, *Z]
            beta = np.linalg.solve(sigma[np.ix_(S, S)], sigma[S, j])
            est = beta[0]  # E[x_j | do(x_i)] slope by adjustment for Z
        wrong += abs(est - inv[i, j]) > 1e-8  # total effect of i on j = [(I - W)^{-1}]_ij
    return wrong


def test_sid_matches_linear_gaussian_oracle():
    rng = np.random.default_rng(0)
    d = 6
    for _ in range(40):
        G = np.triu(rng.random((d, d)) < 0.45, 1).astype(int)
        H = np.triu(rng.random((d, d)) < 0.45, 1).astype(int)
        p, q = rng.permutation(d), rng.permutation(d)
        G, H = G[np.ix_(p, p)], H[np.ix_(q, q)]
        W = G * rng.uniform(0.5, 2.0, (d, d)) * rng.choice([-1, 1], (d, d))  # generic weights
        assert dag.sid(G, H) == _oracle_sid(G, W, H)


def test_d_connected_matches_networkx():
    rng = np.random.default_rng(1)
    d = 7
    for _ in range(60):
        G = np.triu(rng.random((d, d)) < 0.35, 1)
        p = rng.permutation(d)
        G = G[np.ix_(p, p)]
        g = nx.DiGraph(G)
        src = int(rng.integers(d))
        Z = {int(z) for z in rng.choice(d, int(rng.integers(0, 3)), replace=False)} - {src}
        reach = evaluation.d_connected(G, src, Z)
        for j in set(range(d)) - Z - {src}:
            assert reach[j] == (not nx.is_d_separator(g, {src}, {j}, Z))


def test_metric_inputs_are_checked():
    with pytest.raises(ValueError, match="B_est must have shape"):
        dag.metrics(np.zeros((3, 3)), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="B_est must be a DAG"):
        dag.sid(np.zeros((2, 2)), np.array([[0, 1], [1, 0]]))
    with pytest.raises(ValueError, match="B_true must be a DAG"):
        dag.sid(np.eye(2), np.zeros((2, 2)))


def test_metrics_refuse_cyclic_graphs_and_return_python_numbers():
    true = np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]])
    cyclic = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="B_est must be a DAG; it has a directed cycle"):
        dag.metrics(true, cyclic)
    with pytest.raises(ValueError, match=r"B_est must be a DAG \(batch index \[1\]\)"):
        dag.metrics(np.stack([true, true]), np.stack([true, cyclic]))
    m = dag.metrics(true, true)
    assert type(m["shd"]) is int and type(m["nnz"]) is int and m["shd"] == 0
    assert all(type(m[k]) is float for k in ("tpr", "fdr", "fpr")) and m["tpr"] == 1.0
