"""probkit's import graph, read from the source (AST), has no cycle, and no module uses another
module's private names.

Every `import probkit...` / `from probkit... import ...` counts, at module level or inside a
function (a lazy import is still a dependency); imports under `if TYPE_CHECKING:` do not run and
do not count. `from package import name` is an edge to `package.name` when that is a module, else
to the package.
"""

import ast
import pathlib

import networkx as nx

import probkit

ROOT = pathlib.Path(probkit.__file__).parent


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, package: str, modules) -> set[str]:
    found = set()

    def visit(node):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("probkit"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                stem = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(stem + ([base] if base else []))
            if base.startswith("probkit"):
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    found.add(sub if sub in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> nx.DiGraph:
    modules = _modules()
    g = nx.DiGraph()
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        g.add_node(name)
        for dep in _imports(ast.parse(path.read_text()), package, modules):
            if dep != name and dep in modules:
                g.add_edge(name, dep)
    return g


def test_import_graph_is_read_from_the_source():
    g = import_graph()
    assert g.has_edge("probkit.causal.diagram", "probkit.causal.channel")
    assert g.has_edge("probkit.sem.connections", "probkit.sem.graph")
    assert g.number_of_nodes() > 50


def test_probkit_has_no_import_cycle():
    cycles = list(nx.simple_cycles(import_graph()))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c + c[:1]) for c in cycles[:10])


def test_every_tests_folder_is_a_package():
    tests = pathlib.Path(__file__).parent
    folders = [d for d in tests.iterdir() if d.is_dir() and not d.name.startswith(("_", "."))]
    missing = [d.name for d in folders if not (d / "__init__.py").exists()]
    assert (tests / "__init__.py").exists() and not missing, missing


def _private_uses(name: str, path: pathlib.Path, modules) -> list[str]:
    """`from probkit.x import _name` and `x._name` (x a probkit module or one of its names)
    where the owner is another module: a private module (`_checks`) counts as its package's."""
    tree = ast.parse(path.read_text())
    own_package = name.rpartition(".")[0] if path.name != "__init__.py" else name

    def foreign(owner: str) -> bool:
        return owner != name and not owner.startswith(name + ".")

    bound, found = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("probkit"):
            for a in node.names:
                target = f"{node.module}.{a.name}"
                bound[a.asname or a.name] = target if target in modules else node.module
                private = a.name.startswith("_") and not a.name.startswith("__")
                if private and not (target in modules and node.module == own_package):
                    if foreign(node.module):
                        found.append(
                            f"{path.name}:{node.lineno} from {node.module} import {a.name}"
                        )
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("probkit") and a.asname:
                    bound[a.asname] = a.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in bound
            and foreign(bound[node.value.id])
        ):
            found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names():
    modules = _modules()
    found = [u for name, path in modules.items() for u in _private_uses(name, path, modules)]
    assert not found, "private names used across modules: " + "; ".join(found)
