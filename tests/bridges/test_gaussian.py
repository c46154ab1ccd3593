"""Gaussian closed forms: invariants, limits, and simulated bridges against the covariance path."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit import bridges
from probkit.bridges import lna

# float64 NumPy constants (module-level jnp arrays would be float32 before the x64 fixture)
M0, C0 = np.array([0.0, 0.5]), np.array([[1.0, 0.3], [0.3, 0.5]])
M1, C1 = np.array([1.0, -1.0]), np.array([[0.7, -0.2], [-0.2, 1.2]])
A = np.array([[-1.0, 0.8], [-0.6, -0.5]])
MU = np.array([0.2, -0.1])


def _cov_se(cov, n):
    """Standard error of sample-covariance entries: sqrt((S_ii S_jj + S_ij^2) / n)."""
    d = jnp.sqrt(jnp.diag(cov))
    return jnp.sqrt((jnp.outer(d, d) ** 2 + cov**2) / n)


def test_eot_precision_invariant_and_zero_noise_limit(x64):
    eps = 0.8
    eot = bridges.gaussian_eot(M0, C0, M1, C1, eps)
    joint = jnp.block([[C0, eot.cross_covariance], [eot.cross_covariance.T, C1]])
    prec = jnp.linalg.inv(joint)
    np.testing.assert_allclose(prec[:2, 2:], -jnp.eye(2) / (eps / 2), atol=1e-10)
    w2 = bridges.gaussian_w2(M0, C0, M1, C1)
    np.testing.assert_allclose(bridges.gaussian_eot(M0, C0, M1, C1, 1e-9).cost, w2, atol=1e-6)
    # 1-D Bures: (a - b)^2 + (sqrt A - sqrt B)^2
    one = bridges.gaussian_w2(jnp.array([1.0]), jnp.array([[4.0]]), jnp.array([0.0]),
                              jnp.array([[1.0]]))  # fmt: skip
    np.testing.assert_allclose(one, 1.0 + 1.0, rtol=1e-12)


@pytest.mark.parametrize("linear", [False, True])
def test_sb_endpoints_coupling_and_fokker_planck(x64, linear):
    sigma, T = 0.7, 1.5
    kw = dict(A=A, m=MU) if linear else {}
    sb = bridges.gaussian_sb(M0, C0, M1, C1, sigma, horizon=T, **kw)
    for t, (m, c) in [(0.0, (M0, C0)), (T, (M1, C1))]:
        mean, cov = bridges.gaussian_sb_marginal(sb, t)
        np.testing.assert_allclose(mean, m, atol=1e-10)
        np.testing.assert_allclose(cov, c, atol=1e-10)
    if not linear:  # Brownian: the static SB is EOT with eps = 2 sigma^2 T
        eot = bridges.gaussian_eot(M0, C0, M1, C1, 2 * sigma**2 * T)
        np.testing.assert_allclose(sb.cross_covariance, eot.cross_covariance, atol=1e-10)
    # the drift generates the marginal path: d mean = f(mean), d cov = K cov + cov K^T + s^2 I
    t, h = 0.6, 1e-5
    mean, cov = bridges.gaussian_sb_marginal(sb, t)
    mp, cp = bridges.gaussian_sb_marginal(sb, t + h)
    mm, cm = bridges.gaussian_sb_marginal(sb, t - h)
    K = jax.jacfwd(lambda x: bridges.gaussian_sb_drift(sb, t, x))(mean)
    np.testing.assert_allclose((mp - mm) / (2 * h), bridges.gaussian_sb_drift(sb, t, mean),
                               atol=1e-7)  # fmt: skip
    np.testing.assert_allclose((cp - cm) / (2 * h), K @ cov + cov @ K.T + sigma**2 * jnp.eye(2),
                               atol=1e-7)  # fmt: skip


def test_ou_sb_coupling_is_the_whitened_eot(x64):
    # the static SB for an OU reference is Sinkhorn on -log p(x1 | x0) with eps = 1: check the
    # closed-form coupling against Sinkhorn on samples (plug-in rate n^-1/2)
    sigma, T, n = 0.8, 1.0, 800
    sb = bridges.gaussian_sb(M0, C0, M1, C1, sigma, horizon=T, A=A, m=MU)
    k0, k1 = jax.random.split(jax.random.key(4))
    x = jax.random.multivariate_normal(k0, M0, C0, (n,))
    y = jax.random.multivariate_normal(k1, M1, C1, (n,))
    ref = bridges.ou(A, MU, sigma=sigma)
    cost = bridges.transition_cost(ref, {}, x, y, 0.0, T)
    w = jnp.full(n, 1.0 / n)
    res = bridges.sinkhorn(w, w, cost, 1.0, threshold=1e-8)
    cross = (x - x.mean(0)).T @ res.plan @ (y - y.mean(0))
    assert float(jnp.max(jnp.abs(cross - sb.cross_covariance))) < 3.0 / np.sqrt(n)


@pytest.mark.parametrize("linear", [False, True])
def test_sampled_bridges_follow_the_covariance_path(x64, linear):
    sigma, T, n = 0.6, 1.0, 4000
    kw = dict(A=A, m=MU) if linear else {}
    sb = bridges.gaussian_sb(M0, C0, M1, C1, sigma, horizon=T, **kw)
    paths = bridges.gaussian_sb_sample(jax.random.key(1), sb, n, 10)
    for j in (3, 5, 8):
        mean, cov = bridges.gaussian_sb_marginal(sb, j * T / 10)
        emp = jnp.cov(paths[:, j].T)
        se = _cov_se(cov, n)
        assert bool(jnp.all(jnp.abs(emp - cov) < 4 * se)), (j, emp, cov)
        assert bool(jnp.all(jnp.abs(paths[:, j].mean(0) - mean) < 4 * jnp.sqrt(jnp.diag(cov) / n)))


def test_euler_maruyama_with_the_sb_drift_reaches_the_target(x64):
    # simulate dX = f(t, X) dt + sigma dW from N(M0, C0): the marginals follow the closed form
    sigma, T, n, steps = 0.6, 1.0, 4000, 200
    sb = bridges.gaussian_sb(M0, C0, M1, C1, sigma, horizon=T, A=A, m=MU)
    ref = bridges.drift(lambda th, x, t: bridges.gaussian_sb_drift(sb, t, x), {}, sigma=sigma)
    x0 = jax.random.multivariate_normal(jax.random.key(2), M0, C0, (n,))
    # stop one step short of T, where the drift is singular; Euler bias O(dt) << 4 SE here
    paths = bridges.simulate(jax.random.key(3), ref, {}, x0, 0.0, T * (1 - 1 / steps), steps - 1)
    for j in (steps // 2, steps - 1):
        mean, cov = bridges.gaussian_sb_marginal(sb, j * T / steps)
        emp = jnp.cov(paths[:, j].T)
        # 4 SE plus 0.02 for the O(dt) Euler bias (dt = 0.005, drift gains of order 1-3)
        assert bool(jnp.all(jnp.abs(emp - cov) < 4 * _cov_se(cov, n) + 0.02)), (j, emp, cov)
        err = jnp.abs(paths[:, j].mean(0) - mean)
        assert bool(jnp.all(err < 4 * jnp.sqrt(jnp.diag(cov) / n) + 0.02))


def test_linearised_bridges_are_exact_for_ou(x64):
    # the fit's bridge sampler (pathwise conditioning) against the closed-form OU bridge law
    sigma, T, n, N = 0.5, 1.2, 4000, 12
    ref = bridges.ou(A, MU, sigma=sigma)
    x0, x1 = jnp.array([1.0, -0.5]), jnp.array([0.3, 0.9])
    lin, F = lna.linearise(ref, {}, jnp.tile(x0, (n, 1)), 0.0, T, N)
    paths = lna.sample_bridges(jax.random.key(5), lin, F, x1[None], jnp.zeros((n, 1), int))
    P, G, V = bridges.linear_bridge_moments(A, sigma, 0.5, T)
    mean = P @ (x0 - MU) + G @ (x1 - MU) + MU
    np.testing.assert_allclose(paths[:, 0, -1], jnp.tile(x1, (n, 1)), atol=1e-10)
    emp = paths[:, 0, 5]
    assert bool(jnp.all(jnp.abs(emp.mean(0) - mean) < 4 * jnp.sqrt(jnp.diag(V) / n)))
    assert bool(jnp.all(jnp.abs(jnp.cov(emp.T) - V) < 4 * _cov_se(V, n)))
    # and the linearised end law is the exact transition
    e, phi = bridges.ou_gramian(A, T)
    np.testing.assert_allclose(lin.end_cov[0], sigma**2 * phi, atol=1e-10)
    np.testing.assert_allclose(lin.mean[0, -1], MU + e @ (x0 - MU), atol=1e-10)


def test_gaussian_bad_inputs():
    with pytest.raises(ValueError, match="epsilon"):
        bridges.gaussian_eot(M0, C0, M1, C1, 0.0)
    with pytest.raises(ValueError, match="cov1"):
        bridges.gaussian_sb(M0, C0, M1, jnp.eye(3), 1.0)
    with pytest.raises(ValueError, match="sigma"):
        bridges.gaussian_sb(M0, C0, M1, C1, -1.0)
