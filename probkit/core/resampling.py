"""Resampling schemes, unconditional and conditional, on log-weights.

Each scheme is a `Resampler` with two pure functions:

* `resample(key, log_weights, num_samples) -> ancestors` — the usual scheme; ancestors are
  `int32` indices of shape `(num_samples,)`, not necessarily in random order. Written here
  rather than taken from blackjax (whose schemes use `jnp.cumsum` and a binary search per
  point, which we measured 5x slower on CPU at N = 10^4 than a tree-shaped cumulative sum and,
  for systematic, a histogram of the interval ends; importing blackjax also costs ~0.5 s).
* `conditional(key, log_weights, ref_ancestor) -> ancestors` — conditional resampling for
  conditional SMC: the returned `(N,)` vector has `ancestors[0] == ref_ancestor` (the reference
  particle lives at index 0) and the other entries follow the scheme's law *given* that. For
  systematic and stratified this is the scheme followed by a uniformly random cyclic rotation of
  the output (a valid, unbiased scheme whose conditional is exact and cheap: draw the reference's
  uniform inside its own interval, then the other points as usual, Chopin & Singh 2015); for
  residual, the multiset is size-biased towards `ref_ancestor` and the rest placed uniformly.

Weights are normalised with `probkit.core.weights`, so a degenerate set (all -inf) resamples
uniformly (and the caller's info field reports the degeneracy). Called eagerly, both functions
check their input first: log-weights must be a non-empty `(N,)` array, and NaN entries are an
error (inside compiled code, where nothing can raise, a NaN weight counts as -inf).
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from probkit.core import validate
from probkit.core import weights as _w
from probkit.core.types import Array, ArrayLike, PRNGKey

__all__ = [
    "SCHEMES",
    "Resampler",
    "cumulative_weights",
    "get",
    "multinomial",
    "residual",
    "stratified",
    "systematic",
]


class Resampler(NamedTuple):
    """A resampling scheme: its name, the resampler and its conditional version.

    Attributes:
        name: the scheme's name ("systematic", ...).
        resample: `resample(key, log_weights, num_samples) -> (num_samples,) int32` ancestors.
        conditional: `conditional(key, log_weights, ref_ancestor) -> (N,) int32` ancestors that
            include `ref_ancestor`, the reference particle's (conditional SMC).
    """

    name: str
    resample: Callable[[PRNGKey, Array, int], Array]
    conditional: Callable[[PRNGKey, Array, Array], Array]


def cumulative_weights(w: Array) -> Array:
    """Normalised cumulative sums of linear weights, last entry exactly 1: `(N,)` -> `(N,)`.

    A tree-shaped (associative) scan: O(log N) rounding error in float32 instead of O(N), and
    several times faster than `jnp.cumsum` on CPU.

    Examples:
        >>> from probkit.core.resampling import cumulative_weights
        >>> cumulative_weights(jnp.array([1.0, 1.0, 2.0]))
        Array([0.25, 0.5 , 1.  ], dtype=float32)
    """
    c = jax.lax.associative_scan(jnp.add, w)
    return c / c[-1]


def _systematic(key: PRNGKey, log_weights: ArrayLike, num_samples: int | None = None) -> Array:
    # ancestors[i] = #{j : C_j <= (i + U) / M}: a histogram of ceil(M C_j - U), then a cumsum.
    # O(N + M) with one scatter-add, instead of a binary search per point.
    lw = jnp.asarray(log_weights)
    m = lw.shape[0] if num_samples is None else num_samples
    c = cumulative_weights(_w.normalize(lw))
    u = jax.random.uniform(key, (), dtype=c.dtype)
    pos = jnp.clip(jnp.ceil(m * c - u).astype(jnp.int32), 0, m)
    hist = jnp.zeros(m + 1, jnp.int32).at[pos].add(1)
    idx = jax.lax.associative_scan(jnp.add, hist[:m])
    return jnp.clip(idx, 0, lw.shape[0] - 1)


def _stratified(key: PRNGKey, log_weights: ArrayLike, num_samples: int | None = None) -> Array:
    lw = jnp.asarray(log_weights)
    m = lw.shape[0] if num_samples is None else num_samples
    c = cumulative_weights(_w.normalize(lw))
    points = (jnp.arange(m, dtype=c.dtype) + jax.random.uniform(key, (m,), dtype=c.dtype)) / m
    return _inverse_cdf(c, points)


def _multinomial(key: PRNGKey, log_weights: ArrayLike, num_samples: int | None = None) -> Array:
    lw = jnp.asarray(log_weights)
    m = lw.shape[0] if num_samples is None else num_samples
    c = cumulative_weights(_w.normalize(lw))
    return _inverse_cdf(c, jax.random.uniform(key, (m,), dtype=c.dtype))


def _residual(key: PRNGKey, log_weights: ArrayLike, num_samples: int | None = None) -> Array:
    # floor(M w_j) deterministic copies of j, in index order, then the R = M - sum floor(M w)
    # remaining slots filled with i.i.d. draws from the residual weights M w_j - floor(M w_j).
    # The draws are i.i.d. (unsorted uniforms), so taking the first R of M needs no shuffle.
    lw = jnp.asarray(log_weights)
    n = lw.shape[0]
    m = n if num_samples is None else num_samples
    nw = m * _w.normalize(lw)
    det = jnp.floor(nw).astype(jnp.int32)
    num_det = jnp.sum(det)
    draws = _inverse_cdf(
        cumulative_weights(nw - det), jax.random.uniform(key, (m,), dtype=nw.dtype)
    )
    det_idx = jnp.repeat(
        jnp.arange(n + 1, dtype=jnp.int32),
        jnp.concatenate([det, (m - num_det)[None]]),
        total_repeat_length=m,
    )
    return jnp.where(jnp.arange(m) < num_det, det_idx, draws)


def _inverse_cdf(cumsum: Array, u: Array) -> Array:
    """Smallest j with cumsum[j] > u, clipped to a valid index."""
    idx = jnp.searchsorted(cumsum, u, side="right")
    return jnp.clip(idx, 0, cumsum.shape[0] - 1).astype(jnp.int32)


def _reference_point(key, w, cumsum, ref):
    """Uniform point inside the reference ancestor's interval [C_{ref-1}, C_ref)."""
    lo = cumsum[ref] - w[ref]
    return lo + jax.random.uniform(key, (), dtype=w.dtype) * w[ref]


