"""Command line: `probkit tour` and `probkit bench`."""

import argparse
import pathlib
import subprocess
import sys

__all__ = ["main"]


def _bench(areas: list[str], device: bool = False) -> int:
    root = pathlib.Path.cwd()
    if not (root / "benchmarks").is_dir():
        root = pathlib.Path(__file__).resolve().parent.parent
    if not (root / "benchmarks" / "run_all.py").is_file():
        print(
            "probkit bench must run from a probkit checkout (benchmarks/ not found)",
            file=sys.stderr,
        )
        return 2
    flags = ["--device"] if device else []
    return subprocess.call([sys.executable, "-m", "benchmarks.run_all", *areas, *flags], cwd=root)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `probkit` command (`argv` defaults to `sys.argv[1:]`); the exit code."""
    parser = argparse.ArgumentParser(prog="probkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    tour = sub.add_parser("tour", help="run every paper's example on small defaults")
    tour.add_argument("names", nargs="*", help="run only these examples (file stems)")
    tour.add_argument("--out", default="out", help="folder for figures (default: out)")
    tour.add_argument("--examples", default=None, help="examples folder")
    tour.add_argument(
        "--compile-cache",
        metavar="DIR",
        default=None,
        help="JAX persistent compilation cache folder (default: $PROBKIT_COMPILATION_CACHE, "
        "else $XDG_CACHE_HOME/probkit/jax or ~/.cache/probkit/jax)",
    )
    tour.add_argument(
        "--no-compile-cache",
        action="store_true",
        help="do not use the persistent compilation cache (also: PROBKIT_COMPILATION_CACHE=0)",
    )
    bench = sub.add_parser("bench", help="run benchmarks against peer libraries")
    bench.add_argument("areas", nargs="*", help="benchmark areas (default: all)")
    bench.add_argument(
        "--device",
        action="store_true",
        help="run on the device JAX finds (a GPU if present) and tag every row with it",
    )
    args = parser.parse_args(argv)
    if args.command == "tour":
        from probkit import tour as tour_mod
        from probkit.core import prng

        prng.use_unrolled_threefry_on_cpu(True)  # the tour owns its process (same bits, faster)
        cache = tour_mod.compilation_cache_dir(
            args.compile_cache, enabled=not args.no_compile_cache
        )
        if cache is not None:  # a second tour loads its programs instead of compiling them
            tour_mod.enable_compilation_cache(cache)

        try:
            rows = tour_mod.run(args.names or None, args.out, args.examples)
        except (FileNotFoundError, ValueError) as exc:
            print(f"probkit tour: {exc}", file=sys.stderr)
            return 2
        return 0 if all(r["status"] == "ok" for r in rows) else 1
    return _bench(args.areas, args.device)


if __name__ == "__main__":
    sys.exit(main())
