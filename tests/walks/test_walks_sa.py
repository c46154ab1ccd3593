"""SA-SRRW on a quadratic loss: token covariance against the Lyapunov-equation closed form."""

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

from probkit import walks

EDGES = [(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 2), (1, 3)]
C = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.5], [2.0, -1.0], [0.5, 2.0]])  # node optima
A = np.array([[1.0, 2.0, 1.0, 0.5, 1.5], [1.0, 0.5, 2.0, 1.0, 1.0]]).T  # node curvatures
T = 10_000


def grad(theta, data):
    a, c = data
    return a * (theta - c)  # f_i = ½ Σ_k a_ik (θ_k - c_ik)²


@pytest.fixture(scope="module")
def problem():
    g = walks.from_networkx(nx.Graph(EDGES))
    n = 5
    nu = np.full(n, 1 / n)
    theta_star = (nu[:, None] * A * C).sum(0) / (nu[:, None] * A).sum(0)
    mu = np.asarray(g.degree) / np.sum(np.asarray(g.degree))
    fields = -(nu / mu)[:, None] * A * (theta_star - C)  # H(θ*, i), reweighted by ν/μ
    jac = -np.diag((nu[:, None] * A).sum(0))
    data = (jnp.asarray(A, jnp.float32), jnp.asarray(C, jnp.float32))
    return g, theta_star, fields, jac, data


@pytest.fixture(scope="module")
def runs(problem):
    """500 tokens x 1e4 steps; one compiled program per regime (alpha is traced)."""
    g, theta_star, _, _, data = problem
    out = {}
    for a, b in ((0.55, 1.0), (0.8, 0.8)):
        for alpha in (1.0, 5.0):
            out[a, b, alpha] = walks.sa_srrw(
                jax.random.key(int(10 * alpha + 100 * a)), g, grad,
                jnp.asarray(theta_star, jnp.float32), data, T, alpha=alpha, gamma_exponent=a,
                beta_exponent=b, num_tokens=500,
            )  # fmt: skip
    return out


@pytest.mark.parametrize(
    "a, b, alpha",
    [(0.55, 1.0, 1.0), (0.55, 1.0, 5.0), (0.8, 0.8, 1.0), (0.8, 0.8, 5.0)],
    ids=["i-alpha1", "i-alpha5", "ii-alpha1", "ii-alpha5"],
)
def test_token_covariance_matches_lyapunov(problem, runs, a, b, alpha):
    g, theta_star, fields, jac, _ = problem
    res = runs[a, b, alpha]
    assert not bool(res.failed)
    err = (np.asarray(res.theta, float) - theta_star) / np.sqrt((T + 5.0) ** (-b))
    emp = np.diag(np.cov(err.T))
    exact = np.diag(
        walks.sa_asymptotic_covariance(
            g, alpha, fields, jac, gamma_exponent=a, beta_exponent=b, num_steps=T
        )
    )
    # 500 tokens: SE of a variance ~6.3%; 20% ~ 3.2 SE (1000 tokens: 1-8% off at T = 2e4)
    np.testing.assert_allclose(emp, exact, rtol=0.20)


def test_closed_form_rates_in_alpha(problem):
    """Regime (i) falls like 1/α², regime (ii) like 1/α, regime (iii) not at all."""
    g, _, fields, jac, _ = problem
    alphas = np.array([0.0, 1.0, 2.0, 5.0, 10.0, 1e3, 1e4])

    def tr(a, b):
        return np.array(
            [
                np.trace(walks.sa_asymptotic_covariance(g, al, fields, jac, gamma_exponent=a,
                                                        beta_exponent=b))
                for al in alphas
            ]
        )  # fmt: skip

    t1, t2, t3 = tr(0.6, 0.9), tr(0.8, 0.8), tr(0.9, 0.6)
    assert np.all(np.diff(t1) < 0) and np.all(np.diff(t2) < 0)
    np.testing.assert_allclose(t3, t3[0], rtol=1e-10)
    slope1 = np.log(t1[-1] / t1[-2]) / np.log(10.0)  # log-log slope for large α
    slope2 = np.log(t2[-1] / t2[-2]) / np.log(10.0)
    assert abs(slope1 + 2) < 0.05, slope1
    assert abs(slope2 + 1) < 0.05, slope2


def test_trace_to_inference_data(runs):
    res = runs[0.55, 1.0, 1.0]
    assert res.trace.shape == (100, 500, 2)  # record_every = T // 100
    np.testing.assert_array_equal(np.asarray(res.trace_steps)[[0, -1]], [100, T])
    np.testing.assert_array_equal(np.asarray(res.trace[-1]), np.asarray(res.theta))
    idata = res.to_inference_data()
    assert idata.posterior["theta"].shape == (500, 100, 2)
