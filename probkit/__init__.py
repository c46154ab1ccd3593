"""probkit: probabilistic inference in JAX.

Subpackages are imported on first use: `from probkit import ssm, smc` or `probkit.smc`.
Importing probkit changes no setting of JAX or of any other library.
"""

import importlib

__version__ = "0.1.0"

_SUBPACKAGES = ("core", "ssm", "smc", "llm", "walks", "gpdp", "bridges", "sem", "dag", "causal")

__all__ = ["__version__", *_SUBPACKAGES]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"probkit.{name}")
    raise AttributeError(f"module 'probkit' has no attribute {name!r}")
