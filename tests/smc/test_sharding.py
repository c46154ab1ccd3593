"""The particle filter sharded over forced host devices, and the island particle filter.

Contract (docs/guide/scaling.md): with global resampling, the same key gives the same particle
system sharded or not -- in float64 the same ancestors at every step and the log-likelihood up
to rounding; in float32 a rounding difference in a sharded reduction can flip a resampling
index, so there only the distribution is the same (tested in SE units, never bit for bit).
The island filter's reductions are per island or over the gathered island vector, so it gives
the same answer on any number of devices. Its likelihood estimate is unbiased (against Kalman).
"""

import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from probkit import smc, ssm
from probkit.testing import assert_within_se, keys

F = np.array([[0.9, 0.1], [-0.2, 0.8]])
Q = np.array([[0.5, 0.1], [0.1, 0.4]])
H = np.array([[1.0, 0.0], [0.5, 1.0]])
R = np.array([[0.6, 0.1], [0.1, 0.5]])


@pytest.fixture(scope="module")
def lgssm():
    with jax.enable_x64(True):
        model, params = ssm.linear_gaussian(F, Q, H, R, np.zeros(2), np.eye(2))
        _, ys = ssm.simulate(jax.random.key(0), model, params, 15)
        return model, params, np.asarray(ys)


def test_island_likelihood_estimate_is_unbiased(x64, lgssm):
    # E[p^(y)] = p(y): mean of exp(ll_hat - ll_exact) over 300 seeds is 1 within 3 SE. Islands
    # of 16 particles, few enough that island weights spread and islands get resampled (every
    # 2 steps when the island ESS < 2); ESS-triggered systematic resampling inside islands.
    model, params, ys = lgssm
    exact = ssm.kalman_filter(params, ys).log_likelihood

    def one(k):
        res = smc.particle_filter(
            k, model, params, ys, 64, ess_threshold=0.5, history=False,
            resampling_scope="island", num_islands=4, exchange_every=2,
        )  # fmt: skip
        return res.log_likelihood, res.resampled

    lls, resampled = jax.vmap(one)(keys(300, 11))
    assert np.asarray(resampled).any()
    ratios = np.exp(np.asarray(lls - exact))
    assert_within_se(ratios, 1.0, z=3, what="island likelihood ratio")


def test_island_settings_are_validated(x64, lgssm):
    model, params, ys = lgssm
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="resampling_scope must be one of"):
        smc.particle_filter(key, model, params, ys, 16, resampling_scope="local")
    with pytest.raises(ValueError, match="num_particles must be a multiple of num_islands"):
        smc.particle_filter(key, model, params, ys, 10, resampling_scope="island", num_islands=4)
    with pytest.raises(ValueError, match="at least 2 particles per island"):
        smc.particle_filter(key, model, params, ys, 4, resampling_scope="island", num_islands=4)
    with pytest.raises(ValueError, match="exchange_every must be an integer >= 1"):
        smc.particle_filter(key, model, params, ys, 8, resampling_scope="island", exchange_every=0)
    with pytest.raises(TypeError, match="num_islands must be an integer"):
        smc.SMCConfig(num_islands=2.0)


