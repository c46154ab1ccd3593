"""Exact inference for the linear-Gaussian model: Kalman filter and RTS smoother.

NaN entries of `ys` are missing: the filter conditions only on the observed coordinates (the
rows of H and R for missing coordinates are masked out), so a fully missing step is a pure
prediction. Cost O(T (dx^3 + dy^3)). Log-likelihood sums are compensated so they stay accurate
in float32 over long series.
"""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl

from probkit.core import accumulate, validate
from probkit.core.precision import exact_products
from probkit.core.types import Array, ArrayLike
from probkit.ssm.linear_gaussian import LinearGaussianParams, check_params

__all__ = ["KalmanResult", "RTSResult", "kalman_filter", "rts_smoother"]


class KalmanResult(NamedTuple):
    """Result of `ssm.kalman_filter`.

    Attributes:
        means: (T, dx) E[x_t | y_0:t].
        covs: (T, dx, dx) Cov[x_t | y_0:t].
        predicted_means: (T, dx) E[x_t | y_0:t-1].
        predicted_covs: (T, dx, dx) Cov[x_t | y_0:t-1].
        log_likelihood: () log p(y_0:T-1).
        log_likelihood_increments: (T,) log p(y_t | y_0:t-1).
    """

    means: Array  # (T, dx) E[x_t | y_0:t]
    covs: Array  # (T, dx, dx) Cov[x_t | y_0:t]
    predicted_means: Array  # (T, dx) E[x_t | y_0:t-1]
    predicted_covs: Array  # (T, dx, dx)
    log_likelihood: Array  # () log p(y_0:T-1)
    log_likelihood_increments: Array  # (T,) log p(y_t | y_0:t-1)


class RTSResult(NamedTuple):
    """Result of `ssm.rts_smoother`.

    Attributes:
        means: (T, dx) E[x_t | y_0:T-1].
        covs: (T, dx, dx) Cov[x_t | y_0:T-1].
        cross_covs: (T-1, dx, dx) cross_covs[t] = Cov(x_t, x_{t+1} | y_0:T-1).
        filtered: the forward pass (`KalmanResult`).
    """

    means: Array  # (T, dx) E[x_t | y_0:T-1]
    covs: Array  # (T, dx, dx)
    cross_covs: Array  # (T-1, dx, dx) cross_covs[t] = Cov(x_t, x_{t+1} | y_0:T-1)
    filtered: KalmanResult


def _sym(a):
    return 0.5 * (a + jnp.swapaxes(a, -1, -2))


def _update(p: LinearGaussianParams, m_pred, P_pred, y):
    mask = ~jnp.isnan(y)
    mf = mask.astype(P_pred.dtype)
    H = p.H * mf[:, None]
    R = p.R * jnp.outer(mf, mf) + jnp.diag(1.0 - mf)
    v = jnp.where(mask, y, 0.0) - H @ m_pred
    S = _sym(H @ P_pred @ H.T + R)
    chol = jnp.linalg.cholesky(S)
    # K = P H^T S^{-1}, via two triangular solves.
    PHt = P_pred @ H.T
    K = jsl.cho_solve((chol, True), PHt.T).T
    m = m_pred + K @ v
    A = jnp.eye(m.shape[0], dtype=P_pred.dtype) - K @ H
    P = _sym(A @ P_pred @ A.T + K @ R @ K.T)
    z = jsl.solve_triangular(chol, v, lower=True)
    n_obs = jnp.sum(mf)
    ll = (
        -0.5 * jnp.sum(z**2)
        - jnp.sum(jnp.log(jnp.diag(chol)))
        - 0.5 * math.log(2 * math.pi) * n_obs
    )
    return m, P, ll


