"""One-release shims for the argument orders and option names that changed in 0.2."""

import warnings

from probkit.ssm.model import StateSpaceModel

__all__ = ["model_params", "renamed"]


def model_params(fn: str, model, params):
    """`(model, params)`; swapped, with a DeprecationWarning, when given in the old order.

    `ppg.init/step` and `csmc.step` took `(..., params, model, ...)` before 0.2; every probkit
    kernel now takes `(key, state, model, params, ...)`.
    """
    if not isinstance(model, StateSpaceModel) and isinstance(params, StateSpaceModel):
        warnings.warn(
            f"{fn}: the order (..., params, model, ...) is deprecated and will be removed in "
            "0.3; pass (..., model, params, ...) like every probkit kernel",
            DeprecationWarning,
            stacklevel=3,
        )
        return params, model
    return model, params


def renamed(fn: str, old: str, new: str, old_value, new_value, default):
    """The value of option `new`, taking the deprecated `old` spelling when that is given."""
    if old_value is None:
        return default if new_value is None else new_value
    if new_value is not None:
        raise TypeError(f"{fn}: pass {new}= only ({old}= is its deprecated spelling)")
    warnings.warn(
        f"{fn}: {old}= is deprecated and will be removed in 0.3; use {new}=",
        DeprecationWarning,
        stacklevel=3,
    )
    return old_value
