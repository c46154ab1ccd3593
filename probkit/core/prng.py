"""Opt-in faster threefry on CPU: the same random bits, compiled without a loop.

JAX lowers the threefry2x32 hash on CPU as a `while` loop of five iterations (to keep compile
times short), so every random draw inside a compiled loop runs a nested loop that materialises
its state five times. On GPU/TPU JAX uses the unrolled lowering. For particle methods, which draw
random numbers at every step, the unrolled lowering is about twice as fast on CPU (measured on the
bootstrap filter at N = 100 and N = 10^4; see benchmarks/RESULTS.md). The random bits are
identical: only the compiled form of the same primitive changes.

Importing probkit changes nothing. `use_unrolled_threefry_on_cpu()` is an explicit, process-wide
switch for scripts that own their process (probkit's benchmarks and `probkit tour` call it): it
affects every JAX program compiled afterwards in the process, not only probkit's, and it reaches
into JAX's private lowering registry, so a library that depends on probkit should not call it.
Where JAX's internals differ from what it expects, it does nothing and returns False.
"""

__all__ = ["unrolled_threefry_enabled", "use_unrolled_threefry_on_cpu"]

_state = {"enabled": False}


def use_unrolled_threefry_on_cpu(enable: bool = True) -> bool:
    """Select the unrolled (True) or JAX's default rolled (False) threefry lowering on CPU.

    Process-wide; affects functions compiled afterwards (already-compiled ones keep theirs).
    Random bits are unchanged. Returns whether the switch took effect.

    Examples:
        >>> from probkit.core import prng
        >>> prng.use_unrolled_threefry_on_cpu()  # doctest: +SKIP
        True
    """
    if not isinstance(enable, bool):
        raise TypeError(f"enable must be a bool, got {type(enable).__name__}")
    try:  # JAX exposes no public switch for this lowering; fail soft if its internals move.
        from jax._src.interpreters import mlir
        from jax._src.random import threefry2x32 as tf

        rule = tf._threefry2x32_lowering_rule if enable else tf._threefry2x32_cpu_lowering_rule
        mlir.register_lowering(tf.threefry2x32_p, rule, platform="cpu")
    except (ImportError, AttributeError):  # pragma: no cover - depends on JAX internals
        return False
    _state["enabled"] = enable
    return True


def unrolled_threefry_enabled() -> bool:
    """Whether `use_unrolled_threefry_on_cpu` switched the CPU lowering to the unrolled form.

    Examples:
        >>> from probkit.core import prng
        >>> isinstance(prng.unrolled_threefry_enabled(), bool)
        True
    """
    return _state["enabled"]
