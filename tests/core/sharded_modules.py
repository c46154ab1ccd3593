"""Each module's batched entry point, unsharded and sharded over 1, 2, 4 and 8 host devices.

DAG fits are not here: their solver is by far the costliest program to compile, and
tests/test_multihost.py already fits a batch of them over 4 devices (2 processes, blocks of one
problem) against the unsharded fit.

Run by tests/core/test_sharding.py in a subprocess with 8 forced CPU devices, in float64; prints
one JSON object {module: {mesh size: comparison}}, the comparison holding the largest absolute
difference of the floating-point outputs (`max_abs`), whether every discrete output (policies,
adjacency, iteration counts, failure flags) is equal (`discrete_equal`), the largest reference
magnitude (`scale`), and `sharded`: whether the output was split over the devices.
"""

import json
import sys
import time

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

jax.config.update("jax_enable_x64", True)

from probkit import bridges, causal, gpdp, sem, walks  # noqa: E402
from probkit.core import sharding  # noqa: E402

MESHES = (1, 2, 4, 8)


def compare(ref, got, discrete):
    """max |ref - got| over the float leaves; equality of the named discrete leaves."""
    ref, got = sharding.gather(ref), sharding.gather(got)
    out = {"max_abs": 0.0, "scale": 0.0, "discrete_equal": True}
    for name in ref._fields:
        for r, g in zip(jax.tree.leaves(getattr(ref, name)), jax.tree.leaves(getattr(got, name))):
            r, g = np.asarray(r), np.asarray(g)
            assert r.shape == g.shape, (name, r.shape, g.shape)
            if name in discrete or r.dtype.kind in "biu":
                out["discrete_equal"] &= bool(np.array_equal(r, g))
            else:
                same_nan = np.isnan(r) == np.isnan(g)
                out["discrete_equal"] &= bool(same_nan.all())
                ok = ~np.isnan(r)
                if ok.any():
                    out["max_abs"] = max(out["max_abs"], float(np.max(np.abs(r[ok] - g[ok]))))
                    out["scale"] = max(out["scale"], float(np.max(np.abs(r[ok]))))
    return out


def is_split(tree):
    """Some output array is split over several devices."""
    return any(
        len(x.sharding.device_set) > 1 and not x.sharding.is_fully_replicated
        for x in jax.tree.leaves(tree)
    )


def sweep(run, batch, discrete=(), meshes=MESHES):
    """run(sharding) -> result; compared with run(None) at each mesh size (batch: its size)."""
    t, c = time.perf_counter(), time.process_time()
    ref = run(None)
    res = {}
    for k in meshes:
        got = run(sharding.batch_sharding(sharding.batch_mesh(jax.devices()[:k])))
        # An uneven batch is cut back after the blocks are computed (the result is then
        # replicated), so only results whose batch divides evenly must stay split.
        split = k == 1 or batch % k != 0 or is_split(got)
        res[k] = compare(ref, got, discrete) | {"sharded": split}
    res["seconds"] = time.perf_counter() - t
    res["cpu_seconds"] = time.process_time() - c
    return res


def main():
    assert len(jax.devices()) == 8, jax.devices()
    keys = jax.random.split(jax.random.key(0), 8)
    out = {}

    # walks: 36 walkers (not a multiple of 8: XLA splits them unevenly), constrained in the loop.
    g = walks.from_networkx(nx.karate_club_graph())

    def srrw(sh):
        return walks.srrw(keys[0], g, 100, alpha=2.0, num_walkers=36, sharding=sh)

    out["walks"] = sweep(srrw, 36)

    # gpdp: 6 Bellman problems (infinite horizon) and 3 policy tables x 20 runs.
    H, S = 3, 12
    Fs = jax.random.dirichlet(keys[1], jnp.ones(S), (6, H, S))
    reward = jax.random.uniform(keys[2], (H, S))

    def sdp(sh):
        return gpdp.solve_sdp_batch(Fs, reward, 0.9, sharding=sh)

    out["gpdp.solve_sdp_batch"] = sweep(sdp, 6, discrete=("policy",))
    grid = jnp.linspace(0.0, 1.5, S)
    tables = jax.random.uniform(keys[3], (3, S), maxval=0.3)

    def tables_run(sh):
        return gpdp.simulate_tables(
            keys[4], "ricker", {"r": 1.0, "K": 1.0, "sigma": 0.1}, 0.5, tables, grid, 15, 20,
            sharding=sh,
        )  # fmt: skip

    out["gpdp.simulate_tables"] = sweep(tables_run, 20)

    # bridges: 5 Sinkhorn problems.
    a = jax.random.dirichlet(keys[5], jnp.ones(6), (5,))
    b = jax.random.dirichlet(keys[6], jnp.ones(7), (5,))
    cost = jax.random.uniform(keys[7], (5, 6, 7))

    def sink(sh):  # a traceable building block: called inside jit, as the bridges do
        run = jax.jit(lambda *p: bridges.batched_sinkhorn(*p, 0.3, threshold=1e-10, sharding=sh))
        return run(a, b, cost)

    out["bridges.batched_sinkhorn"] = sweep(sink, 5)

    # sem: 20 draws on a cyclic mixed graph, both methods.
    mg = sem.MixedGraph(4, directed=[(0, 1), (1, 2), (2, 3), (3, 1)], bidirected=[(0, 2)])
    lams, omegas = jax.vmap(lambda k: sem.random_parameters(k, mg))(jax.random.split(keys[0], 20))
    for method in sem.model.METHODS:

        def cov(sh, method=method):
            return sem.batch_covariance(mg, lams, omegas, method, batch_size=4, sharding=sh)

        out[f"sem.batch_covariance[{method}]"] = sweep(cov, 20)

    # causal: a front-door query over 12 prior draws of the CPTs, by core.sharding.shard_vmap.
    cg = nx.DiGraph([("H", "S"), ("H", "C"), ("S", "T"), ("T", "C")])
    draws = causal.random_cpts(keys[1], cg, 2, batch_shape=(12,))

    def query(cpts):
        m = causal.CausalModel(cg, cpts, 2, latent=["H"])
        return m.query(["C"], do={"S": 1}).table

    def effect(sh):
        return sharding.shard_vmap(query, sh)(draws)

    out["causal.shard_vmap"] = sweep(lambda sh: _Tables(effect(sh)), 12)

    json.dump(out, sys.stdout)


class _Tables(tuple):
    """A one-field result, so that `compare` can read `_fields`."""

    _fields = ("table",)

    def __new__(cls, table):
        return super().__new__(cls, (table,))

    @property
    def table(self):
        return self[0]


if __name__ == "__main__":
    main()
