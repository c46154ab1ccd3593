"""Run benchmark areas (each in its own process) and assemble benchmarks/RESULTS.md.

python -m benchmarks.run_all              # every area
python -m benchmarks.run_all smc dag      # some areas
python -m benchmarks.run_all --assemble   # only rebuild RESULTS.md from the fragments
python -m benchmarks.run_all --device     # every area on the default device, rows tagged with it

A device run (`make bench-gpu`, `probkit bench --device`) runs the areas on whatever device JAX
finds first (a GPU where one is present), tags every table row with that device, and writes
non-CPU fragments beside the CPU ones (`results/<area>@gpu.md`; see `benchmarks.common`).
"""

import datetime
import os
import pathlib
import subprocess
import sys

from benchmarks.common import RESULTS_DIR, machine, versions

HERE = pathlib.Path(__file__).resolve().parent
SKIP = {"__init__", "common", "run_all"}


def areas() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.py") if p.stem not in SKIP)


def assemble() -> pathlib.Path:
    parts = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m benchmarks.run_all`); each section below is the",
        "latest run of one area script, with the machine it ran on. Times are medians after a",
        "warm-up; compile time is reported apart.",
        "",
        f"Assembled {datetime.date.today().isoformat()} on: {machine()}",
        "",
        f"Versions: {versions('numpyro', 'blackjax')}",
        "",
    ]
    for frag in sorted(RESULTS_DIR.glob("*.md")):
        parts += [frag.read_text().rstrip(), ""]
    out = HERE / "RESULTS.md"
    out.write_text("\n".join(parts))
    return out


def main(argv: list[str]) -> int:
    if "--assemble" in argv:
        print(assemble())
        return 0
    env = None
    if "--device" in argv:
        argv = [a for a in argv if a != "--device"]
        env = dict(os.environ, PROBKIT_BENCH_DEVICE="1")
    chosen = argv or areas()
    unknown = set(chosen) - set(areas())
    if unknown:
        print(f"unknown benchmark areas {sorted(unknown)}; known: {areas()}", file=sys.stderr)
        return 2
    failed = []
    for area in chosen:
        print(f"== benchmarks/{area}.py", flush=True)
        rc = subprocess.call([sys.executable, "-m", f"benchmarks.{area}"], cwd=HERE.parent, env=env)
        if rc != 0:
            failed.append(area)
    print(assemble())
    if failed:
        print(f"failed areas: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
