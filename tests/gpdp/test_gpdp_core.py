"""gpdp: SDP against brute-force policy enumeration, GP against dense Gaussian algebra,
NUTS convergence, tensors, simulation, bad inputs."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit import gpdp


def _random_mdp(seed, H=3, S=3):
    rng = np.random.default_rng(seed)
    F = rng.random((H, S, S))
    F /= F.sum(-1, keepdims=True)
    return F, rng.normal(size=(H, S))


def _brute_finite(F, R, discount, horizon):
    """Best non-stationary policy by enumerating every per-stage deterministic policy."""
    H, S, _ = F.shape
    pols = list(itertools.product(range(H), repeat=S))
    best = None
    for seq in itertools.product(pols, repeat=horizon):  # seq[0] is the first decision
        v = np.zeros(S)
        for pol in reversed(seq):
            idx = np.arange(S)
            v = R[list(pol), idx] + discount * F[list(pol), idx] @ v
        best = v if best is None else np.maximum(best, v)
    return best


def _brute_discounted(F, R, discount):
    H, S, _ = F.shape
    best, arg = None, None
    for pol in itertools.product(range(H), repeat=S):
        idx = np.arange(S)
        P, r = F[list(pol), idx], R[list(pol), idx]
        v = np.linalg.solve(np.eye(S) - discount * P, r)
        if best is None or ((v >= best - 1e-12).all() and (v > best + 1e-12).any()):
            best, arg = v, np.array(pol)
    return best, arg


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_finite_horizon_matches_enumeration(x64, seed):
    F, R = _random_mdp(seed, H=2, S=3)
    sol = gpdp.solve_sdp(F, R, 0.9, horizon=3)
    np.testing.assert_allclose(sol.value, _brute_finite(F, R, 0.9, 3), rtol=1e-12)
    assert not bool(sol.failed)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_discounted_matches_enumeration(x64, seed):
    F, R = _random_mdp(seed, H=3, S=3)
    sol = gpdp.solve_sdp(F, R, 0.8, tol=1e-11)
    v, pol = _brute_discounted(F, R, 0.8)
    np.testing.assert_allclose(sol.value, v, atol=1e-9)
    np.testing.assert_array_equal(sol.policy, pol)
    assert bool(sol.info.converged)


def test_gp_predict_matches_dense_gaussian(x64):
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 10, 12), rng.normal(size=12)
    xt = np.linspace(0, 10, 7)
    ell, sn = 1.7, 0.3

    def k(a, b):
        return np.exp(-0.5 * (a[:, None] - b[None]) ** 2 / ell**2)

    K = k(x, x) + sn**2 * np.eye(12)
    mean = k(xt, x) @ np.linalg.solve(K, y)
    cov = k(xt, xt) - k(xt, x) @ np.linalg.solve(K, k(x, xt))
    m, v = gpdp.gp_predict(jnp.asarray(x), jnp.asarray(y), jnp.asarray(xt), ell, sn)
    np.testing.assert_allclose(m, mean, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(v, np.diag(cov), rtol=1e-6, atol=1e-9)
    from scipy.stats import multivariate_normal

    lml = multivariate_normal(np.zeros(12), K).logpdf(y)
    np.testing.assert_allclose(
        gpdp.gp_log_marginal(jnp.asarray(x), jnp.asarray(y), ell, sn), lml, rtol=1e-9
    )  # the 1e-10 diagonal jitter shifts the log det by ~1e-9


@pytest.fixture(scope="module")
def gp_post():
    with jax.enable_x64(True):
        return gpdp.fit_gp(
            jax.random.key(3),
            gpdp.load_training_data(),
            mode="corrected",
            num_warmup=400,
            num_samples=500,
            num_chains=4,
        )


def test_nuts_hyperparameters_converge(gp_post):
    import arviz as az

    idata = gp_post.to_inference_data()
    rhat, ess = az.rhat(idata), az.ess(idata)
    for v in ("ell", "sigma_n"):
        assert float(rhat[v]) < 1.01, (v, float(rhat[v]))
        assert float(ess[v]) > 200, (v, float(ess[v]))
    assert not bool(gp_post.failed)


def test_gp_tensor_rows_and_mean(gp_post, x64):
    grid = jnp.linspace(0.0, 15.0, 20)
    gp_post = gp_post._replace(ell=gp_post.ell[:, :50], sigma_n=gp_post.sigma_n[:, :50])
    F = gpdp.gp_transition_tensor(gp_post, grid, mode="corrected")
    np.testing.assert_allclose(F.sum(-1), 1.0, atol=1e-12)
    # no harvest, state near the data: expected next state near the observed recruitment (~7.5)
    m = F[0, 10] @ grid
    assert 6.5 < float(m) < 8.5
    Fp = gpdp.gp_transition_tensor(gp_post, grid, mode="paper")
    np.testing.assert_allclose(Fp.sum(-1), 1.0, atol=1e-12)
    assert float(Fp[5, 3, 0]) == 1.0  # escapement shift reaches the first cell: absorbing


def test_parametric_tensor_true_model(x64):
    grid = jnp.linspace(0.0, 15.0, 30)
    F = gpdp.parametric_transition_tensor("allen", gpdp.TRUTH, grid, mode="corrected")
    np.testing.assert_allclose(F.sum(-1), 1.0, atol=1e-12)
    # below the Allee threshold C=5 the unharvested stock declines; above it grows towards K
    assert float(F[0, 8] @ grid) < float(grid[8])
    assert float(F[0, 15] @ grid) > float(grid[15])


def test_parametric_tensor_mixes_scalars_and_draws(x64):
    # scalars are shared by every draw: the same tensor as the draws broadcast by hand
    grid = jnp.linspace(0.0, 15.0, 16)
    r = jnp.array([1.8, 2.2])
    mixed = {**gpdp.TRUTH, "r": r}
    full = {k: jnp.broadcast_to(jnp.asarray(v, float), (2,)) for k, v in mixed.items()}
    np.testing.assert_array_equal(
        gpdp.parametric_transition_tensor("allen", mixed, grid),
        gpdp.parametric_transition_tensor("allen", full, grid),
    )
    with pytest.raises(ValueError, match="one length D"):
        gpdp.parametric_transition_tensor("allen", {**full, "K": jnp.ones(3)}, grid)


def test_simulate_tables_and_shared_noise(x64):
    grid = jnp.linspace(0.0, 15.0, 31)
    esc = jnp.minimum(grid, 6.0)
    a = gpdp.simulate(
        jax.random.key(0),
        "allen",
        gpdp.TRUTH,
        10.0,
        esc,
        20,
        5,
        x_grid=grid,
        policy_kind="escapement",
    )
    b = gpdp.simulate(
        jax.random.key(0),
        "allen",
        gpdp.TRUTH,
        10.0,
        lambda x: jnp.maximum(x - jnp.minimum(grid[jnp.argmin(jnp.abs(grid - x))], 6.0), 0.0),
        20,
        5,
    )
    np.testing.assert_allclose(a.stock, b.stock, rtol=1e-12)
    # an unharvested stock started above C persists; a zero-escapement policy crashes at once
    none = gpdp.simulate(jax.random.key(0), "allen", gpdp.TRUTH, 10.0, lambda x: 0.0 * x, 30, 5)
    assert int(gpdp.crashes(none)) == 0
    all_ = gpdp.simulate(jax.random.key(0), "allen", gpdp.TRUTH, 10.0, lambda x: x, 30, 5)
    assert int(gpdp.crashes(all_)) == 5
    np.testing.assert_allclose(gpdp.npv(all_), 10.0)


def test_bad_inputs():
    F, R = _random_mdp(0)
    with pytest.raises(ValueError, match="discount"):
        gpdp.solve_sdp(F, R, 0.0)
    with pytest.raises(ValueError, match="discount"):
        gpdp.solve_sdp(F, R, 1.5)
    with pytest.raises(ValueError, match="discount"):
        gpdp.solve_sdp(F, R, 1.0)  # undiscounted needs a horizon
    with pytest.raises(ValueError, match="reward"):
        gpdp.solve_sdp(F, R[:, :2], 0.9)
    with pytest.raises(ValueError, match="rows summing"):
        gpdp.solve_sdp(F * 2, R, 0.9)
    with pytest.raises(ValueError, match="horizon"):
        gpdp.solve_sdp(F, R, 0.9, horizon=0)
    data = gpdp.load_training_data()
    bad = data.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="data"):
        gpdp.fit_gp(jax.random.key(0), bad)
    bad = data.copy()
    bad[3, 1] = -1.0
    with pytest.raises(ValueError, match="data"):
        gpdp.fit_gp(jax.random.key(0), bad)
    bad = data.copy()
    bad[3, 1] = 0.0
    with pytest.raises(ValueError, match="positive"):
        gpdp.fit_gp(jax.random.key(0), bad)
    with pytest.raises(ValueError, match="cover"):
        gpdp.reproduce_paper(jax.random.key(0), x_grid=jnp.linspace(0, 5, 20))
    grid = jnp.linspace(0, 15, 10)
    with pytest.raises(ValueError, match="h_grid"):
        gpdp.parametric_transition_tensor("allen", gpdp.TRUTH, grid, grid[:5], mode="paper")
    with pytest.raises(ValueError, match="mode"):
        gpdp.parametric_transition_tensor("allen", gpdp.TRUTH, grid, mode="fixed")
    with pytest.raises(ValueError, match="params"):
        gpdp.simulate(jax.random.key(0), "allen", {"r": 2.0}, 1.0, lambda x: x, 3, 2)
    with pytest.raises(ValueError, match="x0"):
        gpdp.simulate(jax.random.key(0), "allen", gpdp.TRUTH, -1.0, lambda x: x, 3, 2)


def test_npv_and_crashes_keep_leading_policy_axes():
    # simulate_tables returns (P, num_reps, num_years): one NPV per run, one crash count per policy
    stock = jnp.ones((4, 2, 3)).at[1, 0, 2].set(0.0)
    traj = gpdp.Trajectories(stock=stock, harvest=jnp.ones((4, 2, 3)))
    np.testing.assert_allclose(gpdp.npv(traj, 0.5), np.full((4, 2), 1.75))
    assert gpdp.crashes(traj).tolist() == [0, 1, 0, 0]
