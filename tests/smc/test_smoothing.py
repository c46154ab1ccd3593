"""PaRIS against exact Kalman/RTS answers: smoothed functionals, online estimates, score."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit import smc, ssm
from probkit.core import accumulate
from probkit.smc import smoothing
from probkit.testing import assert_within_se, keys

NUM_SEEDS = 50
N = 300


@pytest.fixture(scope="module")
def paris_runs(lgssm_2d, sum_and_pairs):
    """50 seeded PaRIS runs per backward kernel on the 2-D model (one compilation each).

    Accept–reject is run seed after seed (`lax.map`): under `vmap` every seed would wait for
    the slowest draw of all seeds, and pure rejection has heavy-tailed run times.
    """
    model, params, ys, _ = lgssm_2d
    out = {}
    with jax.enable_x64(True):
        for kind in ("exact", "hybrid", "rejection"):

            def run(k, kind=kind):
                return smc.paris(k, model, params, ys, sum_and_pairs, N, backward=kind)

            ks = keys(NUM_SEEDS, seed=1)
            out[kind] = jax.block_until_ready(
                jax.lax.map(run, ks) if kind == "rejection" else jax.vmap(run)(ks)
            )
    return out


@pytest.mark.parametrize("kind", ["exact", "hybrid", "rejection"])
def test_paris_matches_rts_sum_and_lag_one_products(x64, lgssm_2d, paris_runs, kind):
    _, _, _, (sum_exact, pair_exact, _) = lgssm_2d
    res = paris_runs[kind]
    sums, pairs = res.estimate
    # 50 independent seeds; the O(T/N) bias (T = 20, N = 300) is far below 4 SE here.
    assert_within_se(sums, sum_exact, z=4, what=f"E[sum x_t] ({kind})")
    assert_within_se(
        pairs.reshape(NUM_SEEDS, -1), pair_exact.ravel(), z=4, what=f"E[sum x_t x_t+1^T] ({kind})"
    )
    assert not bool(jnp.any(res.failed))
    assert not bool(jnp.any(res.info.bound_violated))
    trials = float(jnp.mean(res.info.backward_trials[:, 1:]))
    assert trials == 1.0 if kind == "exact" else trials > 1.0


def test_paris_score_matches_grad_of_the_kalman_log_likelihood(x64, lgssm_1d):
    """Fisher's identity: the smoothed ∇u log p(x, y) is ∇u log p(y) (u = ρ, log σx, log σy)."""
    _, model_u, u, ys, score = lgssm_1d
    h = smc.score_functional(model_u)
    est = jax.vmap(lambda k: smc.paris(k, model_u, u, ys, h, 1000).estimate)(keys(NUM_SEEDS, 2))
    for name in ("rho", "log_sx", "log_sy"):  # PaRIS's O(T/N) bias (T = 15) is below 4 SE
        assert_within_se(est[name], score[name], z=4, what=f"score[{name}]")


def test_online_estimates_match_the_rts_smoother_of_each_prefix(x64, lgssm_2d, paris_runs):
    """online[t] estimates E[Σ_{s<=t} x_s | y_0:t]: the smoother of the prefix y_0:t."""
    _, params, ys, _ = lgssm_2d
    online = paris_runs["hybrid"].online[0]  # (seeds, T, 2) for the Σ x_t leaf
    for t in (0, 7, 13):
        exact = np.asarray(ssm.rts_smoother(params, ys[: t + 1]).means.sum(0))
        assert_within_se(online[:, t], exact, z=4, what=f"online estimate at t={t}")
    np.testing.assert_array_equal(online[:, -1], paris_runs["hybrid"].estimate[0])


def test_paris_log_likelihood_is_the_filters(x64, lgssm_2d, paris_runs):
    """The forward pass is the particle filter: its log-likelihood estimate is exp-unbiased."""
    _, params, ys, _ = lgssm_2d
    ll = np.asarray(paris_runs["exact"].log_likelihood)
    exact = float(ssm.kalman_filter(params, ys).log_likelihood)
    ratio = np.exp(ll - exact)  # E[p^/p] = 1 (unbiased likelihood estimate)
    assert_within_se(ratio, 1.0, z=4, what="likelihood ratio")


def test_float32_stays_accurate_over_a_long_series(lgssm_1d, lg_params_of):
    """float32, T = 500: the compensated statistics keep the running sum accurate."""
    model, _, u, _, _ = lgssm_1d
    u32 = jax.tree.map(lambda v: jnp.asarray(v, jnp.float32), u)
    params = lg_params_of(u32)
    _, ys = ssm.simulate(jax.random.key(5), model, params, 500)
    with jax.enable_x64(True):
        p64 = jax.tree.map(lambda v: jnp.asarray(v, jnp.float64), params)
        exact = float(ssm.rts_smoother(p64, jnp.asarray(ys, jnp.float64)).means.sum())
    h = smc.AdditiveFunctional(lambda x0: x0, lambda xp, x, t: x)
    est = jax.vmap(lambda k: smc.paris(k, model, params, ys, h, 50, backward="exact").estimate)(
        keys(8, 3)
    )
    assert est.dtype == jnp.float32
    # 8 seeds; the O(T/N) bias of this sum is below 4 SE (checked in float64 too).
    assert_within_se(est[:, 0], exact, z=4, what="float32 sum over T=500")


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


def test_paris_compiles_once_per_static_configuration(x64, lgssm_2d, sum_and_pairs):
    """New keys, parameters and data of the same shapes reuse the compiled program."""
    model, params, ys, _ = lgssm_2d
    h = sum_and_pairs
    smc.paris(jax.random.key(0), model, params, ys, h, 20, backward="exact")
    before = smoothing._paris._cache_size()
    params2 = params._replace(F=params.F * 0.5, R=params.R * 2.0)
    smc.paris(jax.random.key(1), model, params2, ys + 1.0, h, 20, backward="exact")
    smc.paris(jax.random.key(2), model, params, ys * 2.0, h, 20, backward="exact")
    assert smoothing._paris._cache_size() == before


def test_kernel_pieces_reproduce_the_loop(x64, lgssm_2d, sum_and_pairs):
    """smc.paris.init / .step in a hand-written loop give the same estimate as smc.paris."""
    model, params, ys, _ = lgssm_2d
    SUM_AND_PAIRS = sum_and_pairs
    key = jax.random.key(4)
    res = smc.paris(key, model, params, ys, SUM_AND_PAIRS, 20, backward="exact")
    k0, k_rest = jax.random.split(key)
    state, _ = smc.paris.init(k0, model, params, ys[0], SUM_AND_PAIRS, 20)
    step = jax.jit(
        lambda k, s, y, t: smc.paris.step(
            k, s, model, params, y, t, SUM_AND_PAIRS, backward="exact"
        )
    )
    for t, k in zip(range(1, ys.shape[0]), jax.random.split(k_rest, ys.shape[0] - 1)):
        state, _ = step(k, state, ys[t], t)
    est = accumulate.value(state.estimate)
    for a, b in zip(jax.tree.leaves(est), jax.tree.leaves(res.estimate)):
        np.testing.assert_allclose(a, b, rtol=1e-10)
