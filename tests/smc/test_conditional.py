"""Conditional SMC leaves the smoothing distribution invariant (z-tests against RTS), and its
kernel composes with a blackjax NUTS step on the parameters (particle Gibbs within Gibbs)."""

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit import smc, ssm
from probkit.testing import assert_within_se, keys

T = 10
NUM_CHAINS = 256
NUM_SWEEPS = 40


@pytest.fixture(scope="module")
def ar1():
    """1-D AR(1) observed in noise (ρ = 0.9, σx = 1, σy = 0.3), T = 10, with exact RTS draws."""
    with jax.enable_x64(True):
        model, params = ssm.linear_gaussian(0.9, 1.0, 1.0, 0.09, 0.0, 1.0 / (1 - 0.81))
        _, ys = ssm.simulate(jax.random.key(3), model, params, T)
        rts = ssm.rts_smoother(params, ys)
        filt = rts.filtered

        def exact_draw(key):  # backward sampling in the Kalman model: an exact posterior draw
            def body(x_next, inp):
                k, m, P = inp
                gain = P * 0.9 / (0.81 * P + 1.0)
                mean, var = m + gain * (x_next - 0.9 * m), P - gain * 0.9 * P
                x = mean + jnp.sqrt(var) * jax.random.normal(k, (1,))
                return x, x

            k0, k1 = jax.random.split(key)
            last = filt.means[-1] + jnp.sqrt(filt.covs[-1, 0]) * jax.random.normal(k0, (1,))
            _, xs = jax.lax.scan(
                body,
                last,
                (jax.random.split(k1, T - 1), filt.means[:-1], filt.covs[:-1, 0]),
                reverse=True,
            )
            return jnp.concatenate([xs, last[None]])

        starts = jax.vmap(exact_draw)(keys(NUM_CHAINS, seed=5))
        return model, params, ys, rts, starts


# Backward sampling with the default scheme; ancestor sampling (whose reference ancestor is
# redrawn, so it exercises the conditional resampler) with residual resampling, whose
# conditional (size-biased multiset) is the most intricate. The conditional
# resamplers themselves are checked exactly in tests/core/test_conditional_resampling.py.
CONFIGS = [("backward", "systematic"), ("ancestor", "residual")]


@pytest.mark.parametrize(("sampler", "resampling"), CONFIGS)
def test_chain_from_an_exact_draw_keeps_the_rts_marginals(x64, ar1, sampler, resampling):
    """256 chains of 40 iterations with N = 5, each started from an exact posterior draw.

    Invariance means every state of every chain is an exact draw: per time t, the grand mean of
    x_t and of (x_t - m_t)^2 must match the RTS mean and variance. The per-chain averages are
    independent across chains, so their spread gives SEs that account for autocorrelation.
    """
    model, params, ys, rts, starts = ar1
    run = jax.vmap(
        lambda k, p: (
            smc.csmc(
                k, model, params, ys, p, 5, NUM_SWEEPS, sampler=sampler, resampling=resampling
            ).paths
        )
    )
    paths = np.asarray(run(keys(NUM_CHAINS, seed=7), starts))[..., 0]  # (chains, sweeps, T)
    mean, var = np.asarray(rts.means[:, 0]), np.asarray(rts.covs[:, 0, 0])
    assert_within_se(paths.mean(axis=1), mean, z=4, what=f"means ({sampler}, {resampling})")
    assert_within_se(
        ((paths - mean) ** 2).mean(axis=1), var, z=4, what=f"variances ({sampler}, {resampling})"
    )
    assert 0.2 < np.mean(paths[:, 1:] != paths[:, :-1]) < 1.0  # the chain moves


def test_csmc_from_a_filter_draw_and_arviz_export(x64, ar1):
    model, params, ys, _, _ = ar1
    # path=None starts from one filter with backward sampling; vmapped like the chains above,
    # so the chain itself reuses their compiled program.
    res = jax.vmap(lambda k: smc.csmc(k, model, params, ys, None, 5, NUM_SWEEPS))(
        keys(NUM_CHAINS, seed=11)
    )
    assert res.paths.shape == (NUM_CHAINS, NUM_SWEEPS, T, 1)
    assert res.info.ess.shape == (NUM_CHAINS, NUM_SWEEPS, T)
    assert not bool(jnp.any(res.info.degenerate))
    one = jax.tree.map(lambda v: v[0], res)
    idata = one.to_inference_data()
    assert idata.posterior["x"].shape == (1, NUM_SWEEPS, T, 1)


