"""Importing probkit leaves JAX alone; the opt-in CPU threefry switch keeps the random bits."""

import os
import subprocess
import sys

import numpy as np

# Lowered text of a random draw, then the draw itself, printed by a fresh interpreter.
PROGRAM = """
import jax, numpy as np
f = jax.jit(lambda k: jax.random.normal(jax.random.split(k, 3)[1], (5,)))
def report(tag):
    text = f.lower(jax.random.key(42)).as_text()
    draw = ' '.join(repr(float(v)) for v in np.asarray(f(jax.random.key(42))))
    print(tag, hash(text), 'while' in text, draw, sep='|')
report('before')
{between}
f = jax.jit(lambda k: jax.random.normal(jax.random.split(k, 3)[1], (5,)))
report('after')
"""


def _run(between: str) -> dict[str, list[str]]:
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONHASHSEED="0")
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(between=between)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [line.split("|") for line in out.stdout.splitlines() if "|" in line]
    return {row[0]: row[1:] for row in rows}


def test_importing_probkit_changes_no_jax_lowering():
    rows = _run(
        "import probkit\nfrom probkit import *\nimport probkit.core, probkit.smc, probkit.llm, "
        "probkit.dag, probkit.sem, probkit.causal, probkit.ssm"
    )
    assert rows["before"] == rows["after"]  # same compiled text, same bits
    assert rows["before"][1] == "True"  # JAX's default CPU lowering is the rolled loop


def test_opt_in_unrolled_threefry_gives_the_same_bits_without_the_loop():
    rows = _run(
        "from probkit.core import prng\n"
        "assert not prng.unrolled_threefry_enabled()\n"
        "assert prng.use_unrolled_threefry_on_cpu()\n"
        "assert prng.unrolled_threefry_enabled()"
    )
    _, before_loop, before_draw = rows["before"]
    _, after_loop, after_draw = rows["after"]
    assert before_loop == "True" and after_loop == "False"  # the lowering did change
    np.testing.assert_array_equal(  # ...and the bits did not
        np.array(before_draw.split(), float), np.array(after_draw.split(), float)
    )


def test_switch_rejects_a_non_bool():
    import pytest

    from probkit.core import prng

    with pytest.raises(TypeError, match="enable"):
        prng.use_unrolled_threefry_on_cpu("yes")
