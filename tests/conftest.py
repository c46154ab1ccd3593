"""Shared fixtures: float64 for exactness tests, keys, statistical helpers."""

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