def test_csmc_bad_input(x64, ar1):
    model, params, ys, _, starts = ar1
    k = jax.random.key(0)
    with pytest.raises(ValueError, match="sampler"):
        smc.csmc(k, model, params, ys, starts[0], 5, 3, sampler="forward")
    with pytest.raises(ValueError, match="path must have shape"):
        smc.csmc(k, model, params, ys, starts[0][:-1], 5, 3)
    with pytest.raises(ValueError, match="num_iterations"):
        smc.csmc(k, model, params, ys, starts[0], 5, 0)
    with pytest.raises(ValueError, match="resampling"):
        smc.csmc.kernel(model, ys, 5, resampling="killing")


# --- particle Gibbs within Gibbs: conditional SMC for the path, NUTS for ρ ------------------

PRIOR_MEAN, PRIOR_SD = 0.5, 0.5


def ar1_params(rho):
    one = jnp.ones((1, 1), rho.dtype)
    return ssm.LinearGaussianParams(
        rho * one, one, one, 0.09 * one, jnp.zeros(1, rho.dtype), one / (1 - 0.81)
    )


def test_nuts_within_particle_gibbs_matches_the_grid_posterior(x64, ar1):
    """E[ρ | y] from alternating a CSMC path update with a blackjax NUTS step on ρ given the
    path matches the posterior mean computed on a grid with the Kalman likelihood."""
    model, _, ys, _, starts = ar1
    grid = jnp.linspace(-0.5, 1.8, 2001)
    log_post = jax.vmap(lambda r: ssm.kalman_filter(ar1_params(r), ys).log_likelihood)(grid)
    log_post = log_post - 0.5 * ((grid - PRIOR_MEAN) / PRIOR_SD) ** 2
    w = np.exp(np.asarray(log_post - log_post.max()))
    exact = float(np.sum(w * grid) / np.sum(w))

    # --- the user code: a few lines on the public kernels ---
    csmc = smc.csmc.kernel(model, ys, num_particles=10)

    def log_density(rho, path):
        prior = -0.5 * ((rho - PRIOR_MEAN) / PRIOR_SD) ** 2
        return prior + ssm.log_joint(model, ar1_params(rho), path, ys)

    def gibbs_step(carry, key):
        path_state, rho = carry
        k_path, k_rho = jax.random.split(key)
        path_state, _ = csmc.step(k_path, path_state, ar1_params(rho))
        nuts = blackjax.nuts(
            lambda r: log_density(r, path_state.path),
            step_size=0.2,
            inverse_mass_matrix=jnp.ones(1),
        )
        rho_state, _ = nuts.step(k_rho, nuts.init(rho))
        return (path_state, rho_state.position), rho_state.position

    # ---

    def chain(key, path):
        init = (csmc.init(path), jnp.asarray(PRIOR_MEAN))
        _, rhos = jax.lax.scan(gibbs_step, init, jax.random.split(key, 300))
        return rhos[50:].mean()

    chain_means = jax.jit(jax.vmap(chain))(keys(12, seed=9), starts[:12])
    # 12 independent chains (250 kept iterations each): their means are i.i.d. estimates.
    assert_within_se(np.asarray(chain_means), exact, z=4, what="posterior mean of rho")


def test_kernel_init_and_step_reject_a_path_of_the_wrong_shape():
    model, params = ssm.stochastic_volatility()
    _, ys = ssm.simulate(jax.random.key(0), model, params, 12)
    kernel = smc.csmc.kernel(model, ys, num_particles=10)
    with pytest.raises(ValueError, match=r"path must have shape \(T, \*state_shape\) with T = 12"):
        kernel.init(jnp.zeros(11))
    with pytest.raises(ValueError, match="path must be finite"):
        kernel.init(jnp.full(12, jnp.nan))
    state = kernel.init(jnp.zeros((12, 2)))  # right length, wrong state shape
    with pytest.raises(ValueError, match=r"state.path must have shape \(12,\)"):
        jax.jit(kernel.step)(jax.random.key(1), state, params)  # caught while tracing
