"""Parameter learning: MLE by stochastic approximation with PPG scores recovers the exact
Kalman MLE; Markov score climbing recovers the exact KL(p ‖ q)-optimal Markov proposal."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import optax
import pytest
import scipy.optimize

from probkit import smc, ssm


@pytest.fixture(scope="module")
def mle_problem(lg_params_of):
    """1-D linear-Gaussian, T = 100; the exact MLE of u = (ρ, log σx, log σy) and its SEs."""
    with jax.enable_x64(True):
        model, true = ssm.linear_gaussian(0.8, 1.0, 1.0, 0.5, 0.0, 1.0)
        _, ys = ssm.simulate(jax.random.key(11), model, true, 100)

        def negll(v):
            u = {"rho": v[0], "log_sx": v[1], "log_sy": v[2]}
            # The jitted core of ssm.kalman_filter (its eager input checks cannot run in jit).
            return -ssm.kalman._kalman(lg_params_of(u), ys).log_likelihood

        value_and_grad = jax.jit(jax.value_and_grad(negll))
        opt = scipy.optimize.minimize(
            lambda v: tuple(np.asarray(a) for a in value_and_grad(jnp.asarray(v))),
            np.array([0.5, 0.0, 0.0]),
            jac=True,
            method="BFGS",
            options={"gtol": 1e-10},
        )
        se = np.sqrt(np.diag(np.linalg.inv(jax.jit(jax.hessian(negll))(jnp.asarray(opt.x)))))
        return model, ys, opt.x, se


def test_fit_mle_with_ppg_recovers_the_kalman_mle(x64, mle_problem, lg_params_of):
    model, ys, mle, se = mle_problem
    u0 = {"rho": jnp.array(0.5), "log_sx": jnp.array(0.0), "log_sy": jnp.array(0.0)}
    fit = smc.fit_mle(
        jax.random.key(0),
        model,
        u0,
        ys,
        num_particles=30,
        num_steps=1000,
        estimator="ppg",
        parametrization=lg_params_of,
        step_size=1.0,
        decay=0.6,
    )
    est = np.array([fit.params["rho"], fit.params["log_sx"], fit.params["log_sy"]])
    # Tolerance: 0.1 of the MLE's own standard error (the statistical uncertainty in θ).
    np.testing.assert_array_less(np.abs(est - mle), 0.1 * se)
    assert not bool(fit.failed)
    assert fit.trace["rho"].shape == (1000,)
    np.testing.assert_allclose(fit.model_params.F[0, 0], fit.params["rho"])
    idata = fit.to_inference_data()
    assert "posterior" not in idata.groups()  # optimiser iterates are not posterior draws
    assert idata.optimization_trace["rho"].shape == (1000,)
    assert idata.optimization_trace["score_norm"].dims == ("iteration",)


@pytest.fixture(scope="module")
def msc_problem():
    """1-D linear-Gaussian, T = 50, and the exact minimiser of KL(p(x | y) ‖ q_λ) over the
    Markov family q_0 = N(m0, s0²), q_t(x_t | x_t-1, y_t) = N(a x_t-1 + b y_t, s²).

    KL(p ‖ q) = const − E_p[log q], so λ* solves a least-squares problem in the RTS moments."""
    with jax.enable_x64(True):
        model, params = ssm.linear_gaussian(0.8, 1.0, 1.0, 0.25, 0.0, 1.0)
        _, ys = ssm.simulate(jax.random.key(2), model, params, 50)
        rts = ssm.rts_smoother(params, ys)
        m, v, c = (np.asarray(a)[:, 0] for a in (rts.means, rts.covs[:, 0], rts.cross_covs[:, 0]))
        y = np.asarray(ys)[1:, 0]
        xx_prev, xy_prev, yy = np.sum(m[:-1] ** 2 + v[:-1]), np.sum(m[:-1] * y), np.sum(y**2)
        x_cross, x_y = np.sum(m[1:] * m[:-1] + c), np.sum(m[1:] * y)
        a, b = np.linalg.solve([[xx_prev, xy_prev], [xy_prev, yy]], [x_cross, x_y])
        mse = (
            np.sum(m[1:] ** 2 + v[1:])
            + a**2 * xx_prev
            + b**2 * yy
            - 2 * a * x_cross
            - 2 * b * x_y
            + 2 * a * b * xy_prev
        ) / (len(m) - 1)
        exact = {
            "a": a,
            "b": b,
            "log_s": 0.5 * np.log(mse),
            "m0": m[0],
            "log_s0": 0.5 * np.log(v[0]),
        }
        return model, params, ys, exact


PROPOSAL = smc.ParametricProposal(
    initial=lambda lam, p, y0: (
        dist.Normal(lam["m0"], jnp.exp(lam["log_s0"])).expand([1]).to_event(1)
    ),
    transition=lambda lam, p, x_prev, y, t: dist.Normal(
        lam["a"] * x_prev + lam["b"] * y, jnp.exp(lam["log_s"])
    ).to_event(1),
)


def test_fit_msc_recovers_the_kl_optimal_proposal(x64, msc_problem):
    model, params, ys, exact = msc_problem
    lam0 = {k: jnp.array(0.0) for k in exact}
    fit = smc.fit_msc(
        jax.random.key(0),
        model,
        params,
        ys,
        PROPOSAL,
        lam0,
        num_particles=30,
        num_steps=800,
        optimizer=optax.adam(0.02),
    )
    for name, value in exact.items():
        # 0.05 absolute: a few % of each parameter's scale (the optimum is deterministic).
        assert abs(float(fit.params[name]) - value) < 0.05, (name, float(fit.params[name]), value)
    assert not bool(fit.failed)


def test_learning_bad_input(x64, mle_problem, lg_params_of):
    model, ys, _, _ = mle_problem
    u0 = {"rho": jnp.array(0.5), "log_sx": jnp.array(0.0), "log_sy": jnp.array(0.0)}
    k = jax.random.key(0)
    with pytest.raises(ValueError, match="estimator"):
        smc.fit_mle(k, model, u0, ys, parametrization=lg_params_of, estimator="em")
    with pytest.raises(TypeError, match="optimizer"):
        smc.fit_mle(k, model, u0, ys, parametrization=lg_params_of, optimizer="adam")
    with pytest.raises(TypeError, match="float"):
        smc.fit_mle(k, model, {"rho": jnp.array(1)}, ys, parametrization=lg_params_of)
    with pytest.raises(ValueError, match="average_from"):
        smc.fit_mle(k, model, u0, ys, parametrization=lg_params_of, num_steps=10, average_from=10)
    with pytest.raises(ValueError, match="num_backward"):
        smc.fit_mle(k, model, u0, ys, parametrization=lg_params_of, num_backward=0)
    with pytest.raises(ValueError, match="step_size"):
        smc.fit_mle(k, model, u0, ys, parametrization=lg_params_of, step_size=-1.0)
    with pytest.raises(ValueError, match=r"decay must be in \(0, 1\]"):  # 0 diverges
        smc.fit_mle(k, model, u0, ys, parametrization=lg_params_of, decay=0.0)
    with pytest.raises(TypeError, match="ParametricProposal"):
        smc.fit_msc(k, model, lg_params_of(u0), ys, lambda x: x, {"a": jnp.array(0.0)})
