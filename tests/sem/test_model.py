"""Numeric covariance: one-connection rule vs matrix inversion, trek rule, sampling, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from probkit import sem
from probkit.sem.connections import compile_plan, evaluate_plan
from probkit.testing import assert_within_se, keys

from . import _graphs
from ._graphs import inverse_covariance, random_acyclic_graph, random_parameters

THREE_CYCLE = sem.MixedGraph(3, directed=[(0, 1), (1, 2), (2, 0)], bidirected=[(0, 1)])
A, B, C = 0.5, -0.4, 0.3  # the worked example of the research notes, part (a)
LAM_3 = np.array([[0, A, 0], [0, 0, B], [C, 0, 0]])
OMEGA_3 = np.array([[1, 0.2, 0], [0.2, 1, 0], [0, 0, 1]])


def one_connection_covariance_np(g, lam, omega):
    """The one-connection rule from the compiled plan, evaluated in NumPy (no compilation)."""
    big_n, det = evaluate_plan(compile_plan(g), lam, np)
    return big_n.T @ omega @ big_n / det**2


@pytest.fixture(scope="module")
def cyclic_cases():
    return _graphs.cyclic_cases()  # 42 graphs each of 3..7 nodes


def test_one_connection_matches_inverse_on_210_random_cyclic_graphs(cyclic_cases):
    # bows (i -> j with i <-> j) and 2-cycles are among them
    assert sum(bool(g.bows()) for g, _, _ in cyclic_cases) > 30
    assert sum(bool(g.two_cycles()) for g, _, _ in cyclic_cases) > 30
    worst = 0.0
    for g, lam, omega in cyclic_cases:
        assert not g.is_acyclic()
        ref = inverse_covariance(lam, omega)
        got = one_connection_covariance_np(g, lam, omega)
        worst = max(worst, np.max(np.abs(got - ref)) / np.max(np.abs(ref)))
    assert worst < 1e-10  # float64: both exact up to rounding in well-conditioned I - Lambda


def test_jax_paths_agree_with_numpy_on_a_subset(x64, cyclic_cases):
    # the JAX evaluation compiles once per graph, so a subset; same plan as the NumPy check
    for g, lam, omega in cyclic_cases[::26]:
        ref = inverse_covariance(lam, omega)
        scale = np.max(np.abs(ref))
        for method in sem.model.METHODS:
            got = np.asarray(sem.covariance(g, lam, omega, method=method))
            assert np.max(np.abs(got - ref)) < 1e-10 * scale, method


def test_vmap_and_batch_over_parameter_draws(x64):
    g = sem.MixedGraph(
        5, directed=[(0, 1), (1, 2), (2, 3), (3, 1), (3, 4), (4, 0)], bidirected=[(0, 2), (1, 4)]
    )
    rng = np.random.default_rng(3)
    lams, omegas = (np.stack(x) for x in zip(*[random_parameters(rng, g) for _ in range(64)]))
    ref = np.stack([inverse_covariance(l, o) for l, o in zip(lams, omegas)])
    oc = jax.vmap(lambda l, o: sem.covariance(g, l, o, method="one-connection"))(lams, omegas)
    np.testing.assert_allclose(oc, ref, rtol=1e-10, atol=1e-12)
    for method in sem.model.METHODS:
        res = sem.batch_covariance(g, lams, omegas, method=method, batch_size=16)
        assert not bool(jnp.any(res.failed))
        np.testing.assert_allclose(res.covariance, ref, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(res.determinant, np.linalg.det(np.eye(5) - lams), rtol=1e-10)


def test_three_cycle_worked_example_reproduces_the_printed_sigma(x64):
    printed = np.array(
        [[0.9402, 0.5456, 0.0648], [0.5456, 1.3105, -0.3827], [0.0648, -0.3827, 1.0965]]
    )
    for method in sem.model.METHODS:
        sigma = np.asarray(sem.covariance(THREE_CYCLE, LAM_3, OMEGA_3, method=method))
        np.testing.assert_allclose(sigma, printed, atol=5e-5)  # printed to 4 decimals
    # and the notes' closed forms (omega_ii = 1, omega_12 = 0.2)
    d2 = (1 - A * B * C) ** 2
    w = 0.2
    s11 = (1 + C**2 + B**2 * C**2 + 2 * B * C * w) / d2
    s12 = (A + B * C + A * C**2 + (1 + A * B * C) * w) / d2
    s23 = (A**2 * B + B + A * C + 2 * A * B * w) / d2
    assert (sigma[0, 0], sigma[0, 1], sigma[1, 2]) == pytest.approx((s11, s12, s23), abs=1e-14)


def test_acyclic_graphs_reproduce_the_trek_rule(x64):
    rng = np.random.default_rng(7)
    for t in range(25):
        g = random_acyclic_graph(rng, 3 + t % 4, 0.5, 0.3)
        lam, omega = random_parameters(rng, g, 0.3, 1.2)
        n = g.num_nodes
        trek = np.zeros((n, n))
        for i in range(n):
            for j in range(n):
                for tr in g.treks(i, j):
                    w = omega[tr.top[0], tr.top[-1]]
                    for u, v in zip(tr.left[:-1], tr.left[1:]):
                        w *= lam[u, v]
                    for u, v in zip(tr.right[:-1], tr.right[1:]):
                        w *= lam[u, v]
                    trek[i, j] += w
        np.testing.assert_allclose(
            one_connection_covariance_np(g, lam, omega), trek, rtol=1e-12, atol=1e-12
        )
        np.testing.assert_allclose(inverse_covariance(lam, omega), trek, rtol=1e-12, atol=1e-12)
    # the notes' check: 1->2->3 with 1<->3
    g = sem.MixedGraph(3, directed=[(0, 1), (1, 2)], bidirected=[(0, 2)])
    a, b = 0.7, -1.3
    lam = np.array([[0, a, 0], [0, 0, b], [0, 0, 0]])
    omega = np.array([[1.5, 0, 0.4], [0, 0.8, 0], [0.4, 0, 2.0]])
    s = np.asarray(sem.covariance(g, lam, omega, method="one-connection"))
    assert s[0, 2] == pytest.approx(a * b * 1.5 + 0.4, abs=1e-14)
    assert s[2, 2] == pytest.approx(a**2 * b**2 * 1.5 + 2 * a * b * 0.4 + b**2 * 0.8 + 2.0)


def test_float32_default_is_accurate():
    sigma = sem.covariance(THREE_CYCLE, LAM_3, OMEGA_3, method="one-connection")
    assert sigma.dtype == jnp.float32
    np.testing.assert_allclose(sigma, inverse_covariance(LAM_3, OMEGA_3), rtol=2e-6)


def test_samples_have_the_model_covariance():
    model = sem.LinearSEM(THREE_CYCLE, LAM_3, OMEGA_3)
    draws = jax.vmap(lambda k: model.sample(k, 500))(keys(200))
    assert draws.shape == (200, 500, 3)
    covs = jax.vmap(lambda x: x.T @ x / x.shape[0])(draws)  # mean-zero model: unbiased
    assert_within_se(covs.reshape(200, 9), model.covariance().reshape(9), z=4)


def test_random_parameters_respect_the_support():
    g = THREE_CYCLE
    lams, omegas = jax.vmap(lambda k: sem.random_parameters(k, g))(keys(100))
    assert np.all(np.asarray(lams)[:, ~g.directed_adjacency()] == 0)
    allowed = g.bidirected_adjacency() | np.eye(3, dtype=bool)
    assert np.all(np.asarray(omegas)[:, ~allowed] == 0)
    assert np.all(np.abs(np.asarray(lams)[:, g.directed_adjacency()]) >= 0.3)
    assert np.all(np.linalg.eigvalsh(np.asarray(omegas))[:, 0] > 0)
    theta = sem.pack_parameters(g, lams[0], omegas[0])
    assert theta.shape == (g.num_parameters,) and len(sem.parameter_names(g)) == 7
    back = sem.unpack_parameters(g, theta)
    np.testing.assert_array_equal(back[0], lams[0])
    np.testing.assert_array_equal(back[1], omegas[0])


def test_linear_sem_object(x64):
    m = sem.LinearSEM.from_parameters(THREE_CYCLE, sem.pack_parameters(THREE_CYCLE, LAM_3, OMEGA_3))
    x = np.array([[0.3, -1.0, 0.5]])
    ref = stats.multivariate_normal(np.zeros(3), inverse_covariance(LAM_3, OMEGA_3)).logpdf(x)
    log_prob = jax.jit(lambda model, x: model.distribution().log_prob(x))  # a pytree argument
    assert float(log_prob(m, x)[0]) == pytest.approx(ref, rel=1e-12)
    assert float(m.determinant()) == pytest.approx(1 - A * B * C)
    # a pytree: vmap over models built from stacked parameters
    lams = jnp.stack([LAM_3, 0.5 * LAM_3])
    covs = jax.vmap(lambda l: sem.LinearSEM(THREE_CYCLE, l, OMEGA_3).covariance())(lams)
    np.testing.assert_allclose(covs[1], inverse_covariance(0.5 * LAM_3, OMEGA_3), rtol=1e-12)


# -- bad input --------------------------------------------------------------------------------
def test_singular_i_minus_lambda_is_an_error():
    g = sem.MixedGraph(2, directed=[(0, 1), (1, 0)])
    lam = np.array([[0.0, 2.0], [0.5, 0.0]])  # det(I - lam) = 1 - 2 * 0.5 = 0
    for method in sem.model.METHODS:
        with pytest.raises(ValueError, match="singular"):
            sem.covariance(g, lam, np.eye(2), method=method)
    with pytest.raises(ValueError, match="singular"):
        sem.LinearSEM(g, lam, np.eye(2))


def test_singular_draw_in_a_batch_is_flagged_not_nan_silently(x64):
    g = sem.MixedGraph(2, directed=[(0, 1), (1, 0)])
    lams = np.array([[[0.0, 2.0], [0.5, 0.0]], [[0.0, 0.3], [0.2, 0.0]]])
    for method in sem.model.METHODS:
        res = sem.batch_covariance(g, lams, np.stack([np.eye(2)] * 2), method=method)
        assert res.failed.tolist() == [True, False]
        assert np.all(np.isnan(res.covariance[0])) and np.all(np.isfinite(res.covariance[1]))


def test_non_positive_definite_omega_is_an_error():
    omega = np.array([[1.0, 2.0, 0], [2.0, 1.0, 0], [0, 0, 1.0]])
    with pytest.raises(ValueError, match="positive definite"):
        sem.covariance(THREE_CYCLE, LAM_3, omega)
    with pytest.raises(ValueError, match="symmetric"):
        sem.covariance(THREE_CYCLE, LAM_3, np.array([[1, 0.2, 0], [0.1, 1, 0], [0, 0, 1]]))
    with pytest.raises(ValueError, match=r"positive definite \(draw 1\)"):
        sem.batch_covariance(THREE_CYCLE, np.stack([LAM_3] * 2), np.stack([OMEGA_3, omega]))


def test_parameters_off_the_support_are_an_error():
    lam = LAM_3.copy()
    lam[0, 2] = 0.1  # no edge 0 -> 2
    with pytest.raises(ValueError, match="no directed edge 0 -> 2"):
        sem.covariance(THREE_CYCLE, lam, OMEGA_3)
    omega = OMEGA_3.copy()
    omega[1, 2] = omega[2, 1] = 0.1  # no edge 1 <-> 2
    with pytest.raises(ValueError, match="no bidirected edge 1 <-> 2"):
        sem.covariance(THREE_CYCLE, LAM_3, omega)
    lam = LAM_3.copy()
    lam[1, 1] = 0.5
    with pytest.raises(ValueError, match="off the graph's support"):
        sem.LinearSEM(THREE_CYCLE, lam, OMEGA_3)
    with pytest.raises(ValueError, match=r"\(draw 1\)"):
        sem.batch_covariance(THREE_CYCLE, np.stack([LAM_3, lam]), np.stack([OMEGA_3] * 2))


def test_shapes_types_and_methods():
    with pytest.raises(ValueError, match="shape"):
        sem.covariance(THREE_CYCLE, np.zeros((2, 2)), OMEGA_3)
    with pytest.raises(ValueError, match="method"):
        sem.covariance(THREE_CYCLE, LAM_3, OMEGA_3, method="trek")
    with pytest.raises(TypeError, match="MixedGraph"):
        sem.covariance(np.eye(3), LAM_3, OMEGA_3)
    with pytest.raises(ValueError, match="finite"):
        sem.covariance(THREE_CYCLE, LAM_3 * np.nan, OMEGA_3)
    with pytest.raises(ValueError, match="7 entries"):
        sem.unpack_parameters(THREE_CYCLE, np.zeros(5))
    with pytest.raises(ValueError, match="weight_range"):
        sem.random_parameters(jax.random.key(0), THREE_CYCLE, weight_range=(1.0, 0.5))
    with pytest.raises(ValueError, match="num_samples"):
        sem.LinearSEM(THREE_CYCLE, LAM_3, OMEGA_3).sample(jax.random.key(0), 0)


def _three_cycle():
    return sem.MixedGraph(3, directed=[(0, 1), (1, 2), (2, 0)])


def test_one_connection_overflow_is_an_error_not_nan():
    g = _three_cycle()
    lam = np.zeros((3, 3), np.float32)
    lam[0, 1], lam[1, 2], lam[2, 0] = 1e20, 0.5, 0.3
    omega = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match=r"overflows float32.*\|lam\|.*method=\"inverse\""):
        sem.covariance(g, lam, omega, method="one-connection")
    # The solves stay finite, but Sigma_00 (3.0e-33 exactly, against entries near 48) is far
    # below float32's resolution of this Sigma and comes out as 0: an error, not a zero variance.
    with pytest.raises(ValueError, match=r"underflows float32.*\|lam\| entry 1e\+20"):
        sem.covariance(g, lam, omega, method="inverse")


@pytest.mark.parametrize("method", ["inverse", "one-connection"])
def test_omega_that_overflows_float32_is_an_error(method):
    lam = np.zeros((3, 3), np.float32)
    lam[0, 1], lam[1, 2], lam[2, 0] = 0.5, 0.5, 0.3
    omega = np.eye(3, dtype=np.float32)
    omega[2, 2] = 3e38
    with pytest.raises(ValueError, match=r"overflows float32.*\|omega\| entry 3e\+38"):
        sem.covariance(_three_cycle(), lam, omega, method=method)


def test_covariance_that_underflows_float32_is_an_error_or_a_failed_flag():
    # Every coefficient 1e20: Sigma ~ 1e-40, below float32's smallest normal number, so the
    # solves give zeros or denormals (which depends on the CPU's flush-to-zero): never returned.
    lam = np.zeros((3, 3), np.float32)
    lam[0, 1], lam[1, 2], lam[2, 0] = 1e20, 1e20, 1e20
    omega = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match=r"underflows float32.*\|lam\| entry 1e\+20"):
        sem.covariance(_three_cycle(), lam, omega, method="inverse")
    batch = sem.batch_covariance(_three_cycle(), lam[None], omega[None])
    assert bool(batch.failed[0]) and np.isnan(np.asarray(batch.covariance[0])).all()
