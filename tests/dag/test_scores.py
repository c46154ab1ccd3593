"""Scores, acyclicity function and the solver's gradient against autodiff and exact minimisers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

from probkit.dag import acyclicity, path, scores


@pytest.fixture
def problem(x64):
    d = 5
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, d)) @ rng.standard_normal((d, d))
    X = X - X.mean(0)
    cov = jnp.asarray(X.T @ X / 200)
    W = jnp.asarray(0.15 * rng.standard_normal((d, d)) * (1 - np.eye(d)))  # dense, no zeros
    return cov, W


@pytest.mark.parametrize("variant", ["l2", "ev", "nv"])
def test_score_gradient_matches_autodiff(problem, variant):
    cov, W = problem
    sigma = None if variant == "l2" else (0.8 if variant == "ev" else jnp.linspace(0.5, 1.5, 5))
    auto = jax.grad(lambda w: scores.score(variant, w, cov, sigma))(W)
    assert jnp.allclose(scores.score_grad(variant, W, cov, sigma), auto, atol=1e-12)


def test_acyclicity_value_gradient_and_zero_on_dags(x64):
    rng = np.random.default_rng(1)
    W = jnp.asarray(0.3 * rng.standard_normal((6, 6)))
    for s in (1.0, 0.8):
        auto = jax.grad(acyclicity.log_det_acyclicity)(W, s)
        assert jnp.allclose(acyclicity.log_det_acyclicity_grad(W, s), auto, atol=1e-12)
    dag_w = jnp.triu(W, 1)  # strictly upper triangular: a DAG, h = 0
    assert abs(float(acyclicity.log_det_acyclicity(dag_w))) < 1e-12
    assert float(acyclicity.log_det_acyclicity(W)) > 1e-3
    too_big = 2.0 * jnp.ones((3, 3))  # rho(W∘W) = 12 > s: outside the domain
    assert float(acyclicity.log_det_acyclicity(too_big)) == np.inf


@pytest.mark.parametrize("variant", ["l2", "ev", "nv"])
def test_solver_gradient_matches_autodiff_of_objective(problem, variant):
    cov, W = problem
    d = W.shape[0]
    free = jnp.ones((d, d), bool).at[jnp.diag_indices(d)].set(False)
    sigma = {"l2": jnp.ones(d), "ev": jnp.full(d, 0.9), "nv": jnp.linspace(0.6, 1.4, d)}[variant]
    penalized = free.astype(float).at[0, 1].set(0.0)  # one required (unpenalised) edge
    prob = path.Problem(
        scores.variant_code(variant), cov, jnp.asarray(0.07), free, penalized, sigma, sigma
    )
    mu, s = jnp.asarray(0.3), jnp.asarray(0.9)
    G, _ = scores.residual_moments(W, cov)
    M = jnp.linalg.inv(s * jnp.eye(d) - W * W)

    def f(w):
        sig = jnp.ones(d) if variant == "l2" else sigma
        return path.objective(w, sig, prob, mu, s)

    auto = jax.grad(f)(W) * free
    assert jnp.allclose(
        path.objective_grad(W, sigma if variant != "l2" else jnp.ones(d), G, M, prob, mu),
        auto,
        atol=1e-10,
    )


def test_ev_sigma_update_is_the_constrained_minimiser(problem):
    cov, W = problem
    _, r = scores.residual_moments(W, cov)
    for floor in (0.0, 1.5 * float(jnp.sqrt(jnp.mean(r)))):  # bound inactive, then active
        closed = float(scores.noise_update("ev", r, jnp.asarray(floor))[0])
        num = optimize.minimize_scalar(
            lambda sg: float(scores.score("ev", W, cov, sg)),
            bounds=(max(floor, 1e-6), 50.0),
            method="bounded",
            options={"xatol": 1e-10},
        )
        assert abs(closed - num.x) < 1e-6  # bounded Brent with xatol 1e-10 on a convex 1-D
        assert closed >= floor


def test_nv_sigma_update_is_the_constrained_minimiser(problem):
    cov, W = problem
    d = W.shape[0]
    _, r = scores.residual_moments(W, cov)
    floor = jnp.full(d, 0.0).at[2].set(2.0 * float(jnp.sqrt(r[2])))  # active for node 2 only
    closed = scores.noise_update("nv", r, floor)
    num = optimize.minimize(
        lambda sg: float(scores.score("nv", W, cov, jnp.asarray(sg))),
        x0=np.full(d, 3.0),
        jac=lambda sg: np.asarray(
            jax.grad(lambda v: scores.score("nv", W, cov, v))(jnp.asarray(sg))
        ),
        bounds=[(max(float(f), 1e-6), 50.0) for f in floor],
        method="L-BFGS-B",
        options={"ftol": 1e-15, "gtol": 1e-12},
    )
    assert np.allclose(closed, num.x, atol=1e-5)  # L-BFGS-B to gtol 1e-12 on a separable convex
    assert float(closed[2]) == pytest.approx(float(floor[2]))


def test_public_noise_scale_shapes(problem):
    cov, W = problem
    assert scores.noise_scale("ev", W, cov).shape == ()
    assert scores.noise_scale("nv", W, cov).shape == (5,)
    with pytest.raises(ValueError, match="variant"):
        scores.score("l1", W, cov)
