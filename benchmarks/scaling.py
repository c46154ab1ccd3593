"""Strong and weak scaling of the particle filter over devices (forced host devices on CPU).

The particle axis is sharded over meshes of 1, 2, ... devices (`core.sharding.batch_sharding`).
On a CPU machine the devices are XLA's forced host devices (`--xla_force_host_platform_device_
count`, set below before JAX starts unless XLA_FLAGS already sets it), one per core: a count
above the core count measures nothing but contention, so the default is the machine's cores
(capped at 8). On a GPU machine the devices are the GPUs present.

- weak scaling: N = 1e5 particles per device (acceptance of issue 19: throughput per device
  within 20% of one device);
- strong scaling: N = 2e5 in total, split over the devices;
for global resampling and for the island filter (one island per device, exchange every 10
steps). Stochastic volatility (mu -0.7, rho 0.9, sigma 0.3), T = 100, ESS-triggered systematic
resampling (threshold 0.5), float32, no history. Times are medians of interleaved repeats after
a warm-up; compile excluded. Throughput = particle-steps per second.

    python -m benchmarks.scaling [--quick] [--devices 1,2]
"""

import os

if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    _cores = min(os.cpu_count() or 1, 8)
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={_cores}"
    ).strip()

import argparse
import resource
import statistics
import time

import jax

from benchmarks.common import (
    machine,
    md_table,
    versions,
    write_fragment,
)
from probkit import smc, ssm
from probkit.core import sharding

AREA = "scaling"
T = 100
PER_DEVICE = 100_000
STRONG_TOTAL = 200_000


def _runner(model, params, ys, n, devices, scope):
    sh = sharding.batch_sharding(sharding.batch_mesh(jax.devices()[:devices]))
    extra = {} if scope == "global" else dict(resampling_scope="island", exchange_every=10)
    seeds = iter(range(1, 1_000_000))

    def run():
        return smc.particle_filter(
            jax.random.key(next(seeds)), model, params, ys, n, history=False, sharding=sh,
            **extra,
        ).log_likelihood  # fmt: skip

    return run


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed_rounds(fns, repeats):
    """Median wall and CPU seconds (this process, all threads) of each `fn()`, interleaved.

    CPU time is immune to other processes on the machine: d devices doing the work of one
    with no overhead use d times one device's CPU time for d times the particles (weak) and
    the same CPU time (strong), whatever the load.
    """
    for fn in fns:
        jax.block_until_ready(fn())
    wall, cpu = [[] for _ in fns], [[] for _ in fns]
    for _ in range(repeats):
        for fn, w, c in zip(fns, wall, cpu):
            c0, t0 = _cpu_seconds(), time.perf_counter()
            jax.block_until_ready(fn())
            w.append(time.perf_counter() - t0)
            c.append(_cpu_seconds() - c0)
    return [statistics.median(w) for w in wall], [statistics.median(c) for c in cpu]


def measure(counts, per_device, strong_total, repeats, echo=print):
    model, params = ssm.stochastic_volatility(mu=-0.7, rho=0.9, sigma=0.3)
    _, ys = ssm.simulate(jax.random.key(0), model, params, T)
    rows = []
    for scope in ("global", "island"):
        for kind, sizes in (
            ("weak", [per_device * d for d in counts]),
            ("strong", [strong_total] * len(counts)),
        ):
            fns = [_runner(model, params, ys, n, d, scope) for n, d in zip(sizes, counts)]
            times, cpus = timed_rounds(fns, repeats)
            for d, n, t, c in zip(counts, sizes, times, cpus):
                per_dev = n * T / t / d
                ratio = per_dev / (sizes[0] * T / times[0]) if kind == "weak" else times[0] / t
                # CPU-time efficiency: one device's CPU seconds per particle-step over these.
                eff = (cpus[0] / sizes[0]) / (c / n)
                rows.append(
                    [scope, kind, d, n, t * 1e3, n * T / t / 1e6, per_dev / 1e6, ratio, c, eff]
                )
                echo(rows[-1])
    return rows


def main(quick: bool = False, devices: str | None = None) -> str:
    avail = len(jax.devices())
    counts = [int(c) for c in devices.split(",")] if devices else None
    if counts is None:
        counts = [d for d in (1, 2, 4, 8) if d <= avail]
    if max(counts) > avail:
        raise SystemExit(f"asked for {max(counts)} devices, {avail} available")
    per_device = 10_000 if quick else PER_DEVICE
    strong = 20_000 if quick else STRONG_TOTAL
    load0 = os.getloadavg()[0]
    rows = measure(counts, per_device, strong, 3 if quick else 5)
    load = f"{load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    dev = jax.devices()[0]
    text = "\n".join(
        [
            "## Scaling of the particle filter over devices",
            "",
            f"Machine: {machine()}. {versions()}.",
            f"Devices: {len(counts)} meshes of {counts} {dev.platform} devices"
            + (
                " (XLA forced host devices, one per core; other processes shared the cores, "
                "so the multi-device rows are lower bounds)"
                if dev.platform == "cpu"
                else ""
            )
            + f". Load average (1 min): {load}. GPU: not measured (no GPU in this run).",
            "",
            f"Stochastic volatility (mu -0.7, rho 0.9, sigma 0.3), T = {T}, float32, systematic "
            "resampling at ESS < N/2, no history; island scope: one island per device, "
            "exchange every 10 steps. Weak: N = "
            f"{per_device:,} per device, ratio = throughput per device / one device's "
            "(acceptance >= 0.8). Strong: N = "
            f"{strong:,} in total, ratio = speed-up over one device. CPU efficiency = one "
            "device's CPU seconds per particle-step / this row's (1 = no sharding overhead; "
            "unlike wall time it does not depend on other processes' load). Median of "
            "interleaved repeats, compile excluded.",
            "",
            md_table(
                [
                    "resampling",
                    "scaling",
                    "devices",
                    "N",
                    "ms / run",
                    "M particle-steps/s",
                    "per device",
                    "ratio",
                    "CPU s / run",
                    "CPU efficiency",
                ],
                rows,
            ),
        ]
    )
    write_fragment(AREA, text)
    print(text)
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a dry run)")
    parser.add_argument(
        "--devices",
        default=None,
        help="comma-separated device counts (default: 1, 2, 4, 8 up to those available)",
    )
    args = parser.parse_args()
    main(args.quick, args.devices)
