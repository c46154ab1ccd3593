"""Two JAX processes on loopback (gloo collectives over TCP), two CPU devices each: a particle
filter, an SRRW walker batch and a batch of CoLiDE fits sharded over all four devices give the
single-process answers (float64)."""

import importlib.util
import os
import pathlib

import jax
import numpy as np
import pytest

from probkit.core import distributed

WORKER = pathlib.Path(__file__).with_name("multihost_worker.py")
ROOT = pathlib.Path(__file__).parents[1]
# Messages of a jaxlib built without cross-process CPU collectives (the one reason to skip).
NO_COLLECTIVES = ("make_gloo_tcp_collectives", "collectives are not supported", "UNIMPLEMENTED")


def _worker_module():
    spec = importlib.util.spec_from_file_location("multihost_worker", WORKER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_two_processes_match_one(tmp_path):
    out = tmp_path / "sharded.npz"
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    procs = distributed.launch_local(
        [str(WORKER), str(out)], num_processes=2, cpu_devices=2, timeout=900, env=env
    )
    errors = "\n".join(p.stderr[-3000:] for p in procs)
    if any(p.returncode != 0 for p in procs) and any(m in errors for m in NO_COLLECTIVES):
        pytest.skip(f"this jaxlib cannot run CPU collectives across processes:\n{errors[-500:]}")
    assert all(p.returncode == 0 for p in procs), errors
    # every process saw 2 processes, 4 global and 2 local devices, and sharded outputs
    lines = [[ln for ln in p.stdout.splitlines() if ln.startswith("RESULT")] for p in procs]
    assert [len(ln) for ln in lines] == [1, 1], [p.stdout for p in procs]
    for i, (line,) in enumerate(lines):
        assert line.split()[1:] == [str(i), "2", "4", "2", "True"], line
    got = dict(np.load(out))

    with jax.enable_x64(True):
        want = _worker_module().compute(None)  # one process, one device, unsharded
    want.pop("split")
    assert set(got) == set(want)
    # The particle filter's sharded log-sum-exp and cumulative sums add in another order: the
    # same particle system up to rounding (a flipped resampling index would show as O(1)).
    np.testing.assert_allclose(got["pf_log_likelihood"], want["pf_log_likelihood"], rtol=1e-12)
    np.testing.assert_allclose(got["pf_particles"], want["pf_particles"], rtol=1e-10, atol=1e-12)
    # Walkers and DAG fits are independent problems: the same draws, the same walks and graphs.
    np.testing.assert_array_equal(got["srrw_counts"], want["srrw_counts"])
    np.testing.assert_array_equal(got["srrw_positions"], want["srrw_positions"])
    np.testing.assert_array_equal(got["dag_adjacency"], want["dag_adjacency"])
    for name in ("dag_weights", "dag_noise_scale"):  # other block size: last-place rounding
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-12)