def _conditional_stratified_or_systematic(key, log_weights, ref_ancestor, systematic):
    w = _w.normalize(log_weights)
    n = w.shape[0]
    cumsum = cumulative_weights(w)
    k_ref, k_rest = jax.random.split(key)
    u_ref = _reference_point(k_ref, w / jnp.sum(w), cumsum, ref_ancestor)
    stratum = jnp.clip(jnp.floor(u_ref * n).astype(jnp.int32), 0, n - 1)
    grid = jnp.arange(n, dtype=w.dtype)
    if systematic:
        offset = u_ref * n - stratum  # shared offset in [0, 1)
        points = (grid + offset) / n
    else:
        points = (grid + jax.random.uniform(k_rest, (n,), dtype=w.dtype)) / n
    ancestors = _inverse_cdf(cumsum, points)
    ancestors = ancestors.at[stratum].set(ref_ancestor)
    return jnp.roll(ancestors, -stratum)


def _conditional_multinomial(key, log_weights, ref_ancestor):
    n = log_weights.shape[0]
    ancestors = jax.random.categorical(key, _w.log_normalize(log_weights), shape=(n,))
    return ancestors.astype(jnp.int32).at[0].set(ref_ancestor)


def _conditional_residual(key, log_weights, ref_ancestor):
    w = _w.normalize(log_weights)
    n = w.shape[0]
    k_det, k_res, k_perm = jax.random.split(key, 3)
    nw = n * w
    det = jnp.floor(nw).astype(jnp.int32)
    num_res = n - jnp.sum(det)
    res_w = nw - det
    # Given ancestors[0] == ref, the reference is a deterministic copy with probability
    # det[ref] / (n w[ref]); otherwise one residual draw is forced to ref (size-biasing).
    ref_is_det = jax.random.uniform(k_det, (), dtype=w.dtype) * nw[ref_ancestor] < det[ref_ancestor]
    res_draws = jax.random.categorical(k_res, jnp.log(res_w), shape=(n,)).astype(jnp.int32)
    res_draws = jnp.where(ref_is_det, res_draws, res_draws.at[0].set(ref_ancestor))
    det_idx = jnp.repeat(
        jnp.arange(n + 1, dtype=jnp.int32),
        jnp.concatenate([det, (n - jnp.sum(det))[None]]),
        total_repeat_length=n,
    )
    # Multiset: residual draws first (positions < num_res), deterministic copies after.
    pos = jnp.arange(n)
    multiset = jnp.where(pos < num_res, res_draws, jnp.roll(det_idx, num_res))
    # Put a copy of ref first, then place the others uniformly at random.
    first = jnp.argmax(multiset == ref_ancestor)
    multiset = multiset.at[first].set(multiset[0]).at[0].set(ref_ancestor)
    rest = jax.random.permutation(k_perm, multiset[1:])
    return jnp.concatenate([multiset[:1], rest])


