"""gpdp paper mode: the published kernel constructions against loop-by-loop replicas of the
authors' R code (1-based indexing kept), batched solvers and simulators against the single ones."""

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import lognorm
from scipy.stats import norm as sp_norm

from probkit import gpdp
from probkit.gpdp.gp import GPPosterior


def _snap(v, grid):
    return grid[np.argmin(np.abs(grid - v))]


def normalize_rows(M):
    out = M.copy()
    for i, row in enumerate(M):
        if row.sum() > 0:
            out[i] = row / row.sum()
        else:
            out[i] = 0.0
            out[i, 0] = 1.0
    return out


def _r_gp_calc_F(h, Ef, V, x_grid):
    """Replica of `gp_calc_F` (R/gp_trasition_matrix.R), indices 1-based as in R."""
    j = int(np.argmin(np.abs(x_grid - h))) + 1
    n = len(Ef)
    shift = np.maximum(np.arange(1, n + 1) - j, 1)
    mu = Ef[shift - 1].copy()
    mu[shift == 1] = 0.0
    F = np.zeros((n, n))
    for i in range(n):
        if _snap(mu[i], x_grid) < x_grid[1]:
            F[i, 0] = 1.0
        else:
            F[i] = sp_norm.pdf(x_grid, mu[i], np.sqrt(V[i]))
    return normalize_rows(F)


def _r_parameter_uncertainty(f, draws, x_grid):
    """Replica of pdgControl `parameter_uncertainty_SDP` with every draw used at every h."""
    out = []
    for h in x_grid:
        F = np.zeros((len(x_grid), len(x_grid)))
        for k, x in enumerate(x_grid):
            tot = np.zeros(len(x_grid))
            for p in draws:
                mu = f(x, h, p)
                if _snap(mu, x_grid) < x_grid[1]:
                    tot[0] += 1.0
                else:
                    with np.errstate(divide="ignore"):
                        tot += lognorm.pdf(x_grid / mu, p["sigma"])
            F[k] = tot / tot.sum()
        out.append(F)
    return np.stack(out)


def _allen_r(x, h, p):
    s = max(0.0, x - h)
    return s * np.exp(p["r"] * (1 - s / p["K"]) * (s - p["C"]) / p["K"])


def test_paper_gp_kernel_matches_r_replica(x64):
    data = gpdp.load_training_data()
    x, y = jnp.asarray(data[:, 0]), jnp.asarray(data[:, 1])
    ell, sn = jnp.array([[4.0, 5.5]]), jnp.array([[0.25, 0.3]])
    post = GPPosterior(ell, sn, x, y, jnp.zeros((1, 2), bool), jnp.asarray(False))
    grid = np.linspace(0.0, 15.0, 16)
    F = np.asarray(gpdp.gp_transition_tensor(post, jnp.asarray(grid), mode="paper"))
    for h_idx in (0, 1, 4):
        acc = 0.0
        for e, s in zip(np.ravel(ell), np.ravel(sn)):
            m, v = gpdp.gp_predict(x, y, jnp.asarray(grid), e, s)
            acc = acc + _r_gp_calc_F(grid[h_idx], np.asarray(m), np.asarray(v), grid)
        np.testing.assert_allclose(F[h_idx], normalize_rows(acc), atol=1e-12)


def test_paper_parametric_mixture_matches_r_replica(x64):
    grid = np.linspace(0.0, 15.0, 12)
    draws = {"r": [2.0, 1.5, 2.5], "K": [8.0, 9.0, 7.5], "C": [5.0, 4.0, 5.5]}
    draws["sigma"] = [0.05, 0.2, 0.1]
    F = np.asarray(
        gpdp.parametric_transition_tensor("allen", draws, jnp.asarray(grid), mode="paper")
    )
    listed = [dict(zip(draws, v)) for v in zip(*draws.values())]
    np.testing.assert_allclose(F, _r_parameter_uncertainty(_allen_r, listed, grid), atol=1e-12)


def test_batched_solver_and_simulator_match_single(x64):
    grid = jnp.linspace(0.0, 15.0, 15)
    Fs = jnp.stack(
        [
            gpdp.parametric_transition_tensor("allen", gpdp.TRUTH, grid, mode="corrected"),
            gpdp.parametric_transition_tensor("ricker", {"r": 1.0, "K": 8.0, "sigma": 0.1}, grid),
        ]
    )
    R = jnp.minimum(grid[None, :], grid[:, None])
    for horizon, disc in ((20, 1.0), (None, 0.9)):
        batch = gpdp.solve_sdp_batch(Fs, R, disc, horizon=horizon)
        for b in range(2):
            one = gpdp.solve_sdp(Fs[b], R, disc, horizon=horizon)
            np.testing.assert_array_equal(batch.policy[b], one.policy)
            np.testing.assert_allclose(batch.value[b], one.value, rtol=1e-12)
    tables = grid[batch.policy]
    tr = gpdp.simulate_tables(jax.random.key(1), "allen", gpdp.TRUTH, 10.0, tables, grid, 12, 4)
    for b in range(2):
        one = gpdp.simulate(
            jax.random.key(1), "allen", gpdp.TRUTH, 10.0, tables[b], 12, 4, x_grid=grid
        )
        np.testing.assert_allclose(tr.stock[b], one.stock, rtol=1e-12)
        np.testing.assert_allclose(tr.harvest[b], one.harvest, rtol=1e-12)


