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
    """A zero sum with the structure/dtypes of `like`.

    Examples:
        >>> from probkit.core import accumulate
        >>> acc = accumulate.init({"a": jnp.zeros(3), "b": jnp.zeros((), jnp.int32)})
        >>> acc.total["a"].shape, acc.compensation["b"].dtype
        ((3,), dtype('int32'))
    """
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
    """acc + x, compensated leafwise (`x` has the structure and leaf shapes of the sum).

    Examples:
        >>> from probkit.core import accumulate
        >>> acc = accumulate.add(accumulate.init(jnp.zeros(2)), jnp.array([1.0, 2.0]))
        >>> accumulate.value(accumulate.add(acc, jnp.array([0.5, 0.5])))
        Array([1.5, 2.5], dtype=float32)
    """
    pairs = jax.tree.map(_neumaier, acc.total, acc.compensation, x)
    treedef = jax.tree.structure(acc.total)
    leaves = treedef.flatten_up_to(pairs)
    totals = [p[0] for p in leaves]
    comps = [p[1] for p in leaves]
    return Sum(treedef.unflatten(totals), treedef.unflatten(comps))


def value(acc: Sum) -> PyTree:
    """The compensated total: a pytree like the one `init` was given.

    Examples:
        >>> from probkit.core import accumulate
        >>> acc = accumulate.init(jnp.zeros(()))
        >>> for x in [1e8, 1.0, -1e8]:
        ...     acc = accumulate.add(acc, jnp.float32(x))
        >>> accumulate.value(acc)  # a naive float32 sum gives 0.0
        Array(1., dtype=float32)
    """
    return jax.tree.map(lambda t, c: t + c, acc.total, acc.compensation)
