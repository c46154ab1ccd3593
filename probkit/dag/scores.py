"""Scores of a linear SEM X = X W + E and their closed-form noise-scale updates.

With centred data X (n x d), cov = X^T X / n and the per-node mean squared residuals

    r_j(W) = [(I - W)^T cov (I - W)]_jj = ||X_j - X W_{:, j}||^2 / n,

the three scores are

- `"l2"` (DAGMA's least squares):  S(W) = 1/2 sum_j r_j,
- `"ev"` (CoLiDE, equal variances): S(W, sigma) = sum_j r_j / (2 sigma) + d sigma / 2,
- `"nv"` (CoLiDE, non-equal variances): S(W, sigma) = sum_j (r_j / sigma_j + sigma_j) / 2,

where sigma (sigma_j) are noise *standard deviations*. The CoLiDE scores are jointly convex in
(W, sigma) for sigma > 0 (Saboksayr, Mateos & Tepper, ICLR 2024). Minimising over
sigma >= sigma_min in closed form gives

    EV:  sigma = max(sqrt(mean_j r_j), sigma_min),     NV:  sigma_j = max(sqrt(r_j), sigma_min_j),

(the max is exact because each score is convex in sigma). The official CoLiDE code omits the
lower bound; without it sigma can reach 0 when a node is fitted exactly and the 1/sigma
factor in the gradient blows up.

Internally sigma is always a `(d,)` vector: all entries equal for EV, ones for l2 (where it is
unused). The public helpers accept a scalar for EV.
"""

import jax.numpy as jnp

from probkit.core import validate
from probkit.core.types import Array, ArrayLike

__all__ = [
    "SCORES",
    "VARIANT_CODES",
    "noise_scale",
    "noise_update",
    "residual_moments",
    "score",
    "score_from_moments",
    "score_grad",
    "variant_code",
]

SCORES = ("l2", "ev", "nv")
"""Score names: "l2" (DAGMA), "ev" and "nv" (CoLiDE)."""


def residual_moments(W: Array, cov: Array) -> tuple[Array, Array]:
    """`(G, r)`: G = cov (I - W), `(d, d)`; r = diag((I - W)^T cov (I - W)), `(d,)`.

    G is the (negated) gradient of 1/2 sum_j r_j and r the per-node mean squared residuals;
    computing them together costs one matrix product.
    """
    D = jnp.eye(W.shape[-1], dtype=W.dtype) - W
    G = cov @ D
    return G, jnp.sum(D * G, axis=-2)


VARIANT_CODES = {"l2": 0, "ev": 1, "nv": 2}
"""The integer code of each score inside compiled code."""


def variant_code(variant) -> Array:
    """The integer code of a variant name (0 l2, 1 ev, 2 nv); codes pass through.

    The solver takes the code as data, so one compiled program serves all three scores (and
    a batch may even mix them).
    """
    if isinstance(variant, str):
        validate.one_of("variant", variant, SCORES)
        return jnp.asarray(VARIANT_CODES[variant], jnp.int32)
    return jnp.asarray(variant, jnp.int32)


def noise_update(variant, r: Array, sigma_min: Array) -> Array:
    """Closed-form minimiser over sigma >= sigma_min of the score, as a `(d,)` vector.

    `variant` is a name or a code (see `variant_code`); for l2 the result is ones.
    """
    code = variant_code(variant)
    ev = jnp.maximum(jnp.sqrt(jnp.mean(r, axis=-1, keepdims=True)), sigma_min) * jnp.ones_like(r)
    nv = jnp.maximum(jnp.sqrt(r), sigma_min)
    return jnp.where(code == 1, ev, jnp.where(code == 2, nv, jnp.ones_like(r)))


def score_from_moments(variant, r: Array, sigma: Array) -> Array:
    """The score from the residual second moments r (..., d) and noise scales sigma (..., d)."""
    code = variant_code(variant)
    return jnp.where(
        code == 0, 0.5 * jnp.sum(r, axis=-1), 0.5 * jnp.sum(r / sigma + sigma, axis=-1)
    )


def score(variant: str, W: ArrayLike, cov: ArrayLike, sigma: ArrayLike | None = None) -> Array:
    """The score S(W, sigma) of `variant` ("l2", "ev" or "nv").

    Args:
        variant: `"l2"`, `"ev"` or `"nv"`.
        W: `(d, d)` weighted adjacency.
        cov: `(d, d)` second-moment matrix X^T X / n of centred data.
        sigma: noise standard deviation(s): scalar (EV) or `(d,)` (NV); ignored for l2.
    """
    validate.one_of("variant", variant, SCORES)
    W, cov = jnp.asarray(W), jnp.asarray(cov)
    _, r = residual_moments(W, cov)
    sig = jnp.ones_like(r) if sigma is None else jnp.broadcast_to(jnp.asarray(sigma), r.shape)
    return score_from_moments(variant, r, sig)


def score_grad(variant: str, W: ArrayLike, cov: ArrayLike, sigma: ArrayLike | None = None) -> Array:
    """Closed-form gradient of `score` in W: -cov (I - W) diag(1/sigma) (sigma = 1 for l2)."""
    validate.one_of("variant", variant, SCORES)
    W, cov = jnp.asarray(W), jnp.asarray(cov)
    G, r = residual_moments(W, cov)
    if variant == "l2" or sigma is None:
        return -G
    return -G / jnp.broadcast_to(jnp.asarray(sigma), r.shape)[None, :]


def noise_scale(variant: str, W: ArrayLike, cov: ArrayLike, sigma_min: ArrayLike = 0.0) -> Array:
    """Closed-form noise scale at W: a scalar for `"ev"`, a `(d,)` vector for `"nv"`."""
    validate.one_of("variant", variant, ("ev", "nv"))
    W, cov = jnp.asarray(W), jnp.asarray(cov)
    _, r = residual_moments(W, cov)
    sig = noise_update(variant, r, jnp.asarray(sigma_min, r.dtype))
    return sig[0] if variant == "ev" else sig
