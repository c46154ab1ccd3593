"""Sharding the batch axis (particles, walkers, problems, draws) over devices.

probkit code is written for one device; these helpers let the same code run with its batch axis
split over a `jax.sharding.Mesh` (several GPUs, or several hosts via `jax.distributed`, see
`probkit.core.distributed`). Every entry point with a batch axis takes `sharding=`, with one
meaning everywhere:

- `None` (default): one device, no sharding;
- a `NamedSharding` from `batch_sharding(mesh)`: split the batch axis over the mesh axis (or
  axes) named in its spec;
- a `Mesh`: split the batch axis over all of the mesh's axes.

`resolve` turns any of these into a 1-D `NamedSharding` (or None) once, before tracing, and
names the argument when it is something else. Two ways to split, chosen per algorithm:

- **Coupled batches** (particles of one filter, walkers that share a key schedule): `constrain`
  pins the batch axis inside the compiled loop and XLA inserts the collectives (log-sum-exp
  over particles, cumulative sums for resampling). The batch size need not divide evenly.
- **Independent problems** (DAG fits over datasets, Bellman solves over transition tensors,
  Sinkhorn problems, SEM covariance draws, causal queries over parameter draws): `shard_vmap`
  runs `vmap(fn)` on each device's block under `jax.shard_map`, with no communication and one
  loop per device (a device stops when its own problems have converged). The batch is padded
  with copies of its first element to a multiple of the device count and cut back after.

The contract (same key, same data): with `jax_threefry_partitionable` (JAX's default) random
draws do not depend on the sharding, and every problem, walker or run is computed from its own
inputs alone, so discrete results (walks, policies, graphs, iteration counts, failure flags) are
the unsharded ones and floating-point results differ at most in the last places: the per-device
programs are compiled for another block size and may round differently (measured: up to
4e-15 relative in float64 on forced host devices; elementwise paths such as SRRW walks, runs
of a harvest policy and SEM covariances agree to the last bit). Where a sharded reduction sums
in another order (log-sum-exp over particles split across devices), a last-place difference can
flip a resampling index in float32, and the two runs then agree in distribution, not bit for
bit; in float64 they match to ~1e-12.

Multi-process (several hosts): every process calls the same function with the same arguments
(host data, replicated); results are global arrays sharded over the mesh, and `gather` brings
them to every process as NumPy arrays (a no-op copy on one process).
"""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = [
    "BATCH_AXIS",
    "batch_mesh",
    "batch_sharding",
    "constrain",
    "gather",
    "num_shards",
    "pad",
    "resolve",
    "shard_batch",
    "shard_blocks",
    "shard_vmap",
    "unpad",
]

BATCH_AXIS = "batch"
"""Name of the mesh axis `batch_mesh` creates and `batch_sharding` splits the batch over."""


def batch_mesh(devices: Sequence | None = None, axis_name: str = BATCH_AXIS) -> Mesh:
    """A 1-D mesh over `devices` (default: all devices, of every process).

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


def _batch_entry(sharding: NamedSharding):
    """The mesh axis name (or tuple of names) that splits the batch."""
    entries = [e for e in sharding.spec if e is not None]
    return entries[0] if entries else None


def resolve(sharding, name: str = "sharding") -> NamedSharding | None:
    """Validate a `sharding=` argument once, before tracing.

    Args:
        sharding: None, a `Mesh` (split over all its axes) or a `NamedSharding` whose spec
            names the mesh axis (or axes) of the batch, e.g. `batch_sharding(mesh)`.
        name: the argument's name, for the error message.

    Returns:
        None, or a `NamedSharding` with spec `P(batch_axes)` (1-D, hashable: usable as a
        static argument of `jit`).

    Examples:
        >>> from probkit.core import sharding
        >>> s = sharding.resolve(sharding.batch_mesh())  # a Mesh: split over all its axes
        >>> tuple(s.spec), sharding.resolve(None) is None
        (('batch',), True)
    """
    if sharding is None:
        return None
    if isinstance(sharding, Mesh):
        axes = sharding.axis_names
        return NamedSharding(sharding, PartitionSpec(axes[0] if len(axes) == 1 else axes))
    if not isinstance(sharding, NamedSharding):
        raise TypeError(
            f"{name} must be None, a jax.sharding.Mesh or a NamedSharding "
            f"(probkit.core.sharding.batch_sharding), got {type(sharding).__name__}"
        )
    entry = _batch_entry(sharding)
    if entry is None:
        raise ValueError(
            f"{name} splits no axis (spec {sharding.spec}); pass batch_sharding(mesh) or None"
        )
    if len([e for e in sharding.spec if e is not None]) > 1:
        raise ValueError(
            f"{name} splits more than one array axis (spec {sharding.spec}); probkit splits "
            "only the batch axis: name several mesh axes in one entry, P(('a', 'b'))"
        )
    return NamedSharding(sharding.mesh, PartitionSpec(entry))


def num_shards(sharding) -> int:
    """How many blocks the batch is split into (1 for None).

    Examples:
        >>> from probkit.core import sharding
        >>> mesh = sharding.batch_mesh()  # every device
        >>> sharding.num_shards(None), sharding.num_shards(mesh) == len(jax.devices())
        (1, True)
    """
    sharding = resolve(sharding)
    if sharding is None:
        return 1
    entry = _batch_entry(sharding)
    names = entry if isinstance(entry, tuple) else (entry,)
    return int(np.prod([sharding.mesh.shape[a] for a in names]))


def _spec_for(sharding: NamedSharding, leaf_ndim: int, axis: int) -> NamedSharding:
    spec = [None] * leaf_ndim
    spec[axis] = _batch_entry(sharding)
    return NamedSharding(sharding.mesh, PartitionSpec(*spec))


def constrain(tree, sharding: NamedSharding | None, *, axis: int = 0):
    """Inside `jit`: pin axis `axis` of every leaf to `sharding`'s batch axes; no-op when None.

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


