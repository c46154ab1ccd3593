"""Shared fixtures: float64 for exactness tests, keys, statistical helpers.

The suite compiles with XLA's backend optimisation level 0 (LLVM without its optimisation
passes): compiling dominates the suite's time, and level 0 cuts its CPU time by about a fifth.
The programs compute the same algorithms; no test may depend on how XLA generates code (the
house rule: never compare two compiled float32 programs bit for bit). Subprocesses started by
tests inherit it; benchmarks and users are unaffected.
"""

import os

if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
    ).strip()

import jax
import pytest

from probkit import testing


@pytest.fixture
def x64():
    """Run the test in float64 (numerics are compared to exact answers there)."""
    with jax.enable_x64(True):
        yield


@pytest.fixture
def key():
    return jax.random.key(0)


@pytest.fixture
def keys():
    return testing.keys
