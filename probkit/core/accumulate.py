"""Compensated (Kahan–Babuška) summation for long sums in a scan.

A log-likelihood over T = 10^4 steps summed naively in float32 loses about log10(T) digits;
carrying a compensation term keeps the total accurate to a few ulps. Use `init`, `add` in the
scan body and `value` at the end. Works on pytrees (e.g. additive functionals).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from probkit.core.types import PyTree

__all__ = ["Sum", "add", "init", "value"]


class Sum(NamedTuple):
    """A compensated (Neumaier) running sum: the value is `total + compensation`, leafwise.

    Attributes:
        total: the running sum, a pytree.
        compensation: the accumulated rounding error, same structure as `total`.
    """

    total: PyTree
    compensation: PyTree


def init(like: PyTree) -> Sum:
    """A zero sum with the structure/dtypes of `like`."""
    zeros = jax.tree.map(jnp.zeros_like, like)
    return Sum(zeros, zeros)


def _neumaier(total, comp, x):
    t = total + x
    big = jnp.abs(total) >= jnp.abs(x)
    # Keep infinities/NaN as they are: the compensation of an infinite sum is meaningless.
    c = jnp.where(big, (total - t) + x, (x - t) + total)
    c = jnp.where(jnp.isfinite(t), c, jnp.zeros_like(c))
    return t, comp + c


def add(acc: Sum, x: PyTree) -> Sum:
    """acc + x, compensated leafwise."""
    pairs = jax.tree.map(_neumaier, acc.total, acc.compensation, x)
    treedef = jax.tree.structure(acc.total)
    leaves = treedef.flatten_up_to(pairs)
    totals = [p[0] for p in leaves]
    comps = [p[1] for p in leaves]
    return Sum(treedef.unflatten(totals), treedef.unflatten(comps))


def value(acc: Sum) -> PyTree:
    """The compensated total."""
    return jax.tree.map(lambda t, c: t + c, acc.total, acc.compensation)