@jax.jit
@exact_products
def _kalman(p: LinearGaussianParams, ys):
    def step(carry, inp):
        m_prev, P_prev, acc = carry
        y, first = inp
        m_pred = jnp.where(first, p.m0, p.F @ m_prev)
        P_pred = jnp.where(first, p.P0, _sym(p.F @ P_prev @ p.F.T + p.Q))
        m, P, ll = _update(p, m_pred, P_pred, y)
        return (m, P, accumulate.add(acc, ll)), (m, P, m_pred, P_pred, ll)

    T = ys.shape[0]
    first = jnp.arange(T) == 0
    zero = jnp.zeros((), p.m0.dtype)
    init = (p.m0, p.P0, accumulate.init(zero))
    (_, _, acc), (ms, Ps, mps, Pps, lls) = jax.lax.scan(step, init, (ys, first))
    return KalmanResult(ms, Ps, mps, Pps, accumulate.value(acc), lls)


@jax.jit
@exact_products
def _rts(p: LinearGaussianParams, filt: KalmanResult):
    def step(carry, inp):
        m_next_s, P_next_s = carry
        m, P, m_pred_next, P_pred_next = inp
        # J = P F^T P_pred^{-1}
        chol = jnp.linalg.cholesky(P_pred_next)
        J = jsl.cho_solve((chol, True), (P @ p.F.T).T).T
        m_s = m + J @ (m_next_s - m_pred_next)
        P_s = _sym(P + J @ (P_next_s - P_pred_next) @ J.T)
        cross = J @ P_next_s
        return (m_s, P_s), (m_s, P_s, cross)

    last = (filt.means[-1], filt.covs[-1])
    xs = (filt.means[:-1], filt.covs[:-1], filt.predicted_means[1:], filt.predicted_covs[1:])
    _, (ms, Ps, cross) = jax.lax.scan(step, last, xs, reverse=True)
    means = jnp.concatenate([ms, filt.means[-1:]], axis=0)
    covs = jnp.concatenate([Ps, filt.covs[-1:]], axis=0)
    return RTSResult(means, covs, cross, filt)


def _check(params, ys):
    if isinstance(params, LinearGaussianParams) and all(validate.is_concrete(a) for a in params):
        params = check_params(params)
    elif not isinstance(params, LinearGaussianParams):
        raise TypeError(f"params must be LinearGaussianParams, got {type(params).__name__}")
    ys = validate.observations("ys", ys)
    if ys.ndim == 1 and params.H.shape[0] == 1:
        ys = ys[:, None]
    if ys.ndim != 2 or ys.shape[1] != params.H.shape[0]:
        raise ValueError(
            f"ys must have shape (T, {params.H.shape[0]}) to match params.H, got {ys.shape}"
        )
    return params, ys.astype(params.F.dtype)


def kalman_filter(params: LinearGaussianParams, ys: ArrayLike) -> KalmanResult:
    """Exact filtering distributions and log-likelihood; `ys` is `(T, dy)` (NaN = missing).

    Examples:
        >>> model, params = ssm.linear_gaussian(F=0.9, Q=1.0, H=1.0, R=1.0, m0=0.0, P0=1.0)
        >>> res = ssm.kalman_filter(params, jnp.zeros((1, 1)))  # T = 1, y_0 = 0 ~ N(0, 2)
        >>> res.means.shape, res.covs.shape, round(float(res.log_likelihood), 4)
        ((1, 1), (1, 1, 1), -1.2655)
    """
    params, ys = _check(params, ys)
    return _kalman(params, ys)


def rts_smoother(params: LinearGaussianParams, ys: ArrayLike) -> RTSResult:
    """Exact smoothing marginals and lag-one cross-covariances (Rauch–Tung–Striebel).

    `ys` is `(T, dy)` (NaN = missing); the result holds `(T, dx)` means, `(T, dx, dx)`
    covariances and `(T-1, dx, dx)` cross-covariances.

    Examples:
        >>> model, params = ssm.linear_gaussian(F=0.9, Q=1.0, H=1.0, R=1.0, m0=0.0, P0=1.0)
        >>> res = ssm.rts_smoother(params, jnp.zeros((4, 1)))  # T = 4, dy = 1
        >>> res.means.shape, res.covs.shape, res.cross_covs.shape
        ((4, 1), (4, 1, 1), (3, 1, 1))
    """
    params, ys = _check(params, ys)
    filt = _kalman(params, ys)
    if ys.shape[0] == 1:
        return RTSResult(filt.means, filt.covs, filt.covs[:0], filt)
    return _rts(params, filt)
