"""Shared benchmark plumbing: timing, machine description, result fragments.

Each area script `benchmarks/<area>.py` defines `main(quick: bool = False) -> str` returning a
markdown section, writes it with `write_fragment(area, text)` into `benchmarks/results/<area>.md`,
and prints it. `python -m benchmarks.run_all` runs every area (each in its own process) and
assembles `benchmarks/RESULTS.md` from the fragments under a header naming machine, device and
versions. Timings never go into unit tests.

Device runs (`python -m benchmarks.run_all --device`, `make bench-gpu`, `probkit bench
--device`) set PROBKIT_BENCH_DEVICE=1 for every area: each row of `md_table` then ends with a
device column (`device_tag()`, e.g. "gpu: NVIDIA H100 80GB HBM3 x1"), and off CPU the fragment
goes to `results/<area>@<platform>.md`, beside the CPU fragment instead of over it.
"""

import importlib.metadata
import os
import pathlib
import platform
import statistics
import time

import jax

from probkit.core import prng

# Benchmarks own their process: take the faster CPU threefry lowering (same bits; opt-in,
# process-wide, see probkit.core.prng). Set PROBKIT_ROLLED_THREEFRY=1 to time JAX's default.
if os.environ.get("PROBKIT_ROLLED_THREEFRY", "") in ("", "0"):
    prng.use_unrolled_threefry_on_cpu(True)

RESULTS_DIR = pathlib.Path(__file__).resolve().parent / "results"

__all__ = [
    "device_mode",
    "device_tag",
    "interleaved_medians",
    "machine",
    "md_table",
    "median_time",
    "timed",
    "versions",
    "write_fragment",
]


def timed(fn, *args, **kwargs):
    """(result, seconds) with `jax.block_until_ready` on the result."""
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args, **kwargs))
    return out, time.perf_counter() - start


def median_time(fn, *, repeats: int = 5, warmup: int = 1) -> tuple[float, list[float]]:
    """Median wall time of `fn()` over `repeats` runs after `warmup` runs (compile excluded)."""
    for _ in range(warmup):
        jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def interleaved_medians(fns, *, repeats: int = 15, warmup: int = 1) -> list[float]:
    """Median wall time of each `fn()`, timed in turn round by round.

    For ratios between fast programs on a shared machine: a disturbance hits every program of
    a round alike instead of one program's whole series.
    """
    for _ in range(warmup):
        for fn in fns:
            jax.block_until_ready(fn())
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            start = time.perf_counter()
            jax.block_until_ready(fn())
            ts.append(time.perf_counter() - start)
    return [statistics.median(ts) for ts in times]


def _cpu_name() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu


def machine() -> str:
    dev = jax.devices()[0]
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({_cpu_name()}); "
        f"JAX device: {dev.platform} ({getattr(dev, 'device_kind', dev)})"
    )


def versions(*packages: str) -> str:
    out = [f"python {platform.python_version()}"]
    for p in ("jax", "jaxlib", "numpy", *packages):
        try:
            out.append(f"{p} {importlib.metadata.version(p)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{p} (not installed)")
    return ", ".join(out)


def device_mode() -> bool:
    """True in a device run (PROBKIT_BENCH_DEVICE=1): rows are tagged with the device."""
    return os.environ.get("PROBKIT_BENCH_DEVICE", "") not in ("", "0")


def device_tag() -> str:
    """The default device, e.g. "cpu: x86_64 x2" or "gpu: NVIDIA H100 80GB HBM3 x1"."""
    devs = jax.devices()
    kind = _cpu_name() if devs[0].platform == "cpu" else getattr(devs[0], "device_kind", "")
    return f"{devs[0].platform}: {kind} x{len(devs)}"


def write_fragment(area: str, text: str) -> pathlib.Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    name = area
    if device_mode():
        text = f"_Device run on {device_tag()}._\n\n{text.strip()}"
        if jax.default_backend() != "cpu":
            name = f"{area}@{jax.default_backend()}"
    path = RESULTS_DIR / f"{name}.md"
    path.write_text(text.rstrip() + "\n")
    return path


def md_table(headers: list[str], rows: list[list]) -> str:
    """A markdown table; in a device run every row ends with the device (`device_tag`)."""
    if device_mode():
        headers = [*headers, "device"]
        rows = [[*row, device_tag()] for row in rows]

    def fmt(x):
        if isinstance(x, float):
            return f"{x:.4g}"
        return str(x)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
