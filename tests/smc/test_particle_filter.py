"""Particle filter against the exact Kalman answer (float64 unless stated)."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
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
        model, params = ssm.linear_gaussian(F, Q, H, R, jnp.zeros(2), jnp.eye(2))
        _, ys = ssm.simulate(jax.random.key(0), model, params, 15)
        return model, params, np.asarray(ys)


def loglik_ratios(model, params, ys, n, num_seeds=200, **kw):
    exact = ssm.kalman_filter(params, ys).log_likelihood
    lls = jax.vmap(
        lambda k: smc.particle_filter(k, model, params, ys, n, history=False, **kw).log_likelihood
    )(keys(num_seeds, 7))
    return np.exp(np.asarray(lls - exact))


@pytest.mark.parametrize(
    "resampling,ess_threshold",
    [
        ("systematic", 1.0),
        ("systematic", 0.5),
        ("stratified", 0.5),
        ("multinomial", 1.0),
        ("residual", 0.5),
    ],
)
def test_likelihood_estimate_is_unbiased(x64, lgssm, resampling, ess_threshold):
    # E[p^(y)] = p(y): mean of exp(ll_hat - ll_exact) is 1 within 3 SE over 200 seeds.
    ratios = loglik_ratios(*lgssm, 100, resampling=resampling, ess_threshold=ess_threshold)
    assert_within_se(ratios, 1.0, z=3, what=f"likelihood ratio ({resampling}, {ess_threshold})")


def test_filtering_means_match_kalman(x64, lgssm):
    model, params, ys = lgssm
    kf = ssm.kalman_filter(params, ys)
    means = jax.vmap(lambda k: smc.particle_filter(k, model, params, ys, 2000).mean())(keys(64, 3))
    # Self-normalisation bias is O(1/N) = O(5e-4) here, well below the SE (~2e-3).
    assert_within_se(means, kf.means, z=4, what="filtering means")


def test_missing_observations_match_kalman_with_the_same_gaps(x64, lgssm):
    model, params, ys = lgssm
    ys = ys.copy()
    ys[4:7] = np.nan
    ys[10, 0] = np.nan
    ratios = loglik_ratios(model, params, ys, 100)
    assert_within_se(ratios, 1.0, z=3, what="likelihood ratio with gaps")
    res = smc.particle_filter(jax.random.key(0), model, params, ys, 50)
    assert not bool(res.resampled[5]) or float(res.ess[4]) < 25  # pure prediction steps
    np.testing.assert_allclose(res.log_likelihood_increments[4:7], 0.0, atol=1e-12)


def test_guided_filter_with_locally_optimal_proposal_is_unbiased(x64, lgssm):
    model, params, ys = lgssm
    # q(x_t | x_{t-1}, y_t) = p(x_t | x_{t-1}, y_t), Gaussian in closed form.
    S = H @ Q @ H.T + R
    K = Q @ H.T @ np.linalg.inv(S)
    cov = Q - K @ H @ Q
    S0 = H @ H.T + R
    K0 = H.T @ np.linalg.inv(S0)
    proposal = smc.Proposal(
        initial=lambda p, y: dist.MultivariateNormal(K0 @ y, covariance_matrix=np.eye(2) - K0 @ H),
        transition=lambda p, xp, y, t: dist.MultivariateNormal(
            F @ xp + K @ (y - H @ F @ xp), covariance_matrix=cov
        ),
    )
    ratios = loglik_ratios(model, params, ys, 20, proposal=proposal)
    assert_within_se(ratios, 1.0, z=3, what="guided likelihood ratio")
    # The optimal proposal gives a much lower variance than the bootstrap at the same N.
    boot = loglik_ratios(model, params, ys, 20)
    assert ratios.std() < 0.5 * boot.std()


def test_float32_log_likelihood_over_10000_steps():
    model, params = ssm.linear_gaussian(0.9, 0.5, 1.0, 1.0, 0.0, 1.0)
    _, ys = ssm.simulate(jax.random.key(1), model, params, 10_000)
    res = smc.particle_filter(jax.random.key(2), model, params, ys, 2000, history=False)
    with jax.enable_x64(True):
        p64 = ssm.LinearGaussianParams(*(jnp.asarray(a, jnp.float64) for a in params))
        exact = ssm.kalman_filter(p64, jnp.asarray(ys, jnp.float64)).log_likelihood
    assert res.log_likelihood.dtype == jnp.float32
    assert abs(float(res.log_likelihood) - float(exact)) / abs(float(exact)) < 1e-3


def test_impossible_observations_report_failure_not_nan():
    model, params = ssm.stochastic_volatility()
    never = ssm.StateSpaceModel(
        model.initial,
        model.transition,
        lambda p, x, t: dist.Uniform(x + 100.0, x + 101.0),  # y = 0 has zero density
        vectorized=True,
    )
    res = smc.particle_filter(jax.random.key(0), never, params, jnp.zeros(6), 32)
    assert bool(res.failed) and int(res.failed_at) == 0
    assert float(res.log_likelihood) == -np.inf
    assert not np.isnan(np.asarray(res.log_weights)).any()
    assert not np.isnan(np.asarray(res.particles)).any()
    ok = smc.particle_filter(jax.random.key(0), *ssm.stochastic_volatility(), jnp.zeros(6), 32)
    assert not bool(ok.failed) and int(ok.failed_at) == -1


def test_bad_inputs_are_clear_errors(x64, lgssm):
    model, params, ys = lgssm
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="num_particles must be an integer >= 2"):
        smc.particle_filter(key, model, params, ys, 1)
    with pytest.raises(ValueError, match=r"ys must have shape \(T, 2\)"):
        smc.particle_filter(key, model, params, ys[:, :1], 10)
    with pytest.raises(ValueError, match="params.*must be finite"):
        smc.particle_filter(key, model, params._replace(F=params.F * np.nan), ys, 10)
    with pytest.raises(ValueError, match="resampling must be one of"):
        smc.particle_filter(key, model, params, ys, 10, resampling="bogus")
    with pytest.raises(ValueError, match=r"ess_threshold must be in \[0, 1\]"):
        smc.particle_filter(key, model, params, ys, 10, ess_threshold=2.0)
    with pytest.raises(TypeError, match="key must be a single JAX PRNG key"):
        smc.particle_filter(0, model, params, ys, 10)
    with pytest.raises(TypeError, match="model must be a probkit.ssm.StateSpaceModel"):
        smc.particle_filter(key, "model", params, ys, 10)
    sv, svp = ssm.stochastic_volatility()
    cauchy = ssm.StateSpaceModel(
        sv.initial,
        sv.transition,
        lambda p, x, t: dist.MultivariateStudentT(3.0, jnp.stack([x, x]), jnp.eye(2)),
    )
    partial = np.zeros((5, 2))
    partial[2, 0] = np.nan
    with pytest.raises(ValueError, match="partly missing observations"):
        smc.particle_filter(key, cauchy, svp, partial, 10)


def test_compiles_once_per_static_configuration(x64, lgssm):
    model, params, ys = lgssm
    from probkit.smc import filtering

    before = filtering._run._cache_size()
    for seed in range(3):
        smc.particle_filter(jax.random.key(seed), model, params, ys, 16)
    assert filtering._run._cache_size() == before + 1


def test_init_and_step_compose_into_a_user_loop(x64, lgssm):
    model, params, ys = lgssm
    key = jax.random.key(5)
    state, info0 = smc.particle_filter.init(key, model, params, ys[0], 64)
    total = info0.log_likelihood_increment
    for t in range(1, ys.shape[0]):
        state, info = smc.particle_filter.step(
            jax.random.fold_in(key, t), state, model, params, ys[t], t
        )
        total = total + info.log_likelihood_increment
    np.testing.assert_allclose(
        total, state.log_likelihood.total + state.log_likelihood.compensation, rtol=1e-10
    )


def test_params_of_the_wrong_type_name_the_argument():
    model, params = ssm.stochastic_volatility()
    _, ys = ssm.simulate(jax.random.key(0), model, params, 10)
    as_dict = dict(mu=-1.0, rho=0.9, sigma=0.2)
    with pytest.raises(
        TypeError, match=r"params must be a StochVolParams.*StochVolParams\(\*\*d\)"
    ):
        smc.particle_filter(jax.random.key(1), model, as_dict, ys, 10)
    with pytest.raises(TypeError, match="params must be a StochVolParams"):
        smc.paris(
            jax.random.key(1),
            model,
            as_dict,
            ys,
            smc.AdditiveFunctional(initial=lambda x0: x0, increment=lambda xp, x, t: x),
            10,
        )
    custom = ssm.StateSpaceModel(model.initial, model.transition, model.observation)
    with pytest.raises(TypeError, match="params does not fit.*AttributeError"):
        smc.particle_filter(jax.random.key(1), custom, as_dict, ys, 10)
