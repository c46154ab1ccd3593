import os
import subprocess
import sys

import jax
import numpy as np

import probkit  # noqa: F401  (switches the CPU threefry lowering)
from probkit.core import prng

DRAW = (
    "import jax, numpy as np, probkit\n"
    "f = jax.jit(lambda k: jax.random.normal(jax.random.split(k, 3)[1], (5,)))\n"
    "print(' '.join(repr(float(v)) for v in np.asarray(f(jax.random.key(42)))))\n"
)


def test_unrolled_threefry_gives_the_same_bits_as_jax_default():
    assert prng.unrolled_threefry_enabled()
    ours = np.asarray(
        jax.jit(lambda k: jax.random.normal(jax.random.split(k, 3)[1], (5,)))(jax.random.key(42))
    )
    env = dict(os.environ, PROBKIT_ROLLED_THREEFRY="1", JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, "-c", DRAW], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    rolled = np.array([float(v) for v in out.stdout.split()])
    np.testing.assert_array_equal(ours, rolled)
