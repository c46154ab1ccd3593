"""Shared machinery: types, resampling, log-weights, the particle step, validation, progress,
ArviZ, sharding, multi-process launch.

Submodules are imported on first use (as in `probkit` itself), so that
`from probkit.core import distributed` runs no JAX computation before
`distributed.initialize()` (importing blackjax, which `resampling` uses, starts JAX's backend).
"""

import importlib

_SUBMODULES = (
    "accumulate",
    "distributed",
    "errors",
    "particles",
    "precision",
    "prng",
    "progress",
    "resampling",
    "sharding",
    "types",
    "validate",
    "weights",
)

__all__ = [*_SUBMODULES, "to_inference_data"]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"probkit.core.{name}")
    if name == "to_inference_data":
        from probkit.core.inference_data import to_inference_data

        return to_inference_data
    raise AttributeError(f"module 'probkit.core' has no attribute {name!r}")
