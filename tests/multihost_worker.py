"""One process of tests/test_multihost.py: a particle filter, an SRRW walker batch and a batch of
CoLiDE fits, sharded over the devices of every process (float64).

Run as `python multihost_worker.py OUT.npz` by `probkit.core.distributed.launch_local`; process 0
writes the gathered results to OUT.npz. The test imports `compute` and runs it unsharded in one
process for the reference.
"""

# Nothing here may run a JAX computation before `distributed.initialize()`: probkit's modules are
# imported inside `compute` (`import jax` alone starts no backend).
import sys

import jax
import numpy as np

DAG_OPTIONS = dict(num_stages=2, warm_iter=200, max_iter=400, checkpoint=100, lr=3e-3)


def compute(sharding) -> dict:
    """The three batched computations; NumPy results (gathered on every process)."""
    import jax.numpy as jnp
    import networkx as nx

    from probkit import dag, smc, ssm, walks
    from probkit.core import sharding as sharding_mod

    model, params = ssm.linear_gaussian(
        jnp.array([[0.9, 0.1], [0.0, 0.8]]), 0.5 * jnp.eye(2), jnp.eye(2), 0.3 * jnp.eye(2),
        jnp.zeros(2), jnp.eye(2),
    )  # fmt: skip
    _, ys = ssm.simulate(jax.random.key(0), model, params, 30)
    pf = smc.particle_filter(
        jax.random.key(1), model, params, ys, 512, history=False, sharding=sharding
    )
    g = walks.from_networkx(nx.karate_club_graph())
    rw = walks.srrw(jax.random.key(2), g, 100, alpha=2.0, num_walkers=32, sharding=sharding)
    keys = jax.random.split(jax.random.key(3), 4)
    X = jnp.stack([dag.simulate_problem(k, 4, 4, 60).X for k in keys])
    fit = dag.colide(X, "ev", sharding=sharding, **DAG_OPTIONS)
    out = {
        "pf_log_likelihood": pf.log_likelihood,
        "pf_particles": pf.particles,
        "srrw_counts": rw.counts,
        "srrw_positions": rw.positions,
        "dag_weights": fit.weights,
        "dag_adjacency": fit.adjacency,
        "dag_noise_scale": fit.noise_scale,
    }
    split = {k: not v.sharding.is_fully_replicated for k, v in out.items() if v.ndim}
    return sharding_mod.gather(out) | {"split": split}


if __name__ == "__main__":
    from probkit.core import distributed, sharding

    distributed.initialize()  # ids, coordinator and CPU devices from launch_local's environment
    jax.config.update("jax_enable_x64", True)
    res = compute(sharding.batch_sharding())  # over every process's devices
    print(
        "RESULT",
        jax.process_index(),
        jax.process_count(),
        len(jax.devices()),
        len(jax.local_devices()),
        all(res.pop("split").values()),
    )  # fmt: skip (gloo writes its own lines to stdout too)
    if jax.process_index() == 0:
        np.savez(sys.argv[1], **res)
