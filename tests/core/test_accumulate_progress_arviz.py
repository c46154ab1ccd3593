import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit.core import accumulate, progress, to_inference_data


def test_compensated_sum_is_accurate_in_float32():
    xs = jnp.full((100_000,), 0.1, jnp.float32) + jnp.arange(100_000, dtype=jnp.float32) * 1e-7

    def body(acc, x):
        return accumulate.add(acc, x), None

    acc, _ = jax.lax.scan(body, accumulate.init(jnp.zeros((), jnp.float32)), xs)
    naive = jax.lax.scan(lambda s, x: (s + x, None), jnp.zeros((), jnp.float32), xs)[0]
    exact = math.fsum(np.asarray(xs, dtype=np.float64))
    assert abs(float(accumulate.value(acc)) - exact) / exact < 1e-7
    assert abs(float(naive) - exact) / exact > 1e-5  # the naive float32 sum really is off


def test_compensated_sum_keeps_minus_infinity():
    acc = accumulate.add(accumulate.init(jnp.zeros(())), -jnp.inf)
    acc = accumulate.add(acc, 1.0)
    assert float(accumulate.value(acc)) == -np.inf


def test_progress_scan_equals_lax_scan_and_drives_a_bar(capsys):
    def body(c, x):
        return c + x, c * x

    xs = jnp.arange(30.0)
    ref = jax.lax.scan(body, 0.0, xs)
    got = jax.jit(lambda xs: progress.scan(body, 0.0, xs, enabled=True, label="unit"))(xs)
    jax.effects_barrier()
    np.testing.assert_allclose(got[0], ref[0])
    np.testing.assert_allclose(got[1], ref[1])
    err = capsys.readouterr().err
    assert "unit" in err and "30/30" in err


def test_to_inference_data_layout():
    draws = {"theta": np.zeros((2, 50, 3)), "sigma": np.ones((2, 50))}
    idata = to_inference_data(draws, sample_stats={"lp": np.zeros((2, 50))})
    assert idata.posterior["theta"].shape == (2, 50, 3)
    assert idata.posterior.sizes["chain"] == 2 and idata.posterior.sizes["draw"] == 50
    single = to_inference_data({"x": np.zeros(20)}, has_chain_axis=False)
    assert single.posterior["x"].shape == (1, 20)
    with pytest.raises(ValueError, match="chain, draw"):
        to_inference_data({"x": np.zeros(5)})


def test_progress_bar_output_goes_to_stderr_not_stdout(capsys):
    jax.block_until_ready(progress.scan(lambda c, x: (c, x), 0, jnp.arange(4), enabled=True))
    jax.effects_barrier()
    assert capsys.readouterr().out == ""
