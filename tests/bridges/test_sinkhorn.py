"""Sinkhorn against exact answers: closed forms, linear programming, limits, invariances."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from probkit import bridges


def _uniform(n):
    return jnp.full(n, 1.0 / n)


def test_two_by_two_plan_closed_form(x64):
    a = jnp.array([0.5, 0.5])
    for c, eps in [(1.0, 0.5), (3.0, 1.0), (0.2, 2.0)]:
        cost = jnp.array([[0.0, c], [c, 0.0]])
        res = bridges.sinkhorn(a, a, cost, eps, threshold=1e-12)
        p11 = 0.5 / (1.0 + np.exp(-c / eps))  # symmetric problem: P = [[p, 1/2-p], [1/2-p, p]]
        np.testing.assert_allclose(res.plan, [[p11, 0.5 - p11], [0.5 - p11, p11]], atol=1e-10)
        assert bool(res.converged) and not bool(res.failed)


def test_marginals_met_to_1e6_and_primal_equals_dual(x64):
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    a = jax.random.dirichlet(k1, jnp.ones(7))
    b = jax.random.dirichlet(k2, jnp.ones(5))
    cost = jax.random.uniform(k3, (7, 5)) * 3.0
    res = bridges.sinkhorn(a, b, cost, 0.3, threshold=1e-10)
    assert bool(res.converged)
    np.testing.assert_allclose(res.plan.sum(1), a, atol=1e-6)
    np.testing.assert_allclose(res.plan.sum(0), b, atol=1e-6)
    # OT_eps = <P, C> + eps KL(P || a b^T) equals the dual <f, a> + <g, b> at convergence
    kl = jnp.sum(res.plan * jnp.log(res.plan / jnp.outer(a, b)))
    np.testing.assert_allclose(res.transport_cost + 0.3 * kl, res.cost, rtol=1e-8)


def test_large_epsilon_gives_product_coupling(x64):
    a, b = jnp.array([0.2, 0.5, 0.3]), jnp.array([0.6, 0.4])
    cost = jnp.array([[0.0, 1.0], [2.0, 0.5], [1.5, 3.0]])
    res = bridges.sinkhorn(a, b, cost, 1e7, threshold=1e-12)
    np.testing.assert_allclose(res.plan, jnp.outer(a, b), atol=1e-6)  # O(C / eps) deviation


@pytest.mark.parametrize("n,m,seed", [(6, 6, 0), (5, 8, 1)])
def test_small_epsilon_matches_linear_program(x64, n, m, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(m))
    cost = rng.uniform(size=(n, m))
    _, exact = bridges.exact_ot(a, b, cost)
    # independent check of exact_ot with scipy's linprog on the full equality system
    rows = np.kron(np.eye(n), np.ones((1, m)))
    cols = np.kron(np.ones((1, n)), np.eye(m))
    lp = scipy.optimize.linprog(cost.ravel(), A_eq=np.vstack([rows, cols]),
                                b_eq=np.r_[a, b], bounds=(0, None))  # fmt: skip
    np.testing.assert_allclose(exact, lp.fun, atol=1e-9)
    eps = 1e-3
    res = bridges.sinkhorn(a, b, cost, eps, epsilon_start=1.0, threshold=1e-9,
                           max_iterations=200_000)  # fmt: skip
    assert bool(res.converged)
    # 0 <= <P_eps, C> - OT <= eps * KL(P* || a b^T) <= eps * log(1 / min(a, b))
    gap = float(res.transport_cost) - exact
    assert -1e-7 <= gap <= eps * np.log(1.0 / min(a.min(), b.min())) + 1e-7


def test_wasserstein2_in_one_dimension_is_sorted_pairs():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(40, 1)), rng.normal(1.0, 2.0, size=(40, 1))
    sorted_pairs = np.sqrt(np.mean((np.sort(x[:, 0]) - np.sort(y[:, 0])) ** 2))
    np.testing.assert_allclose(bridges.wasserstein2(x, y), sorted_pairs, rtol=1e-10)
    # unequal sizes go through the LP; a duplicated cloud has the same W2
    np.testing.assert_allclose(bridges.wasserstein2(x, np.r_[y, y]), sorted_pairs, rtol=1e-6)


def test_translation_invariance_of_the_divergence(x64):
    x = jax.random.normal(jax.random.key(1), (30, 2))
    tau = jnp.array([0.7, -1.2])
    eps = 0.5
    a = _uniform(30)
    ot_xy = bridges.sinkhorn(a, a, bridges.squared_euclidean(x, x + tau), eps, threshold=1e-11)
    ot_xx = bridges.sinkhorn(a, a, bridges.squared_euclidean(x, x), eps, threshold=1e-11)
    np.testing.assert_allclose(ot_xy.cost - ot_xx.cost, jnp.sum(tau**2), rtol=1e-8)
    div = bridges.sinkhorn_divergence(x, x + tau, eps, threshold=1e-11)
    np.testing.assert_allclose(div, jnp.sum(tau**2), rtol=1e-8)
    assert abs(float(bridges.sinkhorn_divergence(x, x, eps, threshold=1e-11))) < 1e-10


def test_warm_start_and_batch(x64):
    k1, k2 = jax.random.split(jax.random.key(2))
    x, y = jax.random.normal(k1, (3, 12, 2)), jax.random.normal(k2, (3, 12, 2)) + 1.0
    cost = jax.vmap(bridges.squared_euclidean)(x, y)
    a = jnp.broadcast_to(_uniform(12), (3, 12))
    batch = jax.jit(lambda a, c: bridges.batched_sinkhorn(a, a, c, 0.4, threshold=1e-10))(a, cost)
    for i in range(3):
        one = bridges.sinkhorn(a[i], a[i], cost[i], 0.4, threshold=1e-10)
        np.testing.assert_allclose(batch.plan[i], one.plan, atol=1e-10)
        warm = bridges.sinkhorn(a[i], a[i], cost[i], 0.4, init=(one.f, one.g), threshold=1e-10)
        assert int(warm.iterations) <= 1 < int(one.iterations)
        np.testing.assert_allclose(warm.plan, one.plan, atol=1e-10)


def test_gaussian_entropic_ot_matches_sampled_sinkhorn(x64):
    m0, c0 = jnp.zeros(2), jnp.array([[1.0, 0.3], [0.3, 0.5]])
    m1, c1 = jnp.array([1.0, -1.0]), jnp.array([[0.7, -0.2], [-0.2, 1.2]])
    eps, n = 1.0, 1000
    exact = bridges.gaussian_eot(m0, c0, m1, c1, eps)
    k0, k1 = jax.random.split(jax.random.key(0))
    x = jax.random.multivariate_normal(k0, m0, c0, (n,))
    y = jax.random.multivariate_normal(k1, m1, c1, (n,))
    res = bridges.sinkhorn(_uniform(n), _uniform(n), bridges.squared_euclidean(x, y), eps,
                           threshold=1e-8)  # fmt: skip
    cross = (x - x.mean(0)).T @ res.plan @ (y - y.mean(0))
    # plug-in entropic OT converges at rate n^-1/2; constants of order 1 for these scales
    assert float(jnp.max(jnp.abs(cross - exact.cross_covariance))) < 3.0 / np.sqrt(n)
    assert abs(float(res.cost - exact.cost)) < 6.0 / np.sqrt(n)


def test_float32_two_by_two_stays_accurate():
    a = jnp.array([0.5, 0.5], jnp.float32)
    cost = jnp.array([[0.0, 2.0], [2.0, 0.0]], jnp.float32)
    res = bridges.sinkhorn(a, a, cost, 0.5, threshold=1e-6)
    assert res.plan.dtype == jnp.float32
    np.testing.assert_allclose(res.plan[0, 0], 0.5 / (1 + np.exp(-4.0)), rtol=1e-5)


def test_bad_inputs():
    a = jnp.array([0.5, 0.5])
    cost = jnp.ones((2, 2))
    with pytest.raises(ValueError, match="epsilon"):
        bridges.sinkhorn(a, a, cost, 0.0)
    with pytest.raises(ValueError, match="epsilon"):
        bridges.sinkhorn(a, a, cost, -1.0)
    with pytest.raises(ValueError, match="cost"):
        bridges.sinkhorn(a, a, cost.at[0, 1].set(jnp.nan), 1.0)
    with pytest.raises(ValueError, match="b must have shape"):
        bridges.sinkhorn(a, jnp.ones(3) / 3, cost, 1.0)
    with pytest.raises(ValueError, match="sum to 1"):
        bridges.sinkhorn(a, jnp.array([0.5, 0.6]), cost, 1.0)
    with pytest.raises(ValueError, match="same dimension"):
        bridges.sinkhorn_divergence(jnp.ones((3, 2)), jnp.ones((3, 3)), 1.0)
    with pytest.raises(ValueError, match="finite"):
        bridges.wasserstein2(jnp.ones((3, 2)).at[0, 0].set(jnp.nan), jnp.ones((3, 2)))
