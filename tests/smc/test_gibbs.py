"""Parisian particle Gibbs: the roll-out estimator is unbiased at small N where PaRIS at the same
cost is not (moments and Fisher score on a linear-Gaussian model, against Kalman/RTS)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit import smc, ssm
from probkit.smc import gibbs
from probkit.testing import assert_within_se, keys, z_scores

T = 60
N = 50
NUM_CHAINS = 20
NUM_ITERATIONS = 50
BURN_IN = 5


@pytest.fixture(scope="module")
def problem(lgssm_1d, lg_params_of):
    """1-D model on u = (ρ, log σx, log σy), T = 60; h = (Σ x_t, Σ x_t², score), exact values."""
    _, model_u, u, _, _ = lgssm_1d
    with jax.enable_x64(True):
        rng = np.random.default_rng(21)  # the model's AR(1) path and noisy observations
        x = np.zeros(T)
        x[0] = rng.normal()
        for t in range(1, T):
            x[t] = 0.8 * x[t - 1] + rng.normal()
        ys = jnp.asarray(x + np.sqrt(0.5) * rng.normal(size=T))[:, None]
        rts = ssm.rts_smoother(lg_params_of(u), ys)
        m, v = rts.means[:, 0], rts.covs[:, 0, 0]
        score = jax.grad(lambda w: ssm.kalman_filter(lg_params_of(w), ys).log_likelihood)(u)
        exact = {
            "sum": float(m.sum()),
            "sum_sq": float((m**2 + v).sum()),
            **{k: float(val) for k, val in score.items()},
        }
        fisher = smc.score_functional(model_u)
        h = smc.AdditiveFunctional(
            initial=lambda x0, ctx: (x0[0], x0[0] ** 2, fisher.initial(x0, ctx)),
            increment=lambda xp, x, t, ctx: (x[0], x[0] ** 2, fisher.increment(xp, x, t, ctx)),
            with_context=True,
            name="moments and score",
        )
        return model_u, u, ys, h, exact


def _flat(est):
    s, s2, score = est
    return {"sum": s, "sum_sq": s2, **score}


@pytest.fixture(scope="module")
def ppg_runs(problem):
    model_u, u, ys, h, _ = problem
    with jax.enable_x64(True):
        res = jax.vmap(lambda k: smc.ppg(k, model_u, u, ys, h, N, NUM_ITERATIONS, burn_in=BURN_IN))(
            keys(NUM_CHAINS, seed=3)
        )
        return jax.block_until_ready(res)


def test_ppg_roll_out_is_unbiased_at_small_n(x64, problem, ppg_runs):
    """20 independent chains, N = 50: each roll-out average (45 iterations after a burn-in of 5)
    is an estimate; their spread gives the SE. Moments and every score coordinate pass 4 SE."""
    *_, exact = problem
    est = _flat(ppg_runs.estimate)
    for name, value in exact.items():
        assert_within_se(np.asarray(est[name]), value, z=4, what=f"PPG {name}")
    assert not bool(jnp.any(ppg_runs.failed))


def test_paris_at_equal_cost_stays_biased(x64, problem):
    """The same budget spent on PaRIS — each chain's 50 iterations replaced by 50 independent
    PaRIS(N = 50) passes (`conditional=False`, the same compiled program) — keeps the O(T/N)
    bias of self-normalisation: some coordinate is off by more than 4 SE."""
    model_u, u, ys, h, exact = problem
    runs = jax.vmap(
        lambda k: (
            smc.ppg(
                k, model_u, u, ys, h, N, NUM_ITERATIONS, burn_in=BURN_IN, conditional=False
            ).iterates
        )
    )(keys(NUM_CHAINS, seed=4))
    est = _flat(jax.tree.map(lambda v: v.mean(axis=1), runs))
    worst = max(abs(float(z_scores(np.asarray(est[k]), v))) for k, v in exact.items())
    assert worst > 4, f"PaRIS at N = {N} should be visibly biased here, worst |z| = {worst:.1f}"


def test_ppg_result_fields_and_arviz_export(x64, ppg_runs):
    one = jax.tree.map(lambda v: v[0], ppg_runs)
    assert one.path.shape == (T, 1)
    assert one.iterates[0].shape == (NUM_ITERATIONS,)
    np.testing.assert_allclose(one.estimate[0], np.mean(one.iterates[0][BURN_IN:]), rtol=1e-12)
    assert one.info.ess.shape == (NUM_ITERATIONS, T)
    idata = one.to_inference_data()
    assert idata.posterior["estimate.0"].shape == (1, NUM_ITERATIONS - BURN_IN)
    assert idata.warmup_posterior["estimate.0"].shape == (1, BURN_IN)  # burn-in kept apart
    np.testing.assert_allclose(idata.posterior["estimate.0"].values.mean(), one.estimate[0])


def test_ppg_kernel_is_a_pure_step(x64, problem):
    """smc.ppg.kernel gives init(key, params) and step(key, state, params) for a user's loop."""
    model_u, u, ys, h, exact = problem
    kernel = smc.ppg.kernel(model_u, ys, h, N, backward="exact")

    @jax.jit
    def run(key):
        k0, k1 = jax.random.split(key)
        state = kernel.init(k0, u)

        def body(state, k):
            state, info = kernel.step(k, state, u)
            return state, info.estimate[0]

        return jax.lax.scan(body, state, jax.random.split(k1, 30))

    state, sums = run(jax.random.key(0))
    assert state.path.shape == (T, 1) and sums.shape == (30,)
    # One chain of 30 iterations: a loose sanity check (within 6 naive SEs).
    assert abs(float(sums[5:].mean()) - exact["sum"]) < 6 * float(sums[5:].std()) + 1e-9


def test_ppg_compiles_once_per_static_configuration(x64, problem, ppg_runs):
    """New keys, parameters, data and the baseline flag reuse the compiled program."""
    model_u, u, ys, h, _ = problem
    before = gibbs._ppg._cache_size()
    u2 = {k: v * 0.9 for k, v in u.items()}
    jax.vmap(
        lambda k: (
            smc.ppg(
                k, model_u, u2, ys + 0.5, h, N, NUM_ITERATIONS, burn_in=BURN_IN, conditional=False
            ).estimate
        )
    )(keys(NUM_CHAINS, seed=8))
    assert gibbs._ppg._cache_size() == before


def test_ppg_bad_input(x64, problem):
    model_u, u, ys, h, _ = problem
    k = jax.random.key(0)
    with pytest.raises(ValueError, match="burn_in"):
        smc.ppg(k, model_u, u, ys, h, 10, 5, burn_in=5)
    with pytest.raises(ValueError, match="num_backward"):
        smc.ppg(k, model_u, u, ys, h, 10, 5, num_backward=0)
    with pytest.raises(ValueError, match="num_iterations"):
        smc.ppg(k, model_u, u, ys, h, 10, 0)
    with pytest.raises(ValueError, match="path must have shape"):
        smc.ppg(k, model_u, u, ys, h, 10, 5, path=jnp.zeros((T + 1, 1)))
    with pytest.raises(TypeError, match="AdditiveFunctional"):
        smc.ppg.kernel(model_u, ys, lambda x: x, 10)
