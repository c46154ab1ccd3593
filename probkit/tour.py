"""`probkit tour`: run every paper's example on small defaults and summarise.

An example is a script `examples/<name>.py` that defines

    TOUR = {"method": "Particle filter", "order": 10}
    def tour(out_dir: pathlib.Path) -> probkit.tour.TourResult: ...

and, for standalone use, `if __name__ == "__main__": ...`. The tour discovers scripts that define
`tour`, runs them in `order`, writes their figures under `out/`, and prints one table row each:
method, what it computed, the key number, and seconds. Nothing needs registering elsewhere.

The `probkit tour` command (an application that owns its process) turns on JAX's persistent
compilation cache (`enable_compilation_cache`), in `compilation_cache_dir()`, so that a second
tour loads its compiled programs instead of compiling them again; `--no-compile-cache` or
`PROBKIT_COMPILATION_CACHE=0` turns it off. Importing this module changes nothing.
"""

import dataclasses
import importlib.util
import os
import pathlib
import time
import traceback

__all__ = [
    "CACHE_ENV",
    "TourResult",
    "compilation_cache_dir",
    "discover",
    "enable_compilation_cache",
    "find_examples",
    "run",
]

CACHE_ENV = "PROBKIT_COMPILATION_CACHE"
"""Environment variable for `probkit tour`'s compilation cache: "0"/"off"/"false"/"no" turns
it off, any other value is the cache directory (default: $XDG_CACHE_HOME/probkit/jax)."""
_OFF = ("0", "off", "false", "no")


@dataclasses.dataclass
class TourResult:
    """What one example's `tour(out_dir)` reports to `probkit tour`.

    Attributes:
        computed: what was computed, in words.
        value: the key number, formatted.
        figures: paths written.
    """

    computed: str  # what was computed, in words
    value: str  # the key number, formatted
    figures: tuple = ()  # paths written


def find_examples(path: str | os.PathLike | None = None) -> pathlib.Path:
    """The examples folder: `path`, $PROBKIT_EXAMPLES, ./examples, or the source checkout's."""
    candidates = []
    if path is not None:
        candidates.append(pathlib.Path(path))
    if os.environ.get("PROBKIT_EXAMPLES"):
        candidates.append(pathlib.Path(os.environ["PROBKIT_EXAMPLES"]))
    candidates.append(pathlib.Path.cwd() / "examples")
    candidates.append(pathlib.Path(__file__).resolve().parent.parent / "examples")
    for c in candidates:
        if c.is_dir() and any(c.glob("*.py")):
            return c
    raise FileNotFoundError(
        "could not find the examples folder; run from a probkit checkout or pass --examples DIR"
    )


def compilation_cache_dir(
    path: str | os.PathLike | None = None, *, enabled: bool = True, environ=None
) -> pathlib.Path | None:
    """Where the tour keeps compiled programs, or None for no persistent cache.

    None when `enabled` is False or $PROBKIT_COMPILATION_CACHE is "0"/"off"/"false"/"no";
    otherwise `path`, else that variable when it names a directory, else
    `$XDG_CACHE_HOME/probkit/jax` (default `~/.cache/probkit/jax`).
    """
    environ = os.environ if environ is None else environ
    env = environ.get(CACHE_ENV, "").strip()
    if not enabled or env.lower() in _OFF:
        return None
    if path is not None:
        return pathlib.Path(path)
    if env:
        return pathlib.Path(env)
    base = environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "probkit" / "jax"


def enable_compilation_cache(path: str | os.PathLike) -> pathlib.Path:
    """Turn on JAX's persistent compilation cache in `path` (created), for every program.

    Process-wide JAX settings, for applications that own their process (the tour): sets
    `jax_compilation_cache_dir` and caches programs whatever their compile time
    (`jax_persistent_cache_min_compile_time_secs = 0`; JAX's default caches only those taking
    over a second to compile). Returns the directory.
    """
    import jax

    path = pathlib.Path(path).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return path


def _load(path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(f"probkit_example_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def discover(examples_dir: pathlib.Path) -> list[tuple[str, pathlib.Path, dict]]:
    """(name, path, TOUR metadata) for every example defining `tour`, in `order`."""
    found = []
    for path in sorted(examples_dir.glob("*.py")):
        text = path.read_text()
        if "def tour(" not in text:
            continue
        module = _load(path)
        meta = dict(getattr(module, "TOUR", {}))
        meta.setdefault("method", path.stem)
        meta.setdefault("order", 100)
        found.append((path.stem, path, meta))
    return sorted(found, key=lambda item: (item[2]["order"], item[0]))


def run(
    only: list[str] | None = None, out_dir: str = "out", examples: str | None = None, echo=print
) -> list[dict]:
    """Run the tour; returns one dict per example (status "ok" or "failed")."""
    examples_dir = find_examples(examples)
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    entries = discover(examples_dir)
    if only:
        unknown = set(only) - {name for name, _, _ in entries}
        if unknown:
            raise ValueError(
                f"unknown example(s) {sorted(unknown)}; known: {[name for name, _, _ in entries]}"
            )
        entries = [e for e in entries if e[0] in only]
    for name, path, meta in entries:
        echo(f"-> {meta['method']} ({path.name})")
        start = time.perf_counter()
        try:
            result = _load(path).tour(out / name)
            status, computed, value = "ok", result.computed, result.value
        except Exception as exc:  # report and carry on with the other examples
            traceback.print_exc()
            status, computed, value = "failed", f"{type(exc).__name__}: {exc}", "-"
        rows.append(
            dict(
                name=name,
                method=meta["method"],
                computed=computed,
                value=value,
                seconds=time.perf_counter() - start,
                status=status,
            )
        )
    echo("")
    echo(format_table(rows))
    return rows


def format_table(rows: list[dict]) -> str:
    headers = ["method", "computed", "key number", "seconds", "status"]
    body = [
        [r["method"], r["computed"], r["value"], f"{r['seconds']:.1f}", r["status"]] for r in rows
    ]
    widths = [
        max(len(h), *(len(row[i]) for row in body)) if body else len(h)
        for i, h in enumerate(headers)
    ]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, body)])
