"""Eager input validation, run before anything is traced.

Each helper names the offending argument and says what was expected. They accept concrete
values; called on a tracer (inside a user's `jit`) they check what is static (shapes, dtypes)
and skip value checks, so validated functions stay usable under `jit`/`vmap`.
"""

import numbers
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from probkit.core.types import Array, ArrayLike

__all__ = [
    "array",
    "callable_",
    "finite",
    "finite_tree",
    "is_concrete",
    "key",
    "observations",
    "one_of",
    "positive_definite",
    "positive_float",
    "positive_int",
    "probability",
    "square_matrix",
    "stochastic",
    "sum_tolerance",
]


def is_concrete(x) -> bool:
    """True when `x` holds values (not a tracer).

    Examples:
        >>> from probkit.core import validate
        >>> validate.is_concrete(jnp.ones(2))
        True
        >>> jax.jit(lambda x: validate.is_concrete(x) or x)(1.0)  # a tracer inside jit
        Array(1., dtype=float32, weak_type=True)
    """
    return not isinstance(x, jax.core.Tracer)


def positive_int(name: str, value, *, minimum: int = 1) -> int:
    """An integer >= `minimum` (bools are refused).

    Examples:
        >>> from probkit.core import validate
        >>> validate.positive_int("num_particles", 100)
        100
        >>> validate.positive_int("num_particles", True)
        Traceback (most recent call last):
        ...
        TypeError: ...
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def positive_float(name: str, value, *, allow_zero: bool = False) -> float:
    """A finite float > 0 (or >= 0 with `allow_zero`).

    Examples:
        >>> from probkit.core import validate
        >>> validate.positive_float("scale", 2)
        2.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    ok = np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value}")
    return float(value)


