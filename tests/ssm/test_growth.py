"""The nonlinear growth model and the complete-data log-density."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from probkit import smc, ssm


def test_growth_densities_match_the_formulas(x64):
    model, p = ssm.nonlinear_growth()
    x_prev, x, y, t = 1.3, -2.0, 0.7, 4
    mean = 0.5 * x_prev + 25 * x_prev / (1 + x_prev**2) + 8 * math.cos(1.2 * (t - 1))
    np.testing.assert_allclose(
        model.transition(p, jnp.asarray(x_prev), t).log_prob(x),
        stats.norm(mean, math.sqrt(10)).logpdf(x),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        model.observation(p, jnp.asarray(x), t).log_prob(y),
        stats.norm(0.05 * x**2, 1.0).logpdf(y),
        rtol=1e-12,
    )
    np.testing.assert_allclose(model.initial(p).log_prob(0.3), stats.norm(0, 2).logpdf(0.3))
    # The bound is the transition density's maximum (attained at the mean).
    np.testing.assert_allclose(
        model.transition_log_bound(p), model.transition(p, jnp.asarray(x_prev), t).log_prob(mean)
    )


def test_growth_validates_its_parameters():
    with pytest.raises(ValueError, match="sigma_x"):
        ssm.nonlinear_growth(sigma_x=0.0)
    with pytest.raises(ValueError, match="scalar"):
        ssm.nonlinear_growth(b=jnp.ones(2))


def test_growth_paris_runs(x64):
    model, p = ssm.nonlinear_growth()
    xs, ys = ssm.simulate(jax.random.key(0), model, p, 30)
    assert xs.shape == (30,) and ys.shape == (30,)
    h = smc.AdditiveFunctional(lambda x0: x0**2, lambda xp, x, t: x**2)
    res = smc.paris(jax.random.key(1), model, p, ys, h, 100)
    pf = smc.particle_filter(jax.random.key(1), model, p, ys, 100, ess_threshold=0.5, history=False)
    # Same key, same forward pass: PaRIS's log-likelihood is the particle filter's.
    np.testing.assert_allclose(res.log_likelihood, pf.log_likelihood, rtol=1e-12)
    assert not bool(res.failed) and float(res.estimate) > 0


def test_log_joint_is_the_sum_of_the_factors(x64):
    model, p = ssm.stochastic_volatility()
    xs, ys = ssm.simulate(jax.random.key(2), model, p, 6)
    ys = ys.at[3].set(jnp.nan)  # a missing observation contributes nothing
    expected = float(model.initial(p).log_prob(xs[0]))
    for t in range(1, 6):
        expected += float(model.transition(p, xs[t - 1], t).log_prob(xs[t]))
    for t in range(6):
        if t != 3:
            expected += float(model.observation(p, xs[t], t).log_prob(ys[t]))
    np.testing.assert_allclose(ssm.log_joint(model, p, xs, ys), expected, rtol=1e-12)
