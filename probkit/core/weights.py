"""Log-domain weight arithmetic: normalisation, ESS, log-mean-exp, likelihood increments.

Every particle method in probkit keeps weights as log-weights of shape `(N,)` and goes through
these helpers, so that degenerate sets (every weight -inf, or NaN) are handled one way: the
normalised weights fall back to uniform, and the caller sees `is_degenerate(...) == True` to put
in its info field. Nothing here returns NaN for a degenerate set.

Special values: a NaN log-weight carries no usable mass (treated as -inf). A +inf log-weight is
the limit of a weight growing without bound: the +inf entries take all the mass, shared equally,
and the log-sum-exp is +inf.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from probkit.core.types import Array, ArrayLike

__all__ = [
    "WeightSummary",
    "ess",
    "is_degenerate",
    "log_likelihood_increment",
    "log_mean_exp",
    "log_normalize",
    "logsumexp",
    "normalize",
    "sanitize",
    "summarize",
]


def sanitize(log_weights: ArrayLike, axis: int = -1) -> Array:
    """Log-weights with the same normalised weights and no NaN or +inf: `(..., N)` -> same shape.

    NaN becomes -inf (no usable mass). Where a set along `axis` has +inf entries, those become 0
    and every other entry -inf: the +inf entries share all the mass equally.

    Examples:
        >>> from probkit.core import weights
        >>> weights.sanitize(jnp.array([0.0, jnp.nan, jnp.inf, jnp.inf])).tolist()
        [-inf, -inf, 0.0, 0.0]
    """
    lw = jnp.asarray(log_weights)
    lw = jnp.where(jnp.isnan(lw), -jnp.inf, lw)
    pos_inf = lw == jnp.inf
    any_inf = jnp.any(pos_inf, axis=axis, keepdims=True)
    return jnp.where(any_inf, jnp.where(pos_inf, 0.0, -jnp.inf).astype(lw.dtype), lw)


def logsumexp(log_weights: ArrayLike, axis: int | None = -1) -> Array:
    """LSE over `axis`; `-inf` when every entry is `-inf` (never NaN for -inf inputs).

    `log_weights` of shape `(..., N)` (N along `axis`) gives shape `(...)`; `axis=None` gives `()`.

    Examples:
        >>> from probkit.core import weights
        >>> weights.logsumexp(jnp.zeros((2, 4))).shape
        (2,)
        >>> weights.logsumexp(jnp.full(3, -jnp.inf))
        Array(-inf, dtype=float32)
    """
    return jax.nn.logsumexp(jnp.asarray(log_weights), axis=axis)


def is_degenerate(log_weights: ArrayLike, axis: int = -1) -> Array:
    """True when no entry carries finite mass (all -inf or NaN): `(..., N)` -> bool `(...)`.

    Examples:
        >>> from probkit.core import weights
        >>> weights.is_degenerate(jnp.array([[-jnp.inf, jnp.nan], [-jnp.inf, 0.0]])).tolist()
        [True, False]
    """
    lw = jnp.asarray(log_weights)
    return ~jnp.any(jnp.isfinite(lw), axis=axis)


def _shifted(lw: Array, axis: int) -> tuple[Array, Array]:
    """`(lw - max, degenerate)`: shifting before the sums keeps log N from being absorbed by
    huge log-weights (1e30 + log 4 rounds to 1e30 in float32)."""
    m = jnp.max(lw, axis=axis, keepdims=True)
    degenerate = ~jnp.isfinite(m)
    return jnp.where(degenerate, jnp.zeros_like(lw), lw - m), degenerate


def log_normalize(log_weights: ArrayLike, axis: int = -1) -> Array:
    """Normalised log-weights `lw - LSE(lw)`; uniform when the set is degenerate.

    `(..., N)` -> `(..., N)`, normalised along `axis`.

    Examples:
        >>> from probkit.core import weights
        >>> jnp.exp(weights.log_normalize(jnp.log(jnp.array([1.0, 3.0])))).tolist()
        [0.25, 0.75]
    """
    lw = sanitize(log_weights, axis=axis)
    shifted, degenerate = _shifted(lw, axis)
    log_norm = shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))
    n = lw.shape[axis]
    return jnp.where(degenerate, jnp.full_like(lw, -jnp.log(n)), log_norm)


def normalize(log_weights: ArrayLike, axis: int = -1) -> Array:
    """Normalised linear weights summing to one; uniform when the set is degenerate.

    `(..., N)` log-weights -> `(..., N)` weights, summing to one along `axis`.

    Examples:
        >>> from probkit.core import weights
        >>> weights.normalize(jnp.log(jnp.array([1.0, 3.0]))).tolist()
        [0.25, 0.75]
        >>> weights.normalize(jnp.full(2, -jnp.inf)).tolist()  # degenerate: uniform
        [0.5, 0.5]
    """
    return jnp.exp(log_normalize(log_weights, axis=axis))


def ess(log_weights: ArrayLike, axis: int = -1) -> Array:
    """Effective sample size `exp(2 LSE(lw) - LSE(2 lw))`, in [1, N]; 0 for a degenerate set.

    `(..., N)` log-weights (N along `axis`) -> `(...)`.

    Examples:
        >>> from probkit.core import weights
        >>> float(weights.ess(jnp.zeros(8)))
        8.0
        >>> weights.ess(jnp.log(jnp.array([[1.0, 0.0], [1.0, 1.0]]))).tolist()  # per row
        [1.0, 2.0]
    """
    lw = sanitize(log_weights, axis=axis)
    shifted, degenerate = _shifted(lw, axis)
    e = jnp.exp(shifted)
    val = jnp.sum(e, axis=axis) ** 2 / jnp.sum(e * e, axis=axis)
    return jnp.where(jnp.squeeze(degenerate, axis), jnp.zeros_like(val), val)


def log_mean_exp(log_values: ArrayLike, axis: int | None = -1) -> Array:
    """`log(mean(exp(x)))` computed stably; `-inf` when all entries are `-inf`.

    `(..., N)` (N along `axis`) -> `(...)`; `axis=None` gives `()`.

    Examples:
        >>> from probkit.core import weights
        >>> round(float(weights.log_mean_exp(jnp.log(jnp.array([1.0, 3.0])))), 5)
        0.69315
        >>> weights.log_mean_exp(jnp.full(3, -jnp.inf))
        Array(-inf, dtype=float32)
    """
    x = jnp.asarray(log_values)
    n = x.size if axis is None else x.shape[axis]
    return jax.nn.logsumexp(x, axis=axis) - jnp.log(n).astype(x.dtype)


def log_likelihood_increment(log_weights_prev: ArrayLike, log_weights_new: ArrayLike) -> Array:
    """`LSE(lw_new) - LSE(lw_prev)`: the likelihood factor of one step; `(N,)`, `(N,)` -> `()`.

    `lw_new = lw_prev + incremental` is the weight after reweighting; when the previous step
    resampled, `lw_prev` is the constant `-log N` (or zero) vector and this is the usual
    log-mean of the incremental weights. Never reset the weights when no resampling happened.

    Examples:
        >>> from probkit.core import weights
        >>> lw_prev = jnp.full(2, -jnp.log(2.0))  # uniform after resampling
        >>> lw_new = lw_prev + jnp.log(jnp.array([1.0, 3.0]))  # incremental weights 1 and 3
        >>> round(float(weights.log_likelihood_increment(lw_prev, lw_new)), 5)  # log(2)
        0.69315
    """

    def lse(lw):  # NaN carries no mass; +inf stays +inf
        lw = jnp.asarray(lw)
        return logsumexp(jnp.where(jnp.isnan(lw), -jnp.inf, lw))

    return lse(log_weights_new) - lse(log_weights_prev)


class WeightSummary(NamedTuple):
    """Normalised log-weights with their log-sum-exp, ESS and degeneracy flag (`summarize`).

    Attributes:
        log_normalized: (N,) lw - LSE(lw); uniform when degenerate.
        logsumexp: () LSE(lw); -inf when degenerate.
        ess: () in [1, N]; 0 when degenerate.
        degenerate: () bool, no weight is finite.
    """

    log_normalized: Array  # (N,) lw - LSE(lw); uniform when degenerate
    logsumexp: Array  # () LSE(lw); -inf when degenerate
    ess: Array  # () in [1, N]; 0 when degenerate
    degenerate: Array  # () bool


def summarize(log_weights: ArrayLike) -> WeightSummary:
    """Normalised log-weights, LSE, ESS and the degeneracy flag in one pass over the weights.

    `log_weights` `(N,)` -> `WeightSummary` with fields of shapes `(N,)`, `()`, `()`, `()`.

    The same numbers as `log_normalize`, `logsumexp`, `ess` and `is_degenerate`, sharing the
    max and the exponentials (this matters at small N, where each reduction is a kernel launch).

    Examples:
        >>> from probkit.core import weights
        >>> s = weights.summarize(jnp.log(jnp.array([1.0, 1.0, 2.0])))
        >>> s.log_normalized.shape, round(float(s.ess), 3), bool(s.degenerate)
        ((3,), 2.667, False)
    """
    raw = jnp.asarray(log_weights)
    lw = sanitize(raw)
    n = lw.shape[-1]
    m = jnp.max(lw, axis=-1, keepdims=True)
    degenerate = ~jnp.isfinite(m[..., 0])
    shifted = jnp.where(degenerate[..., None], jnp.zeros_like(lw), lw - m)
    e = jnp.exp(shifted)
    s1 = jnp.sum(e, axis=-1)
    s2 = jnp.sum(e * e, axis=-1)
    lse_shifted = jnp.log(s1)
    lse = jnp.where(degenerate, -jnp.inf, m[..., 0] + lse_shifted)
    lse = jnp.where(jnp.any(raw == jnp.inf, axis=-1), jnp.inf, lse)
    log_norm = jnp.where(
        degenerate[..., None], jnp.full_like(lw, -jnp.log(n)), shifted - lse_shifted[..., None]
    )
    ess_val = jnp.where(degenerate, jnp.zeros_like(s1), s1 * s1 / s2)
    return WeightSummary(log_norm, lse, ess_val, degenerate)
