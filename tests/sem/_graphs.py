"""Random mixed graphs and parameters for the SEM tests (NumPy, no compilation)."""

import numpy as np

from probkit.sem import MixedGraph


def random_cyclic_graph(rng: np.random.Generator, n: int, p_dir: float, p_bi: float) -> MixedGraph:
    """A random mixed graph on n nodes with at least one directed cycle."""
    a = rng.random((n, n)) < p_dir
    np.fill_diagonal(a, False)
    g = MixedGraph(n, directed=a)
    if g.is_acyclic():  # close a random cycle through 2..n nodes
        k = int(rng.integers(2, n + 1))
        nodes = rng.permutation(n)[:k]
        for u, v in zip(nodes, np.roll(nodes, -1)):
            a[u, v] = True
    b = np.triu(rng.random((n, n)) < p_bi, 1)
    return MixedGraph(n, directed=a, bidirected=b | b.T)


def random_acyclic_graph(rng: np.random.Generator, n: int, p_dir: float, p_bi: float) -> MixedGraph:
    a = np.triu(rng.random((n, n)) < p_dir, 1)
    perm = rng.permutation(n)
    a = a[np.ix_(perm, perm)]
    b = np.triu(rng.random((n, n)) < p_bi, 1)
    return MixedGraph(n, directed=a, bidirected=b | b.T)


def random_parameters(rng: np.random.Generator, g: MixedGraph, low=0.2, high=0.7):
    """lambda = +-U(low, high) on D; Omega diagonally dominant (positive definite)."""
    n = g.num_nodes
    lam = np.where(g.directed_adjacency(), rng.uniform(low, high, (n, n)), 0.0)
    lam *= rng.choice([-1.0, 1.0], (n, n))
    off = np.triu(np.where(g.bidirected_adjacency(), rng.uniform(-0.5, 0.5, (n, n)), 0.0), 1)
    off = off + off.T
    omega = off + np.diag(rng.uniform(0.5, 1.5, n) + np.abs(off).sum(1))
    return lam, omega


def inverse_covariance(lam, omega):
    a = np.linalg.inv(np.eye(len(lam)) - lam)
    return a.T @ omega @ a


def cyclic_cases(seed: int = 2024, count: int = 210):
    """`count` random cyclic mixed graphs, count/5 each of 3..7 nodes, with parameters."""
    rng = np.random.default_rng(seed)
    cases = []
    for t in range(count):
        n = 3 + t % 5
        g = random_cyclic_graph(rng, n, p_dir=0.45 if n < 6 else 0.3, p_bi=0.3)
        cases.append((g, *random_parameters(rng, g)))
    return cases
