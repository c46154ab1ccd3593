"""Every public function documents itself with a runnable example, and the examples run.

The public functions are the callables in the `__all__` of `probkit.core.*` and of each area
package. Each one's docstring must have an `Examples:` section (Google style, rendered by
mkdocstrings) whose `>>>` lines run as written: one test per module runs all of that module's
examples in one process, so functions compiled by one example are reused by the next. Each
example starts from the same small namespace (`jax`, `jnp`, `np` and the module under its short
name), never from another example's names, and must leave JAX's global configuration as it found
it (`with jax.enable_x64(True):` for float64, never `jax.config.update`).
"""

import doctest
import importlib
import inspect
import pkgutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import probkit.core

AREAS = ["smc", "ssm", "llm", "sem", "dag", "causal", "walks", "gpdp", "bridges"]
MODULES = sorted(
    [f"probkit.core.{m.name}" for m in pkgutil.iter_modules(probkit.core.__path__)]
    + [f"probkit.{area}" for area in AREAS]
)
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def public_functions(module_name: str) -> dict[str, object]:
    """The callables (functions, jitted functions, cached factories) a module exports."""
    module = importlib.import_module(module_name)
    found = {}
    for name in getattr(module, "__all__", ()):
        obj = getattr(module, name)
        if inspect.isclass(obj) or not callable(obj):
            continue
        if inspect.isroutine(obj) or hasattr(obj, "__wrapped__"):
            found[name] = obj
    return found


def has_examples(obj) -> bool:
    doc = inspect.getdoc(obj) or ""
    return "\nExamples:\n" in doc and "\n    >>> " in doc


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_function_has_an_example(module_name):
    missing = [n for n, f in public_functions(module_name).items() if not has_examples(f)]
    assert not missing, f"{module_name}: no `Examples:` section with `>>>` lines in {missing}"


def test_public_functions_are_found():
    counts = {m: len(public_functions(m)) for m in MODULES}
    assert all(counts[f"probkit.{area}"] > 0 for area in AREAS), counts
    assert sum(counts.values()) > 150, counts


@pytest.mark.parametrize("module_name", [m for m in MODULES if public_functions(m)])
def test_examples_run(module_name):
    module = importlib.import_module(module_name)
    short = module_name.rsplit(".", 1)[-1]
    globs = {"jax": jax, "jnp": jnp, "np": np, short: module}
    finder = doctest.DocTestFinder(recurse=False, exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    x64_before = jax.config.jax_enable_x64
    report = []
    ran = 0
    for name, obj in public_functions(module_name).items():
        for test in finder.find(obj, f"{module_name}.{name}", module=False, globs=globs):
            ran += len(test.examples)
            result = runner.run(test, out=report.append)
            assert jax.config.jax_enable_x64 == x64_before, f"{test.name} changed jax_enable_x64"
            del result
    assert runner.failures == 0, "".join(report)
    assert ran > 0, f"{module_name}: no examples ran"
