"""core.sharding: the `sharding=` argument, padding, shard_vmap; and every module's batched entry
point sharded over 1, 2, 4 and 8 forced host devices against its unsharded run."""

import json
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec

from probkit import bridges, dag, gpdp, sem, walks
from probkit.core import distributed, sharding

SCRIPT = pathlib.Path(__file__).with_name("sharded_modules.py")
ROOT = pathlib.Path(__file__).parents[2]


def test_resolve_gives_one_meaning_to_every_form():
    mesh = sharding.batch_mesh()
    assert sharding.resolve(None) is None
    from_mesh = sharding.resolve(mesh)
    assert from_mesh.spec == PartitionSpec("batch") and from_mesh.mesh == mesh
    assert sharding.resolve(sharding.batch_sharding(mesh)) == from_mesh
    # a 2-D sharding of the batch axis is read as its batch entry
    assert sharding.resolve(NamedSharding(mesh, PartitionSpec("batch", None))) == from_mesh
    assert sharding.num_shards(None) == 1
    assert sharding.num_shards(mesh) == len(jax.devices())


def test_bad_sharding_arguments_are_clear_errors():
    mesh = sharding.batch_mesh()
    with pytest.raises(TypeError, match="sharding must be None, a jax.sharding.Mesh"):
        sharding.resolve("gpu")
    with pytest.raises(ValueError, match="splits no axis"):
        sharding.resolve(NamedSharding(mesh, PartitionSpec()))
    two = jax.sharding.Mesh(np.asarray(jax.devices()).reshape(-1, 1), ("a", "b"))
    with pytest.raises(ValueError, match="more than one array axis"):
        sharding.resolve(NamedSharding(two, PartitionSpec("a", "b")))
    with pytest.raises(ValueError, match="in_axes entries must be 0 or None"):
        sharding.shard_vmap(lambda x: x, mesh, in_axes=(1,))
    with pytest.raises(ValueError, match="cpu_collectives"):
        distributed.initialize(cpu_collectives="nccl")


def test_every_batched_entry_point_validates_sharding():
    """A wrong `sharding=` is refused before anything is traced, naming the argument."""
    g = walks.from_networkx(nx.path_graph(4))
    Fs = jnp.full((2, 1, 3, 3), 1 / 3)
    mg = sem.MixedGraph(2, directed=[(0, 1)])
    lam = jnp.zeros((1, 2, 2)).at[:, 0, 1].set(0.5)
    calls = [
        lambda: walks.srrw(jax.random.key(0), g, 5, alpha=1.0, sharding="gpu"),
        lambda: walks.hdt(jax.random.key(0), g, 5, alpha=1.0, sharding="gpu"),
        lambda: gpdp.solve_sdp_batch(Fs, jnp.ones((1, 3)), 0.9, sharding="gpu"),
        lambda: gpdp.simulate_tables(
            jax.random.key(0),
            "ricker",
            {"r": 1.0, "K": 1.0, "sigma": 0.1},
            0.5,
            jnp.zeros((1, 3)),
            jnp.linspace(0, 1, 3),
            3,
            2,
            sharding="gpu",
        ),
        lambda: bridges.batched_sinkhorn(
            jnp.ones((1, 2)) / 2, jnp.ones((1, 2)) / 2, jnp.ones((1, 2, 2)), 1.0, sharding="gpu"
        ),
        lambda: sem.batch_covariance(mg, lam, jnp.eye(2)[None], sharding="gpu"),
        lambda: dag.colide(np.random.default_rng(0).normal(size=(2, 10, 3)), sharding="gpu"),
    ]
    for call in calls:
        with pytest.raises(TypeError, match="sharding must be"):
            call()


def test_pad_repeats_the_first_problem_and_unpad_cuts_back():
    tree = {"x": jnp.arange(5.0), "y": jnp.arange(10.0).reshape(5, 2)}
    padded, size = sharding.pad(tree, 4)
    assert size == 5 and padded["x"].shape == (8,) and padded["y"].shape == (8, 2)
    np.testing.assert_array_equal(padded["x"][5:], 0.0)
    np.testing.assert_array_equal(padded["y"][5:], [[0.0, 1.0]] * 3)
    back = sharding.unpad(padded, size)
    np.testing.assert_array_equal(back["y"], tree["y"])
    same, _ = sharding.pad(tree, 5)
    assert same["x"] is tree["x"]  # already a multiple: untouched
    with pytest.raises(ValueError, match="batch axis lengths differ"):
        sharding.pad({"x": jnp.zeros(3), "y": jnp.zeros(4)}, 2)


def test_shard_batch_places_host_arrays_on_the_mesh():
    placed = sharding.shard_batch({"x": np.arange(6.0).reshape(3, 2)}, sharding.batch_mesh())
    assert placed["x"].sharding.spec == PartitionSpec("batch", None)
    np.testing.assert_array_equal(sharding.gather(placed)["x"], np.arange(6.0).reshape(3, 2))


def test_shard_vmap_on_one_device_is_vmap():
    def f(x, c):  # a per-problem while loop: each problem stops on its own
        return jax.lax.while_loop(lambda s: s[1] < x * 10, lambda s: (s[0] + c, s[1] + 1), (c, 0.0))

    x = jnp.array([1.0, 2.5, 0.3])
    want = jax.vmap(f, in_axes=(0, None))(x, 0.5)
    got = sharding.shard_vmap(f, sharding.batch_mesh(), in_axes=(0, None))(x, 0.5)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(w, g)
    assert sharding.shard_vmap(f, None, in_axes=(0, None))(x, 0.5)[1].shape == (3,)
    np.testing.assert_array_equal(sharding.gather({"a": got[1]})["a"], np.asarray(want[1]))


@pytest.fixture(scope="module")
def forced_devices():
    """One subprocess with 8 host devices runs every module's sweep (compiles dominate)."""
    env = dict(
        os.environ,
        XLA_FLAGS="--xla_force_host_platform_device_count=8",
        JAX_PLATFORMS="cpu",
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    out = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


MODULES = [
    "walks",
    "gpdp.solve_sdp_batch",
    "gpdp.simulate_tables",
    "bridges.batched_sinkhorn",
    "sem.batch_covariance[inverse]",
    "sem.batch_covariance[one-connection]",
    "causal.shard_vmap",
]  # dag.colide: tests/test_multihost.py (4 devices over 2 processes)


@pytest.mark.parametrize("entry", MODULES)
def test_sharded_equals_unsharded_on_1_2_4_8_devices(forced_devices, entry):
    """Same key and data: the same answer on every mesh size, in float64.

    Random draws do not depend on the sharding and every problem (walker, run, draw) is
    computed alone, so discrete outputs (counts, policies, adjacency, iterations, failure
    flags) are equal. Floating-point outputs come from programs compiled for another block
    size, which may round differently in the last place: a few ulps, ~1e-15 relative, grown
    over the iterations; 1e-12 relative leaves room for that and none for a wrong answer."""
    res = forced_devices[entry]
    meshes = [k for k in res if k.isdigit()]
    assert meshes == ["1", "2", "4", "8"]
    for k in meshes:
        r = res[k]
        assert r["discrete_equal"], (entry, k, r)
        assert r["max_abs"] <= 1e-12 * max(1.0, r["scale"]), (entry, k, r)
        assert r["sharded"], (entry, k, r)
