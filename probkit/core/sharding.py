"""Sharding the batch axis (particles, walkers, problems) over devices.

probkit code is written for one device; these helpers let the same code run with its batch
axis split over a `jax.sharding.Mesh` (several GPUs, or hosts via `jax.distributed`). Pass the
`NamedSharding` returned by `batch_sharding` as a function's `sharding=` argument; inside the
compiled loop `constrain` pins the batch axis to it and XLA inserts the collectives
(LSE over particles, cumulative sums for resampling). With `jax_threefry_partitionable` (the
default in recent JAX) random draws do not depend on the sharding, so sharded and unsharded runs
with the same key agree up to floating-point reduction order.
"""

from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["batch_mesh", "batch_sharding", "constrain", "shard_batch"]

BATCH_AXIS = "batch"


def batch_mesh(devices: Sequence | None = None, axis_name: str = BATCH_AXIS) -> Mesh:
    """A 1-D mesh over `devices` (default: all devices).

    Examples:
        >>> from probkit.core import sharding
        >>> mesh = sharding.batch_mesh()
        >>> mesh.axis_names, mesh.size == len(jax.devices())
        (('batch',), True)
    """
    devs = np.asarray(jax.devices() if devices is None else list(devices))
    return Mesh(devs.reshape(-1), (axis_name,))


def batch_sharding(mesh: Mesh | None = None, *, axis: int = 0, ndim: int = 1) -> NamedSharding:
    """Sharding that splits dimension `axis` of an `ndim`-D array over the mesh's first axis.

    Examples:
        >>> from probkit.core import sharding
        >>> s = sharding.batch_sharding(axis=1, ndim=2)  # split the columns of a matrix
        >>> tuple(s.spec)
        (None, 'batch')
    """
    mesh = batch_mesh() if mesh is None else mesh
    spec = [None] * ndim
    spec[axis] = mesh.axis_names[0]
    return NamedSharding(mesh, PartitionSpec(*spec))


def _spec_for(sharding: NamedSharding, leaf_ndim: int, axis: int) -> NamedSharding:
    spec = [None] * leaf_ndim
    spec[axis] = sharding.mesh.axis_names[0]
    return NamedSharding(sharding.mesh, PartitionSpec(*spec))


def constrain(tree, sharding: NamedSharding | None, *, axis: int = 0):
    """Inside `jit`: pin axis `axis` of every leaf to `sharding`'s mesh; no-op when None.

    Examples:
        >>> from probkit.core import sharding
        >>> s = sharding.batch_sharding()
        >>> f = jax.jit(lambda x: sharding.constrain(2 * x, s))
        >>> f(jnp.ones(4)).shape
        (4,)
    """
    if sharding is None:
        return tree
    return jax.tree.map(
        lambda x: jax.lax.with_sharding_constraint(x, _spec_for(sharding, x.ndim, axis)), tree
    )


def shard_batch(tree, mesh: Mesh | None = None, *, axis: int = 0):
    """Outside `jit`: place every leaf with axis `axis` split over the mesh (default: all).

    Examples:
        >>> from probkit.core import sharding
        >>> tree = sharding.shard_batch({"x": jnp.zeros((8, 3))})
        >>> tree["x"].shape, tuple(tree["x"].sharding.spec)
        ((8, 3), ('batch', None))
    """
    mesh = batch_mesh() if mesh is None else mesh
    base = batch_sharding(mesh)
    return jax.tree.map(lambda x: jax.device_put(x, _spec_for(base, np.ndim(x), axis)), tree)