def test_bad_inputs_paper_pipeline():
    import pytest

    data = gpdp.load_training_data()
    x, y = jnp.asarray(data[:, 0]), jnp.asarray(data[:, 1])
    post = GPPosterior(jnp.ones((1, 1)), jnp.ones((1, 1)), x, y, jnp.zeros((1, 1), bool), False)
    grid = jnp.linspace(0.0, 15.0, 20)
    with pytest.raises(ValueError, match="cover"):
        gpdp.gp_transition_tensor(post, jnp.linspace(0.0, 5.0, 20))
    with pytest.raises(ValueError, match="h_grid"):
        gpdp.gp_transition_tensor(post, grid, jnp.linspace(0.0, 5.0, 20), mode="paper")
    with pytest.raises(ValueError, match="x_grid"):
        gpdp.gp_transition_tensor(post, grid[::-1])
    with pytest.raises(ValueError, match="draws"):
        gpdp.parametric_transition_tensor("allen", {"r": 2.0, "K": 8.0}, grid)
    for disc in (0.0, -0.5, 1.5, float("nan")):
        with pytest.raises(ValueError, match="discount"):
            gpdp.reproduce_paper(jax.random.key(0), discount=disc)
        with pytest.raises(ValueError, match="discount"):
            gpdp.npv(gpdp.Trajectories(jnp.ones((2, 3)), jnp.ones((2, 3))), disc)
    with pytest.raises(ValueError, match="discount"):
        gpdp.reproduce_paper(jax.random.key(0), "corrected", discount=1.0)
    for bad_value in (np.nan, -1.0, np.inf):
        bad = data.copy()
        bad[7, 1] = bad_value
        with pytest.raises(ValueError, match="data"):
            gpdp.reproduce_paper(jax.random.key(0), data=bad)
    with pytest.raises(ValueError, match="tables"):
        gpdp.simulate_tables(jax.random.key(0), "allen", gpdp.TRUTH, 10.0, grid, grid, 5, 2)
    with pytest.raises(ValueError, match="Fs"):
        gpdp.solve_sdp_batch(jnp.ones((3, 3, 3)) / 3, jnp.zeros((3, 3)), 0.9)


def test_r_random_numbers():
    # R 4.x: set.seed(1); rnorm(3) and set.seed(12345); rnorm(4)
    np.testing.assert_allclose(gpdp.r_rnorm(1, 3), [-0.6264538107, 0.1836433242, -0.8356286124])
    np.testing.assert_allclose(
        gpdp.r_rnorm(12345, 4), [0.5855288, 0.7094660, -0.1093033, -0.4534972], atol=5e-8
    )
    start = np.array([2.0, 8.0, 5.0, 0.05]) * gpdp.r_rlnorm(12345, 4, 0.1)
    np.testing.assert_allclose(start, gpdp.PAPER_MLE_START, rtol=1e-9)


def test_archived_policies_replay_figures_4_and_5(x64):
    """The archived policies simulated with R's set.seed(1) noise give the archived runs."""
    grid = jnp.linspace(0.0, 15.0, 50)
    pol = gpdp.load_archived_policies()
    names = ("True", "GP", "MLE", "Allen", "Ricker", "Myers")
    z = gpdp.r_rlnorm(1, 100 * 49, 0.05).reshape(100, 49).T
    z = jnp.asarray(np.concatenate([z, np.ones((1, 100))]))
    tables = jnp.asarray(np.stack([pol[n] for n in names]))
    tr = gpdp.simulate_tables(
        jax.random.key(0), "allen", gpdp.TRUTH, 10.0, tables, grid, 50, 100, noise=z
    )
    # figure4.csv: GP rep 1 at t = 2, 3; True rep 1 at t = 2
    np.testing.assert_allclose(tr.stock[1, 0, 1:3], [6.89257532636124, 6.7897172682671], rtol=1e-12)
    npv = np.asarray(tr.harvest[..., :49].sum(-1))
    ratio = npv / npv[0]
    for i, n in enumerate(names):
        ref = gpdp.ARCHIVED_RESULTS[n.lower()]
        np.testing.assert_allclose(ratio[i].mean(), ref["npv_ratio"], atol=5e-5)
        assert int(gpdp.crashes(tr._replace(stock=tr.stock[i]), 0.05)) == ref["crashes"]


def test_true_model_paper_policy_equals_archive(x64):
    grid = jnp.linspace(0.0, 15.0, 50)
    F = gpdp.parametric_transition_tensor("allen", gpdp.TRUTH, grid, mode="paper")
    R = jnp.minimum(grid[None, :], grid[:, None])
    sol = gpdp.solve_sdp(F, 0.99 * R, 1.0, horizon=999)  # R stops at time == MaxT: 999 sweeps
    arch = gpdp.load_archived_policies()["True"]
    np.testing.assert_allclose(grid[sol.policy], arch, atol=1e-9)
    assert gpdp.policy_agreement(grid[sol.policy], arch, grid) == 1.0


def test_paper_training_data_is_the_archived_set():
    """R's set.seed(1234) and the authors' loop regenerate training_data.csv."""
    np.testing.assert_allclose(
        gpdp.paper_training_data(1234), gpdp.load_training_data(), rtol=1e-12, atol=1e-12
    )
