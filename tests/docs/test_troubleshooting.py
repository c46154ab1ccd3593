"""docs/guide/troubleshooting.md lists every error probkit raises, and every `failed` flag.

The inventory is read from the source, not from the page: every call of an exception class
(`raise ValueError(...)`, `return ValueError(...)` in an error helper, a probkit exception) in
probkit/**.py is an error site. A site is covered when the page's section for its module (the
heading `### probkit.pkg.module`) contains the site's key: the longest literal piece of its
message (the text between the `{...}` fields of an f-string), or, for a message with no literal
text, the exception's name. So rewording a message, or adding a new one, fails this test until
the page says what the new error means and what to do; the failure prints the entry to add.

Warnings (`warnings.warn`) must appear, by the same key, in the page's Warnings section.

Results and states that report numerical failure in a `failed` field (a particle filter whose
weights all vanish, a Sinkhorn run that diverges, ...) are the other half of the inventory:
each such public class must be named on the page.

Static (AST) reads of the source: a fraction of a second, no JAX compilation.
"""

import ast
import dataclasses
import importlib
import pathlib
import pkgutil
import re

import probkit

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "guide" / "troubleshooting.md"
SOURCE = ROOT / "probkit"

BUILTIN = {
    "ValueError",
    "TypeError",
    "RuntimeError",
    "FloatingPointError",
    "ImportError",
    "FileNotFoundError",
    "AttributeError",
    "AssertionError",
    "NotImplementedError",
    "KeyError",
    "IndexError",
    "OSError",
}
# Exceptions that never leave probkit: raised and caught inside one function (control flow).
INTERNAL = {("probkit.causal.identification", "_Fail")}
# A key this short says nothing about the message; the exception name is used instead.
MIN_KEY = 8


@dataclasses.dataclass(frozen=True)
class Site:
    module: str
    line: int
    exception: str
    pattern: str  # the message with each {...} field shown as …
    key: str


def _probkit_exceptions() -> set[str]:
    names = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases}
                if bases & (BUILTIN | {"Exception", "ProbkitError"}) or node.name.endswith("Error"):
                    names.add(node.name)
    return names


def _pieces(node) -> list[str]:
    """Message as literal pieces and fields (None)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [v.value if isinstance(v, ast.Constant) else None for v in node.values]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _pieces(node.left) + _pieces(node.right)
    return [None]


def _norm(text: str) -> str:
    return " ".join(text.split())


def error_sites() -> list[Site]:
    exceptions = BUILTIN | _probkit_exceptions()
    sites = []
    for path in sorted(SOURCE.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = ast.unparse(func).rsplit(".", 1)[-1]
            dynamic = isinstance(func, ast.Call) and ast.unparse(func.func) == "type"
            if not (name in exceptions or dynamic) or (module, name) in INTERNAL:
                continue
            if dynamic:
                name = "the original exception type"
            pieces = _pieces(node.args[0]) if node.args else []
            pattern = "".join("…" if p is None else p for p in pieces)
            literal = [_norm(p) for p in pieces if p]
            key = max(literal, key=len, default="")
            if len(key) < MIN_KEY:
                key = name
            sites.append(Site(module, node.lineno, name, _norm(pattern), key))
    return sites


SITES = error_sites()
HEADING = re.compile(r"^#{2,4}\s+`?(probkit[\w.]*)`?\s*$", re.M)


def page_sections() -> dict[str, str]:
    text = PAGE.read_text()
    marks = list(HEADING.finditer(text))
    sections = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        sections[m.group(1)] = sections.get(m.group(1), "") + _norm(text[m.end() : end])
    return sections


def test_the_inventory_is_not_empty():
    assert len(SITES) > 300
    assert len({s.module for s in SITES}) > 50


def test_every_error_site_is_on_the_page():
    sections = page_sections()
    missing = [s for s in SITES if s.key not in sections.get(s.module, "")]
    lines = [
        f"{s.module}:{s.line} {s.exception}: add under `### {s.module}`:\n"
        f"- **{s.exception}** `{s.pattern}`\n  Cause: ... Fix: ..."
        for s in missing
    ]
    assert not missing, f"{len(missing)} error(s) not on {PAGE.name}:\n" + "\n".join(lines)


def test_the_page_has_no_stale_module_sections():
    modules = {s.module for s in SITES}
    stale = sorted(set(page_sections()) - modules)
    assert not stale, f"sections for modules that raise nothing: {stale}"


def warning_keys() -> list[tuple[str, int, str]]:
    """(module, line, key) of every `warnings.warn(...)` call: the same key as for errors."""
    keys = []
    for path in sorted(SOURCE.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "warnings.warn":
                literal = [_norm(p) for p in _pieces(node.args[0]) if p]
                keys.append((module, node.lineno, max(literal, key=len, default="")))
    return keys


def test_every_warning_is_on_the_page():
    text = PAGE.read_text()
    section = _norm(text[text.index("## Warnings") :].split("\n## ", 1)[0])
    keys = warning_keys()
    assert keys
    missing = [f"{m}:{line} {key!r}" for m, line, key in keys if key not in section]
    assert not missing, "warnings not in the page's Warnings section:\n" + "\n".join(missing)


def _classes_with_failed_flag() -> list[str]:
    found = set()
    names = ["probkit"] + [
        info.name for info in pkgutil.walk_packages(probkit.__path__, prefix="probkit.")
    ]
    for module_name in names:
        if any(part.startswith("_") for part in module_name.split(".")):
            continue
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            fields = getattr(obj, "_fields", None)
            if fields is None and dataclasses.is_dataclass(obj) and isinstance(obj, type):
                fields = [f.name for f in dataclasses.fields(obj)]
            if fields and "failed" in fields:
                found.add(f"{obj.__module__}.{obj.__qualname__}")
    return sorted(found)


def test_every_failed_flag_is_on_the_page():
    flagged = _classes_with_failed_flag()
    assert len(flagged) > 5
    text = PAGE.read_text()
    missing = [path for path in flagged if f"`{path.rsplit('.', 1)[-1]}`" not in text]
    assert not missing, f"results with a `failed` flag not on {PAGE.name}: {missing}"
