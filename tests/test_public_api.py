"""The public surface: `from probkit import *` and every name in every `__all__` resolve."""

import importlib
import pkgutil

import pytest

import probkit


def _modules():
    names = ["probkit"]
    for info in pkgutil.walk_packages(probkit.__path__, prefix="probkit."):
        if info.name != "probkit.__main__":
            names.append(info.name)
    return sorted(names)


def test_star_import_works():
    namespace = {}
    exec("from probkit import *", namespace)
    for name in probkit.__all__:
        assert name in namespace


@pytest.mark.parametrize("module_name", _modules())
def test_every_name_in_all_exists(module_name):
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        pytest.fail(f"{module_name} defines no __all__")
    assert len(set(exported)) == len(exported), f"{module_name}.__all__ has duplicates"
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{module_name}.__all__ lists missing names {missing}"
    namespace = {}
    exec(f"from {module_name} import *", namespace)
