"""Simulators: graph laws, weight supports, and SEM noise laws against exact moments."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from probkit import dag
from probkit.testing import assert_within_se, keys


def test_er_dag_is_acyclic_reproducible_and_has_expected_edge_count():
    d, e = 12, 24
    Bs = jax.vmap(lambda k: dag.simulate_dag(k, d, e, "ER"))(keys(400))
    assert bool(jnp.all(dag.is_dag(Bs)))
    assert jnp.array_equal(Bs[0], dag.simulate_dag(keys(400)[0], d, e, "ER"))
    # Each of the d(d-1)/2 pairs is an edge with p = 2e/(d^2-d): E[#edges] = e exactly.
    assert_within_se(np.asarray(Bs.sum((1, 2))), e, z=4, what="ER edge count")
    # The random node order: every ordered pair is an edge equally often (no triangle bias).
    freq = np.asarray(Bs.mean(0))
    upper, lower = freq[np.triu_indices(d, 1)].mean(), freq[np.tril_indices(d, -1)].mean()
    assert abs(upper - lower) < 0.02  # each mean is over 26,400 Bernoulli(0.18): SE ~ 0.003


def test_sf_dag_edge_count_and_hubs():
    d, m = 30, 2
    B = np.asarray(dag.simulate_dag(jax.random.key(3), d, m * d, "SF"))
    assert bool(dag.is_dag(B))
    # node t attaches to min(m, t) distinct earlier nodes: m(d-1) - m(m-1)/2 edges exactly
    assert B.sum() == m * (d - 1) - m * (m - 1) // 2
    indeg = B.sum(0)
    assert indeg.max() >= 3 * np.median(indeg)  # preferential attachment makes hubs


def test_weights_have_the_graph_support_and_ranges():
    B = dag.simulate_dag(jax.random.key(1), 20, 60, "ER")
    W = np.asarray(dag.simulate_weights(jax.random.key(2), B))
    assert np.array_equal(W != 0, np.asarray(B) != 0)
    w = W[W != 0]
    assert np.all((np.abs(w) >= 0.5) & (np.abs(w) <= 2.0))
    assert (w > 0).any() and (w < 0).any()


@pytest.mark.parametrize(
    "noise, skew, exkurt",
    [
        ("gaussian", 0.0, 0.0),
        ("exponential", 2.0, 6.0),
        ("laplace", 0.0, 3.0),
        ("gumbel", 1.1395470994, 2.4),
    ],
)
def test_sem_noise_has_requested_scale_and_law(x64, noise, skew, exkurt):
    d, n = 4, 200000
    W = jnp.zeros((d, d)).at[0, 1].set(1.5).at[1, 2].set(-0.7).at[0, 3].set(0.8)
    scale = jnp.array([0.5, 1.0, 2.0, 3.0])
    X = dag.simulate_linear_sem(jax.random.key(7), W, n, noise, scale)
    E = np.asarray(X @ (jnp.eye(d) - W))  # exact noise recovery: X (I - W) = E
    E = E - E.mean(0)
    sd = E.std(0)
    # SE of a sample sd is about sd * sqrt((exkurt + 2) / (4 n)).
    assert np.all(np.abs(sd - scale) <= 4 * np.asarray(scale) * np.sqrt((exkurt + 2) / (4 * n)))
    sk = stats.skew(E, axis=0)
    assert np.all(np.abs(sk - skew) < 0.1)  # SE of the skewness <= 0.02 for these four laws
    assert abs(np.corrcoef(E.T)[0, 3]) < 0.012  # independent noises: SE 0.0022


def test_sem_covariance_matches_exact(x64):
    d, n = 5, 20000
    B = dag.simulate_dag(jax.random.key(0), d, 6)
    W = dag.simulate_weights(jax.random.key(1), B)
    X = np.asarray(dag.simulate_linear_sem(jax.random.key(2), W, n))
    inv = np.linalg.inv(np.eye(d) - np.asarray(W))
    exact = inv.T @ inv  # Cov(X) = (I - W)^{-T} (I - W)^{-1} for unit noise
    emp = np.cov(X.T)
    se = np.sqrt((exact**2 + np.outer(np.diag(exact), np.diag(exact))) / n)
    assert np.all(np.abs(emp - exact) <= 5 * se)


def test_simulators_reject_bad_input():
    k = jax.random.key(0)
    with pytest.raises(ValueError, match="num_edges"):
        dag.simulate_dag(k, 4, 7)
    with pytest.raises(ValueError, match="graph_type"):
        dag.simulate_dag(k, 4, 2, "BA")
    with pytest.raises(ValueError, match="round"):
        dag.simulate_dag(k, 10, 2, "SF")
    with pytest.raises(TypeError, match="key"):
        dag.simulate_dag(0, 4, 2)
    with pytest.raises(ValueError, match="exclude 0"):
        dag.simulate_weights(k, jnp.eye(3), weight_ranges=((-1.0, 1.0),))
    cyclic = jnp.array([[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="cycle"):
        dag.simulate_linear_sem(k, cyclic, 10)
    with pytest.raises(ValueError, match="noise_scale"):
        dag.simulate_linear_sem(k, jnp.zeros((3, 3)), 10, noise_scale=jnp.ones(2))
    with pytest.raises(ValueError, match="noise_scale"):
        dag.simulate_linear_sem(k, jnp.zeros((3, 3)), 10, noise_scale=-1.0)
    with pytest.raises(ValueError, match="noise"):
        dag.simulate_linear_sem(k, jnp.zeros((3, 3)), 10, noise="cauchy")


def test_simulate_problem_bundles_the_design():
    p = dag.simulate_problem(jax.random.key(4), 8, 16, 50, "ER", noise_variance=(0.5, 10.0))
    assert p.X.shape == (50, 8) and bool(dag.is_dag(p.B))
    assert np.array_equal(np.asarray(p.W) != 0, np.asarray(p.B) != 0)
    var = np.asarray(p.noise_scale) ** 2
    assert np.all((var >= 0.5) & (var <= 10.0)) and var.std() > 0
    q = dag.simulate_problem(jax.random.key(4), 8, 16, 50, "ER", noise_variance=(0.5, 10.0))
    assert all(jnp.array_equal(a, b) for a, b in zip(p, q))  # seeded: reproducible
    assert np.all(np.asarray(dag.simulate_problem(jax.random.key(4), 8, 16, 5).noise_scale) == 1)
    with pytest.raises(ValueError, match="noise_variance"):
        dag.simulate_problem(jax.random.key(4), 8, 16, 5, noise_variance=(2.0, 1.0))
