"""Shared machinery: types, resampling, log-weights, validation, progress, ArviZ, sharding."""

from probkit.core import (
    accumulate,
    errors,
    precision,
    prng,
    progress,
    resampling,
    sharding,
    types,
    validate,
    weights,
)
from probkit.core.inference_data import to_inference_data

__all__ = [
    "accumulate",
    "errors",
    "precision",
    "prng",
    "progress",
    "resampling",
    "sharding",
    "to_inference_data",
    "types",
    "validate",
    "weights",
]
