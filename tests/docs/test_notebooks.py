"""The notebooks of docs/notebooks: each runs top to bottom, and its executed .ipynb is current.

A notebook's source of truth is its jupytext percent script `docs/notebooks/<name>.py`; the
rendered site shows the paired `<name>.ipynb`, executed by `make notebooks` and committed with
its outputs. Every notebook asserts its key numbers, so running the script here fails the build
when a result drifts. The scripts run in this process (one compiled JAX runtime for all of them,
no kernel start-up), in a temporary folder, with matplotlib's non-interactive Agg backend.
"""

import ast
import pathlib
import runpy

import jax
import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

jupytext = pytest.importorskip("jupytext")

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "docs" / "notebooks"
SCRIPTS = sorted(NOTEBOOKS.glob("*.py"))
# One notebook per paper, plus the first steps.
EXPECTED = {
    "first_steps",
    "particle_filter",
    "paris_ppg",
    "llm_inference_scaling",
    "sem_one_connection",
    "colide",
    "string_diagram_surgery",
    "walks",
    "gpdp_fisheries",
    "bridges",
}
# An executed notebook with its figures stays small (low-dpi PNGs).
MAX_IPYNB_BYTES = 400_000


def test_one_notebook_per_paper():
    assert {s.stem for s in SCRIPTS} == EXPECTED


# Each notebook checks at least this many key numbers with `assert` outside any function.
MIN_CHECKS = 3


def _checks(node) -> int:
    """`assert` statements that run when the script runs (not inside a function body)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        return 0
    own = int(isinstance(node, ast.Assert))
    return own + sum(_checks(child) for child in ast.iter_child_nodes(node))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_notebook_runs(script, tmp_path, monkeypatch):
    tree = ast.parse(script.read_text())
    checks = _checks(tree)
    assert checks >= MIN_CHECKS, f"{script.name} asserts {checks} key numbers, < {MIN_CHECKS}"
    top_names = {
        t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
        if isinstance(t, ast.Name)
    }  # fmt: skip
    monkeypatch.chdir(tmp_path)
    x64 = jax.config.jax_enable_x64
    try:
        namespace = runpy.run_path(str(script), run_name="__main__")
    finally:
        plt.close("all")
        jax.config.update("jax_enable_x64", x64)  # a notebook must not leak the dtype mode
    # every cell ran to the end: each top-level name the script assigns exists
    missing = sorted(top_names - namespace.keys())
    assert not missing, f"{script.name} did not define {missing}"


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_ipynb_in_sync(script):
    ipynb = script.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run `make notebooks`"
    source, rendered = jupytext.read(script), jupytext.read(ipynb)
    assert _cells(rendered) == _cells(source), (
        f"{ipynb.name} is stale (its cells differ from {script.name}): run `make notebooks`"
    )
    code = [c for c in rendered.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), (
        f"{ipynb.name} is not executed: run `make notebooks`"
    )
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{ipynb.name} holds an error output"
    assert ipynb.stat().st_size < MAX_IPYNB_BYTES, f"{ipynb.name} is too large: lower the dpi"
