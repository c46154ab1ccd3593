"""The API reference (docs/api/*.md) covers every public name, and every field is documented.

A public name is one listed in the `__all__` of a public probkit module (no `_` in its dotted
path). It is covered when the docs/api pages hold a `::: module` directive for the module that
defines it (all its public members are rendered) or a `::: module.name` directive for it, and it
has a docstring: mkdocstrings leaves out members without one, so an undocumented name would be
missing from the site although its module is listed. Public modules themselves need a directive
(packages excepted: their members are documented in the modules that define them).

Every public NamedTuple or dataclass documents each of its fields in the `Attributes:` section
of its docstring, which is how the State/Info/Result fields reach the site.

The check reads the package statically with griffe, as mkdocstrings does (about a second).
"""

import dataclasses
import importlib
import inspect
import pathlib
import pkgutil
import re

import griffe
import pytest

import probkit

ROOT = pathlib.Path(__file__).resolve().parents[2]
API_PAGES = sorted((ROOT / "docs" / "api").glob("*.md"))
DIRECTIVE = re.compile(r"^:::[ \t]*([\w.]+)[ \t]*$", re.M)


def _public_modules() -> list[str]:
    names = ["probkit"]
    for info in pkgutil.walk_packages(probkit.__path__, prefix="probkit."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


MODULES = _public_modules()


@pytest.fixture(scope="module")
def directives() -> set[str]:
    found = set()
    for page in API_PAGES:
        found.update(DIRECTIVE.findall(page.read_text()))
    return found


@pytest.fixture(scope="module")
def package():
    return griffe.load("probkit", search_paths=[str(ROOT)], resolve_aliases=True)


def _target(package, dotted: str):
    obj = package[dotted.removeprefix("probkit.")] if dotted != "probkit" else package
    return obj.final_target if obj.is_alias else obj


def test_api_pages_exist():
    assert API_PAGES, "docs/api has no pages"


def test_directives_name_real_objects(directives, package):
    for path in sorted(directives):
        assert path == "probkit" or path.startswith("probkit."), path
        try:
            _target(package, path)
        except KeyError:
            pytest.fail(f"docs/api has `::: {path}`, which does not exist")


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_name_is_in_the_api_pages(module_name, directives, package):
    module = importlib.import_module(module_name)
    is_package = hasattr(module, "__path__")
    if not is_package:
        assert module_name in directives, f"no `::: {module_name}` in docs/api/*.md"
    problems = []
    for name in module.__all__:
        if name.startswith("__"):  # __version__
            continue
        if inspect.ismodule(getattr(module, name)):
            continue  # checked as a module of its own
        try:
            target = _target(package, f"{module_name}.{name}")
        except KeyError:  # invisible to static analysis: a lazy import or a tuple assignment
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                target = _target(package, f"{obj.__module__}.{obj.__qualname__}")
            else:  # constants unpacked from a tuple: the module docstring must describe them
                if f"`{name}`" not in (module.__doc__ or ""):
                    problems.append(f"{name}: not visible to griffe and not in the docstring")
                continue
        home = target.parent.path
        if not (home in directives or target.path in directives):
            problems.append(f"{name}: defined in {home}, which has no `:::` directive")
        elif not target.docstring or not target.docstring.value.strip():
            problems.append(f"{name} ({target.path}): no docstring, so the site leaves it out")
    assert not problems, f"{module_name}:\n" + "\n".join(problems)


def _public_record_classes():
    classes = {}
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if not inspect.isclass(obj) or not obj.__module__.startswith("probkit"):
                continue
            if dataclasses.is_dataclass(obj):
                fields = [f.name for f in dataclasses.fields(obj)]
            elif issubclass(obj, tuple) and hasattr(obj, "_fields"):
                fields = list(obj._fields)
            else:
                continue
            classes[f"{obj.__module__}.{obj.__qualname__}"] = fields
    return sorted(classes.items())


RECORDS = _public_record_classes()


def test_there_are_records_to_check():
    assert len(RECORDS) > 50


@pytest.mark.parametrize("path, fields", RECORDS, ids=[p for p, _ in RECORDS])
def test_every_field_is_documented(path, fields, package):
    target = _target(package, path)
    assert target.docstring is not None, f"{path} has no docstring"
    documented = set()
    for section in target.docstring.parse("google"):
        if section.kind is griffe.DocstringSectionKind.attributes:
            documented.update(attr.name for attr in section.value if attr.description.strip())
    missing = [f for f in fields if f not in documented]
    assert not missing, f"{path}: fields without an `Attributes:` entry: {missing}"
