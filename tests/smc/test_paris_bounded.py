"""The bounded-cost backward kernel: capped accept–reject, then MH moves from the ancestor.

Exactness of the draws (chi-square against Λ) and the cost bound (never more than
max_trials + mcmc_steps proposals per draw, whatever the acceptance rate); PaRIS with it
against the exact RTS smoother, also where the moves do all the work (a bound so loose that
accept–reject never accepts) and with ESS-triggered resampling and a guided proposal.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest

from probkit import smc, ssm
from probkit.smc import backward
from probkit.testing import assert_chi_square, assert_within_se, keys

NUM_DRAWS = 4000
NUM_SEEDS = 50
N = 200
LOOSE = 30.0  # added to the true bound: acceptance probability about e^-30, never in practice


def _loosened(model):
    bound = model.transition_log_bound
    return dataclasses.replace(model, transition_log_bound=lambda p: bound(p) + LOOSE)


@pytest.fixture(scope="module")
def system():
    """6 previous particles, 3 rows, stochastic-volatility transition, and the exact Λ."""
    with jax.enable_x64(True):
        model, params = ssm.stochastic_volatility(mu=0.0, rho=0.8, sigma=1.0)
        x_prev = jnp.array([-1.5, -0.4, 0.0, 0.3, 1.1, 2.0])
        lw = jnp.log(jnp.array([0.1, 0.3, 0.05, 0.25, 0.2, 0.1]))
        x = jnp.array([0.2, -1.0, 1.4])
        lm = backward.row_log_probs(model, params, x_prev, x, 1)
        return model, params, x_prev, lw, x, lm


@pytest.mark.parametrize("loose", [False, True], ids=["tight-bound", "moves-only"])
def test_draws_are_exactly_backward_distributed_from_an_exact_start(x64, system, loose):
    """With a Λ-distributed start (what the ancestor is under bootstrap + resampling every
    step), every draw is Λ-distributed, whether accept–reject or the MH moves produced it."""
    model, params, x_prev, lw, x, lm = system
    model = _loosened(model) if loose else model
    kernel = backward.bounded(max_trials=1, mcmc_steps=1)

    def one(k):
        k_start, k_draw = jax.random.split(k)
        start = backward.draw_from_rows(k_start, lw[None] + lm, 1)[0][:, 0]
        return backward.sample(k_draw, kernel, model, params, lw, x_prev, x, 1, 2, start=start)

    J, info = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(11), NUM_DRAWS))
    exact = np.asarray(jax.nn.softmax(lw[None] + lm, axis=-1))
    for row in range(3):  # chi-square at level 1e-3 per row, both draws pooled
        counts = np.bincount(np.asarray(J[:, row]).ravel(), minlength=6)
        assert_chi_square(counts, exact[row], what=f"bounded (loose={loose}), row {row}")
    assert not bool(jnp.any(info.bound_violated))
    # The cost bound: never more than max_trials + mcmc_steps = 2 proposals per draw. With the
    # loose bound accept–reject would need about e^30 proposals per draw; here every draw makes
    # exactly 2 and moves. With the true bound both stages run.
    trials, fallbacks = np.asarray(info.trials), np.asarray(info.fallbacks)
    assert np.all((trials >= 1.0) & (trials <= 2.0))
    if loose:
        assert np.all(trials == 2.0) and np.all(fallbacks == 6)
    else:
        assert 0 < fallbacks.mean() < 6 and trials.mean() < 2.0


def test_bounded_kernel_needs_ancestors_and_a_bound(x64, system, lgssm_2d, sum_and_pairs):
    model, params, x_prev, lw, x, _ = system
    with pytest.raises(ValueError, match="forward ancestors"):
        backward.sample(jax.random.key(0), backward.bounded(), model, params, lw, x_prev, x, 1, 2)
    no_bound = dataclasses.replace(model, transition_log_bound=None)
    with pytest.raises(ValueError, match="transition_log_bound"):
        backward.check("bounded", no_bound, allow_mcmc=True)
    with pytest.raises(ValueError, match="max_trials"):
        backward.bounded(max_trials=0)
    with pytest.raises(ValueError, match="mcmc_steps"):
        backward.bounded(mcmc_steps=0)
    lg, lg_params, ys, _ = lgssm_2d
    with pytest.raises(ValueError, match=r"'bounded' starts from .* smc.paris only"):
        smc.ppg(jax.random.key(0), lg, lg_params, ys, sum_and_pairs, 10, 4, backward="bounded")


def _guided(params):
    """A guided forward pass: the transition with its covariance inflated 1.5x."""

    def transition(p, x_prev, y, t):
        return dist.MultivariateNormal(p.F @ x_prev, 1.5 * p.Q)

    return smc.Proposal(lambda p, y: dist.MultivariateNormal(p.m0, p.P0), transition)


CASES = {
    # name: (loose bound, ess_threshold, guided). Resampling at every step with the bootstrap
    # filter (Dau & Chopin's setting) makes every draw exact: the chi-square test above.
    "ess-triggered": (False, 0.5, False),
    "moves-only, ess-triggered, guided": (True, 0.5, True),
}


@pytest.fixture(scope="module")
def bounded_runs(lgssm_2d, sum_and_pairs):
    """50 seeded PaRIS runs with the bounded kernel per case (one compilation each)."""
    model, params, ys, _ = lgssm_2d
    out = {}
    with jax.enable_x64(True):
        for name, (loose, ess, guided) in CASES.items():
            m = _loosened(model) if loose else model
            proposal = _guided(params) if guided else None

            def run(k, m=m, ess=ess, proposal=proposal):
                return smc.paris(
                    k,
                    m,
                    params,
                    ys,
                    sum_and_pairs,
                    N,
                    backward=backward.bounded(max_trials=1, mcmc_steps=1),
                    ess_threshold=ess,
                    proposal=proposal,
                )

            out[name] = jax.block_until_ready(jax.vmap(run)(keys(NUM_SEEDS, seed=2)))
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_paris_with_bounded_kernel_matches_rts(x64, lgssm_2d, bounded_runs, case):
    _, _, _, (sum_exact, pair_exact) = lgssm_2d
    res = bounded_runs[case]
    sums, pairs = res.estimate
    # 50 independent seeds; the O(T/N) bias (T = 20, N = 200) is far below 4 SE here.
    assert_within_se(sums, sum_exact, z=4, what=f"E[sum x_t] ({case})")
    assert_within_se(
        pairs.reshape(NUM_SEEDS, -1), pair_exact.ravel(), z=4, what=f"E[sum x_t x_t+1^T] ({case})"
    )
    assert not bool(jnp.any(res.failed))
    assert not bool(jnp.any(res.info.bound_violated))
    trials = np.asarray(res.info.backward_trials[:, 1:])
    assert np.all(trials <= 2.0)  # max_trials + mcmc_steps
    if CASES[case][0]:  # the loose bound: every draw made both proposals, all moved
        np.testing.assert_allclose(trials, 2.0)
        assert np.all(np.asarray(res.info.backward_fallbacks[:, 1:]) == N * 2)
