"""Shared machinery: types, resampling, log-weights, the particle step, validation, progress,
ArviZ, sharding."""

from probkit.core import (
    accumulate,
    errors,
    particles,
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
    "particles",
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
