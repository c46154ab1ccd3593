"""Estimators from SRRW runs: visit frequencies, ergodic averages, TVD, NRMSE, streaming sums.

`srrw(..., summary_every=k)` streams: every k steps it reduces the (W, n) empirical measures
over the walker axis and keeps only these sums (`SRRWSummary`), so the extra memory is
O(R (n + m)) for R = T // k checkpoints and m node functions, whatever T and W are.
"""

from typing import NamedTuple

import jax.numpy as jnp

from probkit.core.types import Array

__all__ = ["SRRWSummary", "ergodic_average", "nrmse", "tvd", "visit_frequencies"]


class SRRWSummary(NamedTuple):
    """Sums over walkers of error statistics at R checkpoints (the streaming record).

    Attributes:
        steps: (R,) int32 step number n of each checkpoint.
        target: (n,) μ the walk converges to.
        sq_error: (R, n) Σ_w (x_n^w(i) - μ_i)².
        tvd_sum: (R,) Σ_w TVD(x_n^w, μ).
        f_sum: (R, m) Σ_w Σ_i x_n^w(i) f_m(i) for the node functions f (None without them).
        f_sq_sum: (R, m) Σ_w (Σ_i x_n^w(i) f_m(i))² (None without them).
        num_walkers: () W.
    """

    steps: Array
    target: Array
    sq_error: Array
    tvd_sum: Array
    f_sum: Array | None
    f_sq_sum: Array | None
    num_walkers: Array

    def nrmse(self) -> Array:
        """(R, n) per-node √(mean over walkers of (x_i - μ_i)²) / μ_i."""
        return jnp.sqrt(self.sq_error / self.num_walkers) / self.target

    def mean_tvd(self) -> Array:
        """(R,) TVD(x_n, μ) averaged over walkers."""
        return self.tvd_sum / self.num_walkers

    def f_mean(self) -> Array:
        """(R, m) ergodic averages Σ_i x_n(i) f(i) averaged over walkers."""
        return self.f_sum / self.num_walkers

    def f_var(self) -> Array:
        """(R, m) variance over walkers of the ergodic averages (divisor W)."""
        m = self.f_mean()
        return jnp.maximum(self.f_sq_sum / self.num_walkers - m * m, 0.0)


def summarise(x: Array, mu: Array, functions: Array | None):
    """The walker-summed statistics of (W, n) measures x (one checkpoint)."""
    d = x - mu
    sq = jnp.sum(d * d, axis=0)
    tv = 0.5 * jnp.sum(jnp.abs(d))
    if functions is None:
        return sq, tv, None, None
    e = x @ functions.T.astype(x.dtype)  # (W, m)
    return sq, tv, jnp.sum(e, axis=0), jnp.sum(e * e, axis=0)


def visit_frequencies(result) -> Array:
    """(W, n) fraction of the T steps spent at each node (the initial visits excluded).

    Examples:
        >>> import networkx as nx
        >>> g = walks.from_networkx(nx.cycle_graph(4))
        >>> res = walks.srrw(jax.random.key(0), g, 50, alpha=1.0, num_walkers=3)
        >>> freq = walks.visit_frequencies(res)  # (W, n)
        >>> freq.shape, freq.sum(axis=1).round(5).tolist()
        ((3, 4), [1.0, 1.0, 1.0])
    """
    total = jnp.sum(result.counts, axis=-1, keepdims=True)
    n = result.counts.shape[-1]
    initial = (total - result.state.num_steps[..., None]) // n
    c = jnp.asarray(result.counts - initial)
    return c / jnp.sum(c, axis=-1, keepdims=True)  # int / int: the default float dtype


def ergodic_average(result, f) -> Array:
    """(W,) Σ_i x_n(i) f(i) for a node function f given as an (n,) array.

    Examples:
        >>> import networkx as nx
        >>> g = walks.from_networkx(nx.cycle_graph(4))
        >>> res = walks.srrw(jax.random.key(0), g, 50, alpha=1.0, num_walkers=3)
        >>> walks.ergodic_average(res, jnp.ones(4)).round(5).tolist()  # Σ_i x_n(i) = 1
        [1.0, 1.0, 1.0]
    """
    f = jnp.asarray(f)
    return result.empirical @ f.astype(result.empirical.dtype)


def tvd(empirical, target) -> Array:
    """Total-variation distance ½ Σ |x - μ| over the last axis: `(..., n)`, `(n,)` -> `(...)`.

    Examples:
        >>> float(walks.tvd(jnp.array([0.5, 0.5, 0.0]), jnp.array([0.25, 0.25, 0.5])))
        0.5
    """
    return 0.5 * jnp.sum(jnp.abs(jnp.asarray(empirical) - jnp.asarray(target)), axis=-1)


def nrmse(empirical, target) -> Array:
    """Per node √E[(x_i - μ_i)²] / μ_i over the leading (walker) axis: (n,).

    Examples:
        >>> x = jnp.array([[0.2, 0.8], [0.6, 0.4]])  # two walkers' empirical measures
        >>> [round(v, 3) for v in walks.nrmse(x, jnp.array([0.4, 0.6])).tolist()]
        [0.5, 0.333]
    """
    x = jnp.asarray(empirical)
    mu = jnp.asarray(target)
    return jnp.sqrt(jnp.mean((x - mu) ** 2, axis=0)) / mu
