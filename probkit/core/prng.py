"""Faster threefry on CPU: the same random bits, compiled without a loop.

JAX lowers the threefry2x32 hash on CPU as a `while` loop of five iterations (to keep compile
times short), so every random draw inside a compiled loop runs a nested loop that materialises
its state five times. On GPU/TPU JAX uses the unrolled lowering. For particle methods, which draw
random numbers at every step, the unrolled lowering is about twice as fast on CPU (we measured
the bootstrap filter at N = 100 and N = 10^4; see benchmarks/RESULTS.md). The random bits are
identical: only the compiled form of the same primitive changes.

`probkit` enables it on import. Set the environment variable `PROBKIT_ROLLED_THREEFRY=1` before
importing probkit to keep JAX's default, or call `use_unrolled_threefry_on_cpu(False)`.
If JAX's internals change so that the switch is unavailable, it is a silent no-op.
"""

import os

__all__ = ["use_unrolled_threefry_on_cpu", "unrolled_threefry_enabled"]

_state = {"enabled": False}


def use_unrolled_threefry_on_cpu(enable: bool = True) -> bool:
    """Select the unrolled (True) or JAX's rolled (False) threefry lowering on CPU.

    Affects functions compiled afterwards. Returns whether the switch took effect.
    """
    try:
        from jax._src.interpreters import mlir
        from jax._src.random import threefry2x32 as tf

        rule = tf._threefry2x32_lowering_rule if enable else tf._threefry2x32_cpu_lowering_rule
        mlir.register_lowering(tf.threefry2x32_p, rule, platform="cpu")
    except (ImportError, AttributeError):  # pragma: no cover - depends on JAX internals
        return False
    _state["enabled"] = enable
    return True


def unrolled_threefry_enabled() -> bool:
    """Whether probkit switched JAX's CPU threefry lowering to the unrolled form."""
    return _state["enabled"]


if os.environ.get("PROBKIT_ROLLED_THREEFRY", "") in ("", "0"):
    use_unrolled_threefry_on_cpu(True)