# One interpreter with 8 forced CPU devices builds meshes of 1, 2, 4 and 8 devices. Start-up and
# XLA compilation are the cost of this test (shapes are small), so the backend compiles at -O0
# (about a third faster to compile; both sides of every comparison are compiled alike).
SHARDED = textwrap.dedent("""
    import json
    import jax, jax.numpy as jnp, numpy as np
    from probkit import ssm, smc
    from probkit.core import sharding
    assert len(jax.devices()) == 8
    out = {}

    def mesh(d):
        return sharding.batch_sharding(sharding.batch_mesh(jax.devices()[:d]))

    def compare(a, b):
        return dict(
            ancestors=bool((np.asarray(a.ancestors) == np.asarray(b.ancestors)).all()),
            particles=float(np.max(np.abs(np.asarray(a.particles) - np.asarray(b.particles)))),
            ll=(float(a.log_likelihood), float(b.log_likelihood)),
        )

    with jax.enable_x64(True):
        model, params = ssm.stochastic_volatility(mu=-0.7, rho=0.9, sigma=0.3)
        _, ys = ssm.simulate(jax.random.key(0), model, params, 25)
        key = jax.random.key(1)
        ref = smc.particle_filter(key, model, params, ys, 512)
        for d in (1, 2, 4, 8):
            b = smc.particle_filter(key, model, params, ys, 512, sharding=mesh(d))
            assert len(b.particles.sharding.device_set) == d
            out[f"global{d}"] = compare(ref, b)
        isl = dict(resampling_scope="island", num_islands=8, exchange_every=2)
        ref = smc.particle_filter(key, model, params, ys, 512, **isl)
        for d in (4,):
            b = smc.particle_filter(key, model, params, ys, 512, sharding=mesh(d), **isl)
            assert len(b.particles.sharding.device_set) == d
            out[f"island{d}"] = compare(ref, b)

    # float32: the same distribution. 64 keys, unsharded and on 4 devices, against Kalman.
    lg, lp = ssm.linear_gaussian(0.9, 0.5, 1.0, 1.0, 0.0, 1.0)
    _, ys = ssm.simulate(jax.random.key(2), lg, lp, 30)
    with jax.enable_x64(True):
        p64 = ssm.LinearGaussianParams(*(jnp.asarray(a, jnp.float64) for a in lp))
        exact = float(ssm.kalman_filter(p64, jnp.asarray(ys, jnp.float64)).log_likelihood)
    ks = jax.random.split(jax.random.key(3), 64)
    runs = {}
    for name, sh in (("unsharded", None), ("sharded4", mesh(4))):
        lls = jax.vmap(
            lambda k: smc.particle_filter(k, lg, lp, ys, 256, history=False, sharding=sh)
            .log_likelihood
        )(ks)
        assert lls.dtype == jnp.float32
        runs[name] = np.asarray(lls, np.float64).tolist()
    out["float32"] = dict(exact=exact, **runs)
    print("RESULT", json.dumps(out))
""")


@pytest.fixture(scope="module")
def sharded_runs():
    flags = "--xla_force_host_platform_device_count=8 --xla_backend_optimization_level=0"
    env = dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, "-c", SHARDED], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    import json

    line = next(s for s in out.stdout.splitlines() if s.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


@pytest.mark.parametrize("devices", [1, 2, 4, 8])
def test_global_resampling_float64_same_particle_system_on_1_2_4_8_devices(sharded_runs, devices):
    r = sharded_runs[f"global{devices}"]
    assert r["ancestors"], "a resampling index differs from the unsharded run"
    assert r["particles"] < 1e-12
    np.testing.assert_allclose(*r["ll"], rtol=1e-12)


def test_island_filter_float64_same_answer_on_4_devices(sharded_runs):
    r = sharded_runs["island4"]  # 8 islands, 2 per device
    assert r["ancestors"]
    assert r["particles"] < 1e-12
    np.testing.assert_allclose(*r["ll"], rtol=1e-12)


def test_global_resampling_float32_same_distribution_sharded_and_unsharded(sharded_runs):
    r = sharded_runs["float32"]
    a, b = np.asarray(r["unsharded"]), np.asarray(r["sharded4"])
    # Both are unbiased for p(y) (3 SE over 64 keys), and their paired differences centre on 0.
    assert_within_se(np.exp(a - r["exact"]), 1.0, z=3, what="unsharded float32 ratio")
    assert_within_se(np.exp(b - r["exact"]), 1.0, z=3, what="sharded float32 ratio")
    assert_within_se(b - a, 0.0, z=3, what="sharded - unsharded float32 log-likelihood")
