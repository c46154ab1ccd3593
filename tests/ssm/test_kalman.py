"""Kalman filter and RTS smoother against a dense joint-Gaussian computation (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from probkit import ssm

F = np.array([[0.9, 0.2, 0.0], [-0.1, 0.8, 0.1], [0.0, 0.3, 0.5]])
Q = np.array([[0.5, 0.1, 0.0], [0.1, 0.4, 0.05], [0.0, 0.05, 0.3]])
H = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, -0.3]])
R = np.array([[0.3, 0.05], [0.05, 0.2]])
M0 = np.array([0.5, -0.2, 0.1])
P0 = np.eye(3) * 0.8
T = 6


def dense_joint(T):
    """Mean and covariance of (x_0..x_{T-1}, y_0..y_{T-1}) stacked."""
    dx = 3
    A = np.zeros((T * dx, T * dx))  # x = A @ noise, noise = (x0 - m0, w_1, ..., w_{T-1})
    for t in range(T):
        for s in range(t + 1):
            A[t * dx : (t + 1) * dx, s * dx : (s + 1) * dx] = np.linalg.matrix_power(F, t - s)
    noise_cov = np.zeros((T * dx, T * dx))
    noise_cov[:dx, :dx] = P0
    for t in range(1, T):
        noise_cov[t * dx : (t + 1) * dx, t * dx : (t + 1) * dx] = Q
    mx = np.concatenate([np.linalg.matrix_power(F, t) @ M0 for t in range(T)])
    Sx = A @ noise_cov @ A.T
    Hb = np.kron(np.eye(T), H)
    my = Hb @ mx
    Sy = Hb @ Sx @ Hb.T + np.kron(np.eye(T), R)
    Sxy = Sx @ Hb.T
    return mx, Sx, my, Sy, Sxy


def dense_posterior(ys, upto=None):
    """Exact E[x | y_obs], Cov and log p(y_obs) using only non-NaN entries of ys[:upto]."""
    T_ = ys.shape[0]
    mx, Sx, my, Sy, Sxy = dense_joint(T_)
    y = ys.reshape(-1)
    obs = ~np.isnan(y)
    if upto is not None:
        obs &= np.repeat(np.arange(T_) < upto, 2)
    K = Sxy[:, obs] @ np.linalg.inv(Sy[np.ix_(obs, obs)])
    mean = mx + K @ (y[obs] - my[obs])
    cov = Sx - K @ Sxy[:, obs].T
    ll = multivariate_normal(my[obs], Sy[np.ix_(obs, obs)]).logpdf(y[obs]) if obs.any() else 0.0
    return mean.reshape(T_, 3), cov, ll


@pytest.fixture(scope="module")
def data():
    with jax.enable_x64(True):
        model, params = ssm.linear_gaussian(F, Q, H, R, M0, P0)
        _, ys = ssm.simulate(jax.random.key(0), model, params, T)
        return params, np.asarray(ys)


def check_against_dense(params, ys):
    kf = ssm.kalman_filter(params, ys)
    sm = ssm.rts_smoother(params, ys)
    mean, cov, ll = dense_posterior(ys)
    np.testing.assert_allclose(kf.log_likelihood, ll, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(sm.means, mean, atol=1e-8)
    for t in range(T):
        np.testing.assert_allclose(sm.covs[t], cov[3 * t : 3 * t + 3, 3 * t : 3 * t + 3], atol=1e-8)
    for t in range(T - 1):
        cross = cov[3 * t : 3 * t + 3, 3 * (t + 1) : 3 * (t + 2)]
        np.testing.assert_allclose(sm.cross_covs[t], cross, atol=1e-8)
    for t in range(T):  # filtering marginals condition on y_0..y_t only
        fmean, fcov, _ = dense_posterior(ys, upto=t + 1)
        np.testing.assert_allclose(kf.means[t], fmean[t], atol=1e-8)
        np.testing.assert_allclose(
            kf.covs[t], fcov[3 * t : 3 * t + 3, 3 * t : 3 * t + 3], atol=1e-8
        )


def test_kalman_and_rts_match_dense_joint_gaussian(x64, data):
    check_against_dense(*data)


def test_missing_observations_match_dense_conditioning(x64, data):
    params, ys = data
    ys = ys.copy()
    ys[2, :] = np.nan  # a whole step missing
    ys[4, 1] = np.nan  # one coordinate missing
    check_against_dense(params, ys)


def test_increments_sum_to_log_likelihood(x64, data):
    params, ys = data
    kf = ssm.kalman_filter(params, ys)
    np.testing.assert_allclose(kf.log_likelihood_increments.sum(), kf.log_likelihood, rtol=1e-12)


def test_float32_long_series_log_likelihood_is_accurate():
    model, params = ssm.linear_gaussian(0.9, 0.5, 1.0, 0.4, 0.0, 1.0)
    _, ys = ssm.simulate(jax.random.key(1), model, params, 10_000)
    ll32 = ssm.kalman_filter(params, ys).log_likelihood
    with jax.enable_x64(True):
        p64 = ssm.LinearGaussianParams(*(jnp.asarray(a, jnp.float64) for a in params))
        ll64 = ssm.kalman_filter(p64, jnp.asarray(ys, jnp.float64)).log_likelihood
    assert ll32.dtype == jnp.float32
    assert abs(float(ll32) - float(ll64)) / abs(float(ll64)) < 1e-5


def test_score_by_autodiff_matches_finite_differences(x64, data):
    params, ys = data

    def ll(rho):
        return ssm.kalman_filter(params._replace(F=params.F * rho), ys).log_likelihood

    g = jax.grad(ll)(1.0)
    fd = (ll(1.0 + 1e-6) - ll(1.0 - 1e-6)) / 2e-6
    np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_bad_inputs_name_the_argument(data):
    params, ys = data
    with pytest.raises(ValueError, match=r"ys must have shape \(T, 2\)"):
        ssm.kalman_filter(params, ys[:, :1])
    with pytest.raises(ValueError, match="linear_gaussian.Q must be positive definite"):
        ssm.linear_gaussian(F, -Q, H, R, M0, P0)
    with pytest.raises(ValueError, match=r"linear_gaussian.H must have shape \(obs_dim, 3\)"):
        ssm.linear_gaussian(F, Q, H[:, :2], R, M0, P0)
    with pytest.raises(ValueError, match="linear_gaussian.F must be finite"):
        ssm.linear_gaussian(F * np.nan, Q, H, R, M0, P0)
    with pytest.raises(ValueError, match="ys contains infinite values"):
        ssm.kalman_filter(params, np.full((3, 2), np.inf))