def shard_batch(tree, mesh: Mesh | NamedSharding | None = None, *, axis: int = 0):
    """Outside `jit`: place every leaf with axis `axis` split over the mesh (default: all devices).

    Works across processes: each process passes the same full host array and keeps its blocks.
    The axis must divide evenly (use `pad` first otherwise).

    Examples:
        >>> from probkit.core import sharding
        >>> tree = sharding.shard_batch({"x": jnp.zeros((8, 3))})
        >>> tree["x"].shape, tuple(tree["x"].sharding.spec)
        ((8, 3), ('batch', None))
    """
    base = resolve(batch_mesh() if mesh is None else mesh, "mesh")

    def put(x):
        x = np.asarray(x)
        target = _spec_for(base, x.ndim, axis)
        return jax.make_array_from_callback(x.shape, target, lambda index: x[index])

    return jax.tree.map(put, tree)


def gather(tree):
    """NumPy copies of every leaf on every process (global arrays are all-gathered).

    Examples:
        >>> from probkit.core import sharding
        >>> out = sharding.gather({"x": sharding.shard_batch(jnp.arange(4.0))})
        >>> type(out["x"]).__name__, out["x"].tolist()
        ('ndarray', [0.0, 1.0, 2.0, 3.0])
    """

    def get(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            from jax.experimental import multihost_utils

            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(x)

    return jax.tree.map(get, tree)


def pad(tree, multiple: int, *, axis: int = 0):
    """Pad axis `axis` of every leaf to a multiple of `multiple` with copies of its first entry.

    Copies of a real problem (not zeros) keep the padding free of failures and NaN.

    Returns:
        `(padded_tree, size)` with `size` the original length, for `unpad`.

    Examples:
        >>> from probkit.core import sharding
        >>> padded, size = sharding.pad(jnp.array([1.0, 2.0, 3.0]), 4)  # (3,) -> (4,)
        >>> padded.tolist(), size
        ([1.0, 2.0, 3.0, 1.0], 3)
    """
    leaves = jax.tree.leaves(tree)
    if not leaves:
        raise ValueError("pad needs at least one array")
    size = jnp.shape(leaves[0])[axis]
    extra = -size % multiple

    def one(x):
        if x.shape[axis] != size:
            raise ValueError(f"batch axis lengths differ: {x.shape[axis]} != {size}")
        if extra == 0:
            return x
        first = jax.lax.slice_in_dim(x, 0, 1, axis=axis)
        reps = [1] * x.ndim
        reps[axis] = extra
        return jnp.concatenate([x, jnp.tile(first, reps)], axis=axis)

    return jax.tree.map(one, tree), size


def unpad(tree, size: int, *, axis: int = 0):
    """Undo `pad`: keep the first `size` entries of axis `axis` of every leaf.

    Examples:
        >>> from probkit.core import sharding
        >>> padded, size = sharding.pad({"a": jnp.ones((3, 2))}, 2)
        >>> padded["a"].shape, sharding.unpad(padded, size)["a"].shape
        ((4, 2), (3, 2))
    """
    return jax.tree.map(lambda x: jax.lax.slice_in_dim(x, 0, size, axis=axis), tree)


def shard_blocks(fn: Callable, sharding, *, in_axes: int | tuple = 0) -> Callable:
    """Apply `fn`, a function of a whole batch, to each device's block of it (`jax.shard_map`).

    `fn` must treat the problems of its batch independently (its output for a problem depends
    on that problem alone), e.g. `jax.vmap(g)` or a chunked loop over the batch; then the result
    is `fn(*args)`. The batch is padded to a multiple of the device count with copies of its
    first problem and cut back. Traceable: call it inside or outside `jit`.

    Args:
        fn: a function of batched arrays (leading batch axis) returning batched arrays.
        sharding: None (then `fn` itself is returned), a `Mesh` or a `NamedSharding`.
        in_axes: 0 (every positional argument is batched along its leading axis) or a tuple
            with one entry per positional argument, 0 (batched) or None (shared, replicated).

    Examples:
        >>> from probkit.core import sharding
        >>> f = sharding.shard_blocks(lambda x: 2.0 * x, sharding.batch_mesh())  # x (B, ...)
        >>> f(jnp.arange(5.0)).tolist()  # B = 5 need not divide the device count
        [0.0, 2.0, 4.0, 6.0, 8.0]
    """
    sharding = resolve(sharding)
    if sharding is None:
        return fn
    if not (in_axes == 0 or isinstance(in_axes, tuple)):
        raise ValueError(f"in_axes must be 0 or a tuple of 0/None per argument, got {in_axes!r}")
    if isinstance(in_axes, tuple) and any(a not in (0, None) for a in in_axes):
        raise ValueError(f"in_axes entries must be 0 or None, got {in_axes!r}")
    k = num_shards(sharding)
    batched_spec = PartitionSpec(_batch_entry(sharding))
    compiled = {}  # one jitted program per argument count (eager calls reuse it)

    def run(*args):
        axes = (0,) * len(args) if in_axes == 0 else in_axes
        if len(axes) != len(args):
            raise ValueError(f"in_axes has {len(axes)} entries for {len(args)} arguments")
        batched = [a for a, ax in zip(args, axes, strict=True) if ax == 0]
        if not jax.tree.leaves(batched):
            raise ValueError("shard_blocks needs at least one batched argument")
        if axes not in compiled:
            specs = tuple(batched_spec if ax == 0 else PartitionSpec() for ax in axes)
            compiled[axes] = jax.jit(
                jax.shard_map(
                    fn, mesh=sharding.mesh, in_specs=specs, out_specs=batched_spec, check_vma=False
                )
            )
        padded, size = pad(batched, k)
        it = iter(padded)
        full = tuple(next(it) if ax == 0 else a for a, ax in zip(args, axes, strict=True))
        out = compiled[axes](*full)
        return out if size % k == 0 else unpad(out, size)

    return run


def shard_vmap(fn: Callable, sharding, *, in_axes: int | tuple = 0) -> Callable:
    """`jax.vmap(fn, in_axes)` with the batch split over `sharding`'s devices (`jax.shard_map`).

    For a batch of independent problems: each device runs `vmap(fn)` on its block, with no
    communication (one loop per device: a device stops when its own problems have converged),
    and the results are the unsharded ones. Padding as in `shard_blocks`.

    Args:
        fn: the function of one problem.
        sharding: None (then this is `jax.vmap`), a `Mesh` or a `NamedSharding` (see `resolve`).
        in_axes: 0 or a tuple of 0 (batched) / None (shared) per positional argument.

    Returns:
        A function of the same arguments whose outputs have the batch as leading axis.

    Examples:
        >>> from probkit.core import sharding
        >>> norm = sharding.shard_vmap(jnp.linalg.norm, sharding.batch_mesh())  # one problem: (d,)
        >>> norm(jnp.array([[3.0, 4.0], [6.0, 8.0]])).tolist()  # batch (B, d) -> (B,)
        [5.0, 10.0]
    """
    return shard_blocks(jax.vmap(fn, in_axes=in_axes), sharding, in_axes=in_axes)
