"""Several processes (hosts, or one process per GPU) on `jax.distributed`.

probkit needs no engine of its own to run on many hosts: JAX's multi-controller model runs the
same Python program in every process, `jax.distributed.initialize` connects them, and
`jax.devices()` then lists the devices of every process. A `sharding=` built from that global
list (`probkit.core.sharding.batch_sharding()`) splits the batch over all hosts; XLA places the
collectives (NCCL on GPUs, gloo over TCP on CPUs).

Launch recipe (every process runs the same script):

    from probkit.core import distributed
    distributed.initialize()        # first: before any JAX call or other probkit import
    from probkit import smc
    from probkit.core import sharding
    res = smc.particle_filter(key, model, params, ys, 2**20, sharding=sharding.batch_sharding())
    ll = float(res.log_likelihood)  # replicated scalars read directly on every process
    xs = sharding.gather(res.particles)  # sharded arrays: all-gathered to NumPy everywhere

- SLURM / Open MPI / Cloud TPU: `initialize()` with no arguments (JAX detects the cluster),
  e.g. `srun --nodes=2 --ntasks-per-node=4 --gpus-per-task=1 python run.py`.
- Any other cluster: `initialize("host0:1234", num_processes=P, process_id=i)` in process i,
  with host0 reachable from every process (process 0 serves the coordinator on that port).
- One machine, several CPU processes (tests, or to try a script): `launch_local` starts them on
  loopback with gloo collectives; `initialize()` in each picks up its id from the environment.

Rules of the multi-controller model: every process calls the same sharded functions in the
same order with the same arguments (host data is treated as replicated); keys are the same on
every process (do not fold in `jax.process_index()` unless you want different streams); only
process 0 should write files.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

import jax

from probkit.core import validate

__all__ = ["free_port", "initialize", "launch_local"]

ENV_COORDINATOR = "PROBKIT_COORDINATOR"
ENV_NUM_PROCESSES = "PROBKIT_NUM_PROCESSES"
ENV_PROCESS_ID = "PROBKIT_PROCESS_ID"
ENV_CPU_DEVICES = "PROBKIT_CPU_DEVICES"


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    cpu_devices: int | None = None,
    cpu_collectives: str = "gloo",
    timeout: int = 120,
) -> None:
    """`jax.distributed.initialize`, with `launch_local`'s environment as defaults.

    Call it first, before any JAX computation, and import probkit's other modules after it
    (they import blackjax, which starts JAX's backend; `from probkit.core import distributed`
    starts nothing). Arguments left None are read from the
    `PROBKIT_*` variables that `launch_local` sets; where those are absent too, JAX's cluster
    detection (SLURM, Open MPI, TPU) fills them in.

    Args:
        coordinator_address: "host:port" of process 0's coordinator service.
        num_processes: P, the number of processes.
        process_id: this process's index in 0..P-1.
        cpu_devices: on CPU, the number of local devices per process (`jax_num_cpu_devices`).
        cpu_collectives: cross-process collectives on CPU: "gloo" (TCP) or "mpi".
        timeout: seconds to wait for every process to connect.

    Examples:
        >>> from probkit.core import distributed
        >>> # in each process of a job, before any other JAX work (SLURM fills the arguments in):
        >>> distributed.initialize()  # doctest: +SKIP
    """
    env = os.environ
    coordinator_address = coordinator_address or env.get(ENV_COORDINATOR)
    if num_processes is None and ENV_NUM_PROCESSES in env:
        num_processes = int(env[ENV_NUM_PROCESSES])
    if process_id is None and ENV_PROCESS_ID in env:
        process_id = int(env[ENV_PROCESS_ID])
    if cpu_devices is None and ENV_CPU_DEVICES in env:
        cpu_devices = int(env[ENV_CPU_DEVICES])
    validate.one_of("cpu_collectives", cpu_collectives, ("gloo", "mpi"))
    if cpu_devices is not None:
        jax.config.update("jax_num_cpu_devices", validate.positive_int("cpu_devices", cpu_devices))
    jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
        initialization_timeout=validate.positive_int("timeout", timeout),
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now (for the coordinator).

    Examples:
        >>> from probkit.core import distributed
        >>> 0 < distributed.free_port() < 65536
        True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def launch_local(
    args: Sequence[str],
    num_processes: int = 2,
    *,
    cpu_devices: int = 1,
    timeout: float = 300.0,
    env: dict | None = None,
) -> list[subprocess.CompletedProcess]:
    """Run `python *args` as `num_processes` JAX processes on CPU, connected on loopback.

    Each process gets `PROBKIT_COORDINATOR` (127.0.0.1 and a free port), `PROBKIT_NUM_PROCESSES`,
    `PROBKIT_PROCESS_ID` and `PROBKIT_CPU_DEVICES`, and `JAX_PLATFORMS=cpu`; the script calls
    `initialize()` first. When one process fails the others are stopped (they would wait for
    it in a collective), and all are stopped after `timeout` seconds.

    Returns:
        One `CompletedProcess` per process, in process order (returncode -9 for one stopped).

    Examples:
        >>> import sys
        >>> from probkit.core import distributed
        >>> script = "import sys; print(sys.argv[1])"
        >>> runs = distributed.launch_local(["-c", script, "hello"], num_processes=2)
        >>> [(r.returncode, r.stdout.strip()) for r in runs]
        [(0, 'hello'), (0, 'hello')]
    """
    num_processes = validate.positive_int("num_processes", num_processes)
    cpu_devices = validate.positive_int("cpu_devices", cpu_devices)
    base = dict(os.environ if env is None else env)
    base.pop("XLA_FLAGS", None)  # forced host devices would override cpu_devices
    base.update(
        {
            ENV_COORDINATOR: f"127.0.0.1:{free_port()}",
            ENV_NUM_PROCESSES: str(num_processes),
            ENV_CPU_DEVICES: str(cpu_devices),
            "JAX_PLATFORMS": "cpu",
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        procs, files = [], []
        for i in range(num_processes):
            out = open(os.path.join(tmp, f"{i}.out"), "w+")  # closed below
            err = open(os.path.join(tmp, f"{i}.err"), "w+")
            files.append((out, err))
            procs.append(
                subprocess.Popen(
                    [sys.executable, *args],
                    env={**base, ENV_PROCESS_ID: str(i)},
                    stdout=out,
                    stderr=err,
                    text=True,
                )
            )
        deadline = time.monotonic() + timeout
        try:
            while any(p.poll() is None for p in procs):
                failed = any(p.returncode not in (None, 0) for p in procs)
                if failed or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        results = []
        for p, (out, err) in zip(procs, files, strict=True):
            out.seek(0)
            err.seek(0)
            results.append(
                subprocess.CompletedProcess(p.args, p.returncode, out.read(), err.read())
            )
            out.close()
            err.close()
    return results