def _check_log_weights(log_weights: ArrayLike) -> Array:
    """Shape always; NaN when concrete (eager calls)."""
    lw = validate.array("log_weights", log_weights, ndim=1, dtype_kind="fiu")
    if lw.shape[0] == 0:
        raise ValueError("log_weights must have at least one entry, got shape (0,)")
    if validate.is_concrete(lw) and bool(np.isnan(np.asarray(lw)).any()):
        raise ValueError(
            f"log_weights has {int(np.isnan(np.asarray(lw)).sum())} NaN entr(y/ies); NaN "
            "carries no usable weight (use -inf for a zero weight)"
        )
    return lw


def _wrap_resample(fn):
    jitted = jax.jit(fn, static_argnums=2)

    def resample(key: PRNGKey, log_weights: ArrayLike, num_samples: int | None = None) -> Array:
        lw = _check_log_weights(log_weights)
        if num_samples is not None:
            num_samples = validate.positive_int("num_samples", num_samples)
        return jitted(key, lw, num_samples)

    resample.__doc__ = "Resampling: `(N,)` log-weights -> `(num_samples,)` int32 ancestors."
    return resample


def _wrap_conditional(fn):
    def conditional(key: PRNGKey, log_weights: ArrayLike, ref_ancestor: ArrayLike) -> Array:
        lw = _check_log_weights(log_weights)
        return fn(key, lw, jnp.asarray(ref_ancestor, dtype=jnp.int32))

    conditional.__doc__ = "Conditional resampling: `(N,)` log-weights -> `(N,)` with [0] == ref."
    return conditional


def _make(name, resample, conditional) -> Resampler:
    # Jitted so that eager calls compile once (the tree-shaped scans are many small ops).
    # The checks run outside jit (they see concrete values in eager calls).
    jitted_conditional = jax.jit(lambda k, lw, r: conditional(k, lw, r))
    return Resampler(
        name,
        _wrap_resample(resample),
        _wrap_conditional(jitted_conditional),
    )


multinomial = _make("multinomial", _multinomial, _conditional_multinomial)
"""Multinomial resampling: N independent draws from the weights."""
systematic = _make(
    "systematic",
    _systematic,
    lambda k, lw, r: _conditional_stratified_or_systematic(k, lw, r, True),
)
"""Systematic resampling: one uniform shared by N evenly spaced points."""
stratified = _make(
    "stratified",
    _stratified,
    lambda k, lw, r: _conditional_stratified_or_systematic(k, lw, r, False),
)
"""Stratified resampling: one uniform in each of N strata."""
residual = _make("residual", _residual, _conditional_residual)
"""Residual resampling: floor(N w) copies, the rest multinomial."""

SCHEMES: dict[str, Resampler] = {r.name: r for r in (multinomial, systematic, stratified, residual)}
"""The built-in schemes by name; `get(name)` looks a name up here."""


def get(scheme: "str | Resampler", *, argname: str = "resampling") -> Resampler:
    """Look a scheme up by name (or pass a `Resampler` through); clear error otherwise.

    Examples:
        >>> from probkit.core import resampling
        >>> r = resampling.get("systematic")
        >>> ancestors = r.resample(jax.random.key(0), jnp.array([0.0, 0.5, 0.5]), 4)
        >>> r.name, ancestors.shape, bool((ancestors >= 1).all())
        ('systematic', (4,), True)
    """
    if isinstance(scheme, Resampler):
        return scheme
    if isinstance(scheme, str) and scheme in SCHEMES:
        return SCHEMES[scheme]
    raise ValueError(
        f"{argname} must be one of {sorted(SCHEMES)} or a probkit.core.resampling.Resampler, "
        f"got {scheme!r}"
    )
