"""Full-precision matrix products for probkit's exact computations.

On NVIDIA GPUs JAX computes float32 matrix products in TF32 by default (a 10-bit mantissa,
about 1e-3 relative error). That is fine for Monte Carlo, but not for computations whose
answers are exact up to rounding: the Kalman filter and RTS smoother, SEM covariances, causal
table contractions and DAG learning (whose certified inverse of s I - W*W fails under TF32:
measured on an H200, CoLiDE-EV at d = 20 stopped after 6797 iterations with SHD 58, against
SHD 4 with full products; see benchmarks/RESULTS.md). Functions decorated with
`exact_products` trace every product at `EXACT_PRECISION`. On CPU float32 products are full
float32 already, so nothing changes there.
"""

import functools
from collections.abc import Callable
from typing import TypeVar

import jax

__all__ = ["EXACT_PRECISION", "exact_products"]

EXACT_PRECISION: str | None = "highest"
"""Matmul precision for `exact_products` (read at trace time; None keeps JAX's default)."""

F = TypeVar("F", bound=Callable)


def exact_products(fn: F) -> F:
    """Run (and so trace) `fn` under `jax.default_matmul_precision(EXACT_PRECISION)`.

    Put it under `jax.jit` so that the compiled program carries the precision:
    `@jax.jit` then `@exact_products` then `def f(...)`.

    Examples:
        >>> from probkit.core.precision import exact_products
        >>> @jax.jit
        ... @exact_products
        ... def gram(x):  # (n, d) -> (n, n)
        ...     return x @ x.T
        >>> gram(jnp.ones((3, 2))).shape
        (3, 3)
    """

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with jax.default_matmul_precision(EXACT_PRECISION):
            return fn(*args, **kwargs)

    return wrapped