def probability(name: str, value, *, open_low: bool = False) -> float:
    """A float in [0, 1] (or (0, 1] with `open_low`).

    Examples:
        >>> from probkit.core import validate
        >>> validate.probability("alpha", 0.25)
        0.25
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in [0, 1], got {value!r}")
    lo_ok = value > 0 if open_low else value >= 0
    if not (lo_ok and value <= 1):
        interval = "(0, 1]" if open_low else "[0, 1]"
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return float(value)


def one_of(name: str, value, choices: Sequence) -> object:
    """`value` must be one of `choices`.

    Examples:
        >>> from probkit.core import validate
        >>> validate.one_of("method", "exact", ["exact", "greedy"])
        'exact'
    """
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def array(
    name: str,
    value: ArrayLike,
    *,
    ndim: int | Sequence[int] | None = None,
    min_ndim: int | None = None,
    shape: tuple | None = None,
    dtype_kind: str | None = None,
) -> Array:
    """Convert to a JAX array and check rank/shape; `None` entries in `shape` match anything.

    `dtype_kind` is a string of numpy kind codes that are accepted, e.g. "fiu" for numbers.

    Examples:
        >>> from probkit.core import validate
        >>> validate.array("x", [[1.0, 2.0]], shape=(None, 2)).shape
        (1, 2)
        >>> validate.array("x", [1.0, 2.0], ndim=2)
        Traceback (most recent call last):
        ...
        ValueError: x must have 2 dimension(s), got shape (2,)
    """
    try:
        arr = jnp.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like, got {type(value).__name__}: {exc}") from None
    if dtype_kind is not None and np.dtype(arr.dtype).kind not in dtype_kind:
        raise TypeError(f"{name} must have a numeric dtype, got {arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise ValueError(
                f"{name} must have {' or '.join(map(str, allowed))} dimension(s), "
                f"got shape {arr.shape}"
            )
    if min_ndim is not None and arr.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimension(s), got shape {arr.shape}"
        )
    if shape is not None:
        if len(shape) != arr.ndim or any(
            s is not None and s != a for s, a in zip(shape, arr.shape)
        ):
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    return arr


def finite(name: str, value: ArrayLike) -> Array:
    """A numeric array with no NaN or inf (value check skipped for tracers).

    Examples:
        >>> from probkit.core import validate
        >>> validate.finite("y", [1.0, float("nan")])
        Traceback (most recent call last):
        ...
        ValueError: y must be finite; it has 1 NaN or infinite entr(y/ies)
    """
    arr = array(name, value, dtype_kind="fiub")
    if is_concrete(arr) and not np.isfinite(np.asarray(arr)).all():
        bad = int(np.sum(~np.isfinite(np.asarray(arr))))
        raise ValueError(f"{name} must be finite; it has {bad} NaN or infinite entr(y/ies)")
    return arr


def finite_tree(name: str, tree) -> object:
    """Every leaf of a pytree (e.g. model parameters) is finite.

    Examples:
        >>> from probkit.core import validate
        >>> params = validate.finite_tree("params", {"a": jnp.ones(2), "b": 0.5})
        >>> sorted(params)
        ['a', 'b']
    """
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    for path, leaf in leaves:
        if leaf is None or callable(leaf):
            continue
        try:
            arr = jnp.asarray(leaf)
        except (TypeError, ValueError):
            continue
        if np.dtype(arr.dtype).kind not in "fc" or not is_concrete(arr):
            continue
        if not np.isfinite(np.asarray(arr)).all():
            where = jax.tree_util.keystr(path) or ""
            raise ValueError(f"{name}{where} must be finite; got NaN or infinite values")
    return tree


def observations(name: str, ys: ArrayLike, *, allow_missing: bool = True) -> Array:
    """A `(T, *obs_shape)` series with T >= 1; NaN marks a missing entry, inf is refused.

    Examples:
        >>> from probkit.core import validate
        >>> validate.observations("ys", [[0.1], [float("nan")], [0.3]]).shape  # NaN: missing
        (3, 1)
    """
    arr = array(name, ys, min_ndim=1, dtype_kind="fiu")
    if arr.shape[0] < 1:
        raise ValueError(f"{name} must contain at least one time step, got shape {arr.shape}")
    if np.dtype(arr.dtype).kind in "iu":
        arr = arr.astype(jnp.result_type(float))
    if is_concrete(arr):
        host = np.asarray(arr)  # value checks on the host: no device round trip per check
        if np.isinf(host).any():
            raise ValueError(f"{name} contains infinite values; use NaN to mark a missing entry")
        if not allow_missing and np.isnan(host).any():
            raise ValueError(
                f"{name} contains NaN, and missing observations are not supported here"
            )
    return arr


def key(name: str, value) -> Array:
    """A JAX PRNG key: typed (`jax.random.key`) or raw uint32 of shape (2,).

    Examples:
        >>> from probkit.core import validate
        >>> validate.key("key", jax.random.key(0)).shape
        ()
        >>> validate.key("key", 0)
        Traceback (most recent call last):
        ...
        TypeError: key must be a single JAX PRNG key ...
    """
    if isinstance(value, jax.Array) or isinstance(value, np.ndarray):
        if jnp.issubdtype(value.dtype, jax.dtypes.prng_key) and value.shape == ():
            return value
        if value.dtype == jnp.uint32 and value.shape == (2,):
            return value
    raise TypeError(
        f"{name} must be a single JAX PRNG key (jax.random.key(seed)), got "
        f"{type(value).__name__} with shape {getattr(value, 'shape', None)}"
    )


def callable_(name: str, value, *, allow_none: bool = False) -> Callable | None:
    """A callable (or None when allowed).

    Examples:
        >>> from probkit.core import validate
        >>> validate.callable_("fn", None, allow_none=True) is None
        True
        >>> validate.callable_("fn", 3)
        Traceback (most recent call last):
        ...
        TypeError: fn must be callable, got int
    """
    if value is None and allow_none:
        return None
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__}")
    return value


def square_matrix(name: str, value: ArrayLike, size: int | None = None) -> Array:
    """A finite `(n, n)` matrix (n == size when given).

    Examples:
        >>> from probkit.core import validate
        >>> validate.square_matrix("A", np.zeros((3, 3))).shape
        (3, 3)
    """
    arr = finite(name, value)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {arr.shape}")
    if size is not None and arr.shape[0] != size:
        raise ValueError(f"{name} must have shape ({size}, {size}), got {arr.shape}")
    return arr


def positive_definite(name: str, value: ArrayLike, size: int | None = None) -> Array:
    """A symmetric positive-definite matrix (value check skipped for tracers).

    Examples:
        >>> from probkit.core import validate
        >>> validate.positive_definite("cov", jnp.eye(2), size=2).shape
        (2, 2)
    """
    arr = square_matrix(name, value, size)
    if is_concrete(arr):
        a = np.asarray(arr, dtype=float)
        scale = max(1.0, float(np.max(np.abs(a))))
        if not np.allclose(a, a.T, rtol=1e-6, atol=1e-8 * scale):
            raise ValueError(f"{name} must be symmetric")
        try:
            np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            raise ValueError(f"{name} must be positive definite") from None
    return arr


def sum_tolerance(dtype) -> float:
    """How far from 1 a user-given distribution may sum: rounding of its dtype, with headroom.

    Examples:
        >>> from probkit.core import validate
        >>> validate.sum_tolerance(np.float32) > validate.sum_tolerance(np.float64)
        True
    """
    return 1e-9 if jnp.dtype(dtype) == jnp.float64 else 1e-5


def stochastic(
    name: str,
    value: ArrayLike,
    num_axes: int = 1,
    *,
    what: str = "rows",
    over: str = "",
    atol: float | None = None,
) -> None:
    """Concrete tables: finite, non-negative, summing to 1 over the last `num_axes` axes.

    `atol` defaults to `sum_tolerance(dtype)`. The message shows the deviation from 1, so a row
    off by 1e-7 does not print as "1". Skipped for tracers.

    Examples:
        >>> from probkit.core import validate
        >>> validate.stochastic("P", np.array([[0.5, 0.5], [0.2, 0.8]]))
        >>> validate.stochastic("P", np.array([[0.5, 0.6]]))
        Traceback (most recent call last):
        ...
        ValueError: P: rows must sum to 1; the sum at index (0,) is 1 + 0.1 ...
    """
    if not is_concrete(value):
        return
    t = np.asarray(value)
    if not np.all(np.isfinite(t)):
        raise ValueError(f"{name} must be finite; it has NaN or infinite entries")
    if np.any(t < 0):
        where = tuple(int(i) for i in np.argwhere(t < 0)[0])
        raise ValueError(f"{name} has negative entries, e.g. {t[where]:.4g} at index {where}")
    axes = tuple(range(t.ndim - num_axes, t.ndim))
    sums = t.sum(axis=axes) if axes else t
    err = np.abs(sums - 1.0)
    tol = sum_tolerance(t.dtype) if atol is None else atol
    if np.any(err > tol):
        worst = np.unravel_index(int(np.argmax(err)), np.shape(err))
        at = f" at index {tuple(int(i) for i in worst)}" if np.ndim(err) else ""
        dev = float(np.asarray(sums)[worst]) - 1.0
        raise ValueError(
            f"{name}: {what} must sum to 1{over}; the sum{at} is 1 {'+' if dev >= 0 else '-'} "
            f"{abs(dev):.3g} (tolerance {tol:g} for {t.dtype})"
        )
