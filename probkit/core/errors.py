"""Exceptions and failure codes.

Eager validation raises `ValueError`/`TypeError` naming the argument. Inside compiled code
nothing can raise, so numerical failure is reported in a result's info field instead; the
codes here give those flags one meaning across probkit.
"""

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "NumericalFailure",
    "ProbkitError",
    "all_finite",
    "check_finite_result",
    "first_failure",
]


class ProbkitError(Exception):
    """Base class for probkit errors that are neither bad values nor bad types."""


class NumericalFailure(ProbkitError, FloatingPointError):
    """Raised by `check_finite_result` when a result reports failure."""


def first_failure(flags) -> "jnp.ndarray":
    """() int32: the index of the first true entry of the (T,) bool `flags`, -1 if none.

    Examples:
        >>> from probkit.core import errors
        >>> errors.first_failure(jnp.array([False, True, True]))
        Array(1, dtype=int32)
        >>> errors.first_failure(jnp.zeros(4, bool))
        Array(-1, dtype=int32)
    """
    flags = jnp.asarray(flags, bool)
    return jnp.where(jnp.any(flags), jnp.argmax(flags), -1).astype(jnp.int32)


def all_finite(tree) -> "jnp.ndarray":
    """() bool: every leaf of the pytree `tree` is finite everywhere (traceable).

    Examples:
        >>> from probkit.core import errors
        >>> bool(errors.all_finite({"a": jnp.ones(2), "b": jnp.array([0.0, jnp.inf])}))
        False
    """
    out = jnp.ones((), bool)
    for leaf in jax.tree.leaves(tree):
        out = out & jnp.all(jnp.isfinite(leaf))
    return out


def check_finite_result(result, *, what: str = "result") -> None:
    """Raise `NumericalFailure` if `result.failed` is set (host-side, not traceable).

    `failed` may be a scalar or a batch of flags (shape `(B,)`, e.g. `sem.batch_covariance`);
    any set flag raises, and the message says how many of the batch failed.

    Examples:
        >>> from types import SimpleNamespace
        >>> from probkit.core import errors
        >>> errors.check_finite_result(SimpleNamespace(failed=jnp.array(False)))
        >>> errors.check_finite_result(SimpleNamespace(failed=True, failed_at=3), what="filter")
        Traceback (most recent call last):
        ...
        probkit.core.errors.NumericalFailure: filter failed at step 3: ...
    """
    failed = getattr(result, "failed", None)
    if failed is None:
        raise TypeError(f"{what} has no `failed` field to check")
    flags = np.asarray(failed).reshape(-1)
    if not flags.any():
        return
    where = ""
    if flags.size > 1:
        where = f" for {int(flags.sum())} of {flags.size} batch entries"
    else:
        step = getattr(result, "failed_at", None)
        if step is not None and np.ndim(step) == 0:
            where = f" at step {int(step)}"
    if hasattr(result, "log_likelihood") and hasattr(result, "particles"):
        why = (
            "every particle weight was -inf or NaN "
            "(the observation model gives zero density to all particles)"
        )
    else:
        why = "a non-finite number in the compiled computation"
    raise NumericalFailure(
        f"{what} failed{where}: {why}; see the result type's `failed` entry in the "
        "troubleshooting guide"
    )
