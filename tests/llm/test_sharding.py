"""llm.particle_filter with its particle axis sharded over forced host devices (1, 2, 4, 8).

Float64 (exact comparisons): the same key gives the same particles, answer and evidence on every
mesh as unsharded. Float32 follows the contract of `smc.particle_filter` (same distribution;
docs/guide/scaling.md), which tests/smc/test_sharding.py checks.
"""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from probkit import llm
from probkit.core import sharding
from probkit.llm import synthetic

from .llm_models import PROMPT, tabular_models

SHARDED = textwrap.dedent("""
    import json, sys
    import jax, numpy as np
    jax.config.update("jax_enable_x64", True)
    sys.path.insert(0, "tests/llm")
    from llm_models import PROMPT, tabular_models
    from probkit import llm
    from probkit.core import sharding
    assert len(jax.devices()) == 8

    def same(a, b):
        return bool(np.all(np.asarray(a) == np.asarray(b)))

    def mesh(d):
        return sharding.batch_sharding(sharding.batch_mesh(jax.devices()[:d]))

    lm, prm = tabular_models()
    key = jax.random.key(3)
    kw = dict(weighting="twisted", select="vote", max_steps=4)
    ref = llm.particle_filter(key, lm, prm, PROMPT, 64, **kw)
    out = {}
    for d in (1, 2, 4, 8):
        b = llm.particle_filter(key, lm, prm, PROMPT, 64, sharding=mesh(d), **kw)
        assert len(b.rewards.sharding.device_set) == d
        out[d] = dict(
            answer=[int(ref.answer), int(b.answer)],
            particles=same(ref.particles.values, b.particles.values),
            lengths=same(ref.lengths, b.lengths),
            log_weights=float(np.max(np.abs(ref.log_weights - b.log_weights))),
            evidence=[float(ref.log_evidence), float(b.log_evidence)],
        )
    try:
        llm.particle_filter(key, lm, prm, PROMPT, 63, sharding=mesh(2), **kw)
    except ValueError as exc:
        out["error"] = str(exc)
    print("RESULT", json.dumps(out))
""")


@pytest.fixture(scope="module")
def sharded_runs():
    flags = "--xla_force_host_platform_device_count=8 --xla_backend_optimization_level=0"
    env = dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run(
        [sys.executable, "-c", SHARDED],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(s for s in out.stdout.splitlines() if s.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


@pytest.mark.parametrize("devices", [1, 2, 4, 8])
def test_sharded_filter_gives_the_unsharded_answer_in_float64(sharded_runs, devices):
    r = sharded_runs[str(devices)]
    assert r["answer"][0] == r["answer"][1]
    assert r["particles"] and r["lengths"]
    assert r["log_weights"] < 1e-12
    np.testing.assert_allclose(*r["evidence"], rtol=1e-12)


def test_sharding_needs_a_divisible_particle_count_and_jax_models(sharded_runs):
    assert "num_particles must be a multiple of the 2 devices" in sharded_runs["error"]
    one = sharding.batch_sharding(sharding.batch_mesh(jax.devices()[:1]))
    problem = jax.tree.map(lambda a: a[0], synthetic.problems(jax.random.key(0), 1))
    text_lm = synthetic.TextSyntheticLM(problem)
    with pytest.raises(ValueError, match="sharding needs JAX-native models"):
        llm.particle_filter(
            jax.random.key(0), text_lm, synthetic.text_prm(), "1 + 1", 4, sharding=one
        )
    lm, prm = tabular_models()
    with pytest.raises(TypeError, match="sharding must be None, a jax.sharding.Mesh or a Named"):
        llm.particle_filter(jax.random.key(0), lm, prm, PROMPT, 4, sharding="devices")
