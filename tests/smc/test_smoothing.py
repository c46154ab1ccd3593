"""PaRIS against exact Kalman/RTS answers: smoothed functionals, online estimates, score."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit import smc, ssm
from probkit.smc import smoothing
from probkit.testing import assert_within_se, keys

NUM_SEEDS = 50
N = 200


@pytest.fixture(scope="module")
def paris_runs(lgssm_2d, sum_and_pairs):
    """50 seeded PaRIS runs per backward kernel on the 2-D model (one compilation each).

    Accept–reject is run seed after seed (`lax.map`): under `vmap` every seed would wait for
    the slowest draw of all seeds, and pure rejection has heavy-tailed run times.
    """
    model, params, ys, _ = lgssm_2d
    out = {}
    with jax.enable_x64(True):
        for kind in ("exact", "hybrid", "rejection", "mcmc"):
            # "mcmc" starts from the forward ancestors: exact only with resampling every step.
            ess = 1.0 if kind == "mcmc" else 0.5

            def run(k, kind=kind, ess=ess):
                return smc.paris(
                    k, model, params, ys, sum_and_pairs, N, backward=kind, ess_threshold=ess
                )

            ks = keys(NUM_SEEDS, seed=1)
            out[kind] = jax.block_until_ready(
                jax.lax.map(run, ks) if kind == "rejection" else jax.vmap(run)(ks)
            )
    return out


@pytest.mark.parametrize("kind", ["exact", "hybrid", "rejection", "mcmc"])
def test_paris_matches_rts_sum_and_lag_one_products(x64, lgssm_2d, paris_runs, kind):
    _, _, _, (sum_exact, pair_exact) = lgssm_2d
    res = paris_runs[kind]
    sums, pairs = res.estimate
    # 50 independent seeds; the O(T/N) bias (T = 20, N = 200) is far below 4 SE here.
    assert_within_se(sums, sum_exact, z=4, what=f"E[sum x_t] ({kind})")
    assert_within_se(
        pairs.reshape(NUM_SEEDS, -1), pair_exact.ravel(), z=4, what=f"E[sum x_t x_t+1^T] ({kind})"
    )
    assert not bool(jnp.any(res.failed))
    assert not bool(jnp.any(res.info.bound_violated))
    trials = float(jnp.mean(res.info.backward_trials[:, 1:]))
    assert trials == 1.0 if kind in ("exact", "mcmc") else trials > 1.0


def test_float32_stays_accurate_over_a_long_series(lgssm_1d, lg_params_of):
    """float32, T = 200: the compensated statistics keep the running sum accurate."""
    model, _, u, _, _ = lgssm_1d
    params = lg_params_of(jax.tree.map(lambda v: jnp.asarray(v, jnp.float32), u))
    rng = np.random.default_rng(5)  # an AR(1) path observed in noise, simulated in numpy
    x = np.zeros(200)
    x[0] = rng.normal()
    for t in range(1, 200):
        x[t] = 0.8 * x[t - 1] + rng.normal()
    y64 = (x + np.sqrt(0.5) * rng.normal(size=200))[:, None]
    ys = jnp.asarray(y64, jnp.float32)
    with jax.enable_x64(True):
        p64 = jax.tree.map(lambda v: jnp.asarray(v, jnp.float64), params)
        exact = float(ssm.rts_smoother(p64, jnp.asarray(ys, jnp.float64)).means.sum())
    h = smc.AdditiveFunctional(lambda x0: x0, lambda xp, x, t: x)
    est = jax.vmap(lambda k: smc.paris(k, model, params, ys, h, 50, backward="exact").estimate)(
        keys(8, 3)
    )
    assert est.dtype == jnp.float32
    # 8 seeds; the O(T/N) bias of this sum is below 4 SE (checked in float64 too).
    assert_within_se(est[:, 0], exact, z=4, what="float32 sum over T=200")


def test_nonfinite_functional_is_refused_eagerly(x64, lgssm_2d):
    model, params, ys, _ = lgssm_2d
    bad = smc.AdditiveFunctional(lambda x0: jnp.log(x0 - 100.0), lambda xp, x, t: x)
    with pytest.raises(ValueError, match=r"functional\.initial returned non-finite"):
        smc.paris(jax.random.key(0), model, params, ys, bad, 10)


def test_nonfinite_functional_inside_the_run_is_reported(x64, lgssm_2d):
    model, params, ys, _ = lgssm_2d
    # Finite where the eager check looks (t = 1), NaN from t = 5 on: only the run can see it.
    h = smc.AdditiveFunctional(lambda x0: x0[0], lambda xp, x, t: jnp.where(t >= 5, jnp.nan, x[0]))
    res = smc.paris(jax.random.key(0), model, params, ys, h, 20, backward="exact")
    assert bool(res.failed) and int(res.failed_at) == 5
    assert bool(res.info.nonfinite[5]) and not bool(res.info.nonfinite[4])


def test_degenerate_weights_are_reported_not_nan(x64, lgssm_2d, sum_and_pairs):
    model, params, ys, _ = lgssm_2d
    ys = ys.at[6].set(1e200)  # (1e200)^2 overflows: every particle has g(y_6 | x) = 0
    res = smc.paris(jax.random.key(0), model, params, ys, sum_and_pairs, 20, backward="exact")
    assert bool(res.failed) and int(res.failed_at) == 6
    assert res.log_likelihood == -jnp.inf
    assert all(bool(jnp.all(jnp.isfinite(v))) for v in jax.tree.leaves(res.estimate))


def test_bad_input_gets_clear_errors(x64, lgssm_2d, sum_and_pairs):
    model, params, ys, _ = lgssm_2d
    h = sum_and_pairs
    k = jax.random.key(0)
    with pytest.raises(ValueError, match="num_backward"):
        smc.paris(k, model, params, ys, h, 10, num_backward=0)
    no_bound = dataclasses.replace(model, transition_log_bound=None)
    with pytest.raises(ValueError, match="transition_log_bound"):
        smc.paris(k, no_bound, params, ys, h, 10, backward="rejection")
    with pytest.raises(TypeError, match="AdditiveFunctional"):
        smc.paris(k, model, params, ys, lambda x: x, 10)
    mismatch = smc.AdditiveFunctional(lambda x0: x0, lambda xp, x, t: x[0])
    with pytest.raises(ValueError, match=r"equal shapes|same pytree"):
        smc.paris(k, model, params, ys, mismatch, 10)
    with pytest.raises(ValueError, match="num_particles"):
        smc.paris(k, model, params, ys, h, 1)
    with pytest.raises(ValueError, match="backward must be one of"):
        smc.paris(k, model, params, ys, h, 10, backward="fast")
    with pytest.raises(ValueError, match="ys must have shape"):
        smc.paris(k, model, params, ys[:, :, None], h, 10)
    with pytest.raises(ValueError, match=r"'mcmc' needs resampling at every step"):
        smc.paris(k, model, params, ys, h, 10, backward="mcmc")  # default ess_threshold 0.5
    guided = smc.Proposal(
        lambda p, y: model.initial(p), lambda p, xp, y, t: model.transition(p, xp, t)
    )
    with pytest.raises(ValueError, match=r"'mcmc' needs the bootstrap forward pass"):
        smc.paris(k, model, params, ys, h, 10, backward="mcmc", ess_threshold=1.0, proposal=guided)
    with pytest.raises(ValueError, match=r"available in smc.paris only"):
        smc.ppg(k, model, params, ys, h, 10, 4, backward="mcmc")


def test_paris_compiles_once_per_static_configuration(x64, lgssm_2d, sum_and_pairs):
    """New keys, parameters and data of the same shapes reuse the compiled program."""
    model, params, ys, _ = lgssm_2d
    h = sum_and_pairs
    smc.paris(jax.random.key(0), model, params, ys, h, 20, backward="exact")
    before = smoothing.run_unchecked._cache_size()
    params2 = params._replace(F=params.F * 0.5, R=params.R * 2.0)
    smc.paris(jax.random.key(1), model, params2, ys + 1.0, h, 20, backward="exact")
    smc.paris(jax.random.key(2), model, params, ys * 2.0, h, 20, backward="exact")
    assert smoothing.run_unchecked._cache_size() == before
