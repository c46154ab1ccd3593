"""Type aliases shared across probkit (documentation only; nothing is checked at run time)."""

from typing import Any

import jax

__all__ = ["Array", "ArrayLike", "PRNGKey", "PyTree"]

Array = jax.Array
"""An output array."""

ArrayLike = jax.typing.ArrayLike
"""Anything `jnp.asarray` accepts: inputs are ArrayLike, outputs are Array."""

PRNGKey = jax.Array
"""A `jax.random.key(...)` (typed) or `jax.random.PRNGKey(...)` (raw uint32) key."""

PyTree = Any
"""A pytree of arrays."""
