# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The particle filter, against the exact Kalman answer
#
# `smc.particle_filter` runs the bootstrap filter (Gordon, Salmond & Smith 1993), or a guided
# filter with your proposal, on any `ssm.StateSpaceModel`: N weighted particles approximate
# p(x_t | y_0:t); each step resamples when the effective sample size (ESS) falls below
# `ess_threshold`·N, moves the particles with the transition, and reweights them by the
# observation density. The product of the weight averages is an unbiased estimate of the
# likelihood p(y_0:T-1). The [particle filter page](../../particle_filter/) has the details.
#
# Two parts:
#
# 1. **stochastic volatility**, a nonlinear model with no closed form: filter the log-variance;
# 2. **a 2-D linear-Gaussian model with missing observations**, where the Kalman filter is
#    exact: the filter's log-likelihood and filtering means against Kalman's.
#
# The knobs:

# %%
NUM_PARTICLES = 500  # N
NUM_STEPS = 100  # T
NUM_REPLICATES = 32  # independent filters on the same data, for the Monte Carlo error
RESAMPLING = "systematic"  # or "stratified", "multinomial", "residual"
ESS_THRESHOLD = 0.5  # resample when ESS < ESS_THRESHOLD * N (1.0: every step, 0.0: never)

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from probkit import smc, ssm

plt.rcParams["figure.dpi"] = 60  # small figures in the rendered notebook
k_sim, k_pf, k_lg, k_rep = jax.random.split(jax.random.key(0), 4)
options = dict(resampling=RESAMPLING, ess_threshold=ESS_THRESHOLD)

# %% [markdown]
# ## 1. Stochastic volatility
#
# x_t = μ + ρ(x_{t-1} − μ) + σ ε_t is the log-variance of the returns y_t ~ N(0, exp(x_t)).

# %%
model, params = ssm.stochastic_volatility(mu=-1.0, rho=0.95, sigma=0.2)
xs, ys = ssm.simulate(k_sim, model, params, NUM_STEPS)
res = smc.particle_filter(k_pf, model, params, ys, NUM_PARTICLES, **options)
sv_mean = np.asarray(res.mean())
print(f"log-likelihood estimate {float(res.log_likelihood):.2f}, failed: {bool(res.failed)}")
print(f"resampled on {float(jnp.mean(res.resampled)):.0%} of the steps")

fig, axes = plt.subplots(3, 1, figsize=(8, 6), sharex=True)
axes[0].plot(ys, lw=0.7, color="0.4")
axes[0].set_ylabel("returns y")
axes[1].plot(xs, lw=1, label="true log-variance")
axes[1].plot(sv_mean, lw=1, label="filtering mean E[x_t | y_0:t]")
axes[1].legend(fontsize=8)
axes[2].plot(res.ess, lw=0.8)
axes[2].axhline(ESS_THRESHOLD * NUM_PARTICLES, color="k", ls=":", lw=0.8)
axes[2].set_ylabel("ESS")
axes[2].set_xlabel("t")
fig.tight_layout()

# %% [markdown]
# The filter follows the volatility without failing, and the ESS stays above the resampling
# threshold after each resampling.

# %%
assert not bool(res.failed)
assert float(jnp.min(res.ess)) > 0.05 * NUM_PARTICLES
assert np.corrcoef(sv_mean, np.asarray(xs))[0, 1] > 0.5

# %% [markdown]
# ## 2. Linear-Gaussian with a gap: particle filter vs Kalman
#
# A 2-D model with observations missing entirely for t in [40, 50) and in their second
# coordinate for t in [60, 70) (NaN entries are skipped, as in `ssm.kalman_filter`). The
# replicates are one `vmap` over keys.

# %%
F = jnp.array([[0.9, 0.2], [0.0, 0.7]])
lg_model, lg_params = ssm.linear_gaussian(
    F, 0.3 * jnp.eye(2), jnp.eye(2), 0.5 * jnp.eye(2), jnp.zeros(2), jnp.eye(2)
)
_, lg_ys = ssm.simulate(k_lg, lg_model, lg_params, NUM_STEPS)
lg_ys = lg_ys.at[40:50].set(jnp.nan).at[60:70, 1].set(jnp.nan)
exact = ssm.kalman_filter(lg_params, lg_ys)
runs = jax.vmap(
    lambda k: smc.particle_filter(k, lg_model, lg_params, lg_ys, NUM_PARTICLES, **options)
)(jax.random.split(k_rep, NUM_REPLICATES))
lls = np.asarray(runs.log_likelihood, np.float64)
print(f"particle filter log p(y): {lls.mean():.2f} (sd {lls.std(ddof=1):.2f} over runs)")
print(f"Kalman (exact):           {float(exact.log_likelihood):.2f}")

# %% [markdown]
# The estimate of p(y) is unbiased, so the ratio p̂(y) / p(y) averages to 1 (its log,
# the log-likelihood, is biased low by about half its variance).

# %%
ratio = np.exp(lls - float(exact.log_likelihood))
z = (ratio.mean() - 1) / (ratio.std(ddof=1) / np.sqrt(NUM_REPLICATES))
print(f"mean of p̂(y)/p(y) = {ratio.mean():.3f}, {z:+.1f} standard errors from 1")

# %% [markdown]
# The filtering means of one run against Kalman's, in units of the exact filtering standard
# deviation: the particle error is O(1/√N) of it.

# %%
first = jax.tree.map(lambda a: a[0], runs)  # results are pytrees: slice out one run
pf_means = np.asarray(first.mean())  # (T, 2)
kf_means, kf_sd = np.asarray(exact.means), np.sqrt(np.diagonal(np.asarray(exact.covs), 0, 1, 2))
err = np.abs(pf_means - kf_means) / kf_sd
print(f"max |PF mean − Kalman mean| = {err.max():.2f} filtering sd (N = {NUM_PARTICLES})")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), gridspec_kw={"width_ratios": [2.2, 1]})
t = np.arange(NUM_STEPS)
axes[0].fill_between(t, kf_means[:, 0] - 2 * kf_sd[:, 0], kf_means[:, 0] + 2 * kf_sd[:, 0],
                     color="0.85", label="Kalman ± 2 sd")  # fmt: skip
axes[0].plot(t, kf_means[:, 0], "k", lw=1, label="Kalman mean")
axes[0].plot(t, pf_means[:, 0], "C1", lw=1, label="particle filter mean")
axes[0].axvspan(40, 50, color="C0", alpha=0.1, label="no observation")
axes[0].axvspan(60, 70, color="C2", alpha=0.1, label="first coordinate only")
axes[0].set_xlabel("t")
axes[0].set_ylabel("x_t[0]")
axes[0].legend(fontsize=7, ncol=2)
axes[1].hist(lls, bins=8, color="C1", alpha=0.7, label="particle filter runs")
axes[1].axvline(float(exact.log_likelihood), color="k", label="Kalman")
axes[1].set_xlabel("log p(y)")
axes[1].legend(fontsize=7)
fig.tight_layout()

# %% [markdown]
# The checks this notebook makes: the likelihood ratio within 4 standard errors of 1, and the
# filtering means within a fraction of the exact standard deviation.

# %%
assert abs(z) < 4, f"likelihood ratio {z:.1f} SE from 1"
assert err.max() < 8 / np.sqrt(ESS_THRESHOLD * NUM_PARTICLES) + 0.05
assert not bool(runs.failed.any())
