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
# # PaRIS and Parisian particle Gibbs: removing the bias of particle smoothing
#
# Cardoso, Janati El Idrissi, Le Corff, Moulines & Olsson, *State and parameter learning with
# PaRIS particle Gibbs* (ICML 2023). PaRIS estimates smoothed additive functionals
# E[h(X_0:T-1) | y] online, with O(N) memory, but at a fixed number of particles N it is
# biased by O(1/N), and averaging more runs does not remove the bias. Parisian particle Gibbs
# (PPG) drives PaRIS with conditional SMC: each iteration freezes one path, and the average
# of the iterates after a burn-in (the *roll-out* estimator) has a bias that decays
# geometrically in the burn-in, at the cost of one PaRIS pass per iteration. The
# [PaRIS / PPG page](../../paris_ppg/) has the algorithms.
#
# The comparison the paper makes, on a 1-D linear-Gaussian model where the RTS smoother gives
# the exact answer:
#
# 1. **bias at equal cost**: E[Σ_t x_t² | y] by PPG's roll-out and by the same number of
#    independent PaRIS passes, over several chains;
# 2. **learning**: stochastic-approximation maximum likelihood with PPG scores, against the
#    exact (Kalman) maximum-likelihood estimate.
#
# The knobs:

# %%
NUM_STEPS = 60  # T
NUM_PARTICLES = 50  # N per PaRIS pass / PPG iteration
NUM_ITERATIONS = 50  # PPG iterations per chain (= PaRIS passes per chain of the baseline)
BURN_IN = 5  # PPG iterations left out of the roll-out average
NUM_CHAINS = 20  # independent chains, for the standard errors
SA_STEPS = 300  # stochastic-approximation steps of the learning part
SA_PARTICLES = 20  # N per step of the learning part

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import scipy.optimize

from probkit import smc, ssm

plt.rcParams["figure.dpi"] = 60  # small figures in the rendered notebook

# %% [markdown]
# ## The model and the exact answer
#
# x_t = ρ x_{t-1} + N(0, σx²), y_t = x_t + N(0, σy²), x_0 ~ N(0, 1), with ρ = 0.8, σx = 1,
# σy² = 0.5. Everything runs in float64 (the `jax.enable_x64` context), as exactness checks
# should. The parameters are written through u = (ρ, log σx, log σy) for the learning part.


# %%
def lg_params(u):
    one = jnp.ones((1, 1))
    return ssm.LinearGaussianParams(
        u["rho"] * one,
        jnp.exp(2 * u["log_sx"]) * one,
        one,
        jnp.exp(2 * u["log_sy"]) * one,
        jnp.zeros(1),
        one,
    )


with jax.enable_x64(True):
    model, _ = ssm.linear_gaussian(0.8, 1.0, 1.0, 0.5, 0.0, 1.0)
    u_true = {"rho": jnp.array(0.8), "log_sx": jnp.array(0.0),
              "log_sy": jnp.array(0.5 * np.log(0.5))}  # fmt: skip
    _, ys = ssm.simulate(jax.random.key(0), model, lg_params(u_true), NUM_STEPS)
    rts = ssm.rts_smoother(lg_params(u_true), ys)
    exact = float(jnp.sum(rts.means[:, 0] ** 2 + rts.covs[:, 0, 0]))
print(f"exact E[Σ x_t² | y] = {exact:.2f} (RTS smoother)")

# %% [markdown]
# ## 1. Bias at equal cost
#
# The functional h(x_0:T-1) = Σ_t x_t² is additive: `smc.AdditiveFunctional(initial,
# increment)`. `smc.ppg(..., conditional=False)` runs the same number of independent PaRIS
# passes from the same compiled program, so both estimators cost the same.

# %%
h = smc.AdditiveFunctional(lambda x0: x0[0] ** 2, lambda xp, x, t: x[0] ** 2, name="Σ x²")


def chain(key, conditional):
    return smc.ppg(key, model, lg_params(u_true), ys, h, NUM_PARTICLES, NUM_ITERATIONS,
                   burn_in=BURN_IN, conditional=conditional).iterates  # fmt: skip


with jax.enable_x64(True):
    keys = jax.random.split(jax.random.key(1), NUM_CHAINS)
    ppg_iterates = np.asarray(jax.vmap(lambda k: chain(k, True))(keys))  # (chains, iterations)
    paris_iterates = np.asarray(jax.vmap(lambda k: chain(k, False))(keys))
ppg_est = ppg_iterates[:, BURN_IN:].mean(axis=1)  # the roll-out estimator, one per chain
paris_est = paris_iterates.mean(axis=1)  # the mean of as many independent PaRIS passes


def z_score(values):
    return (values.mean() - exact) / (values.std(ddof=1) / np.sqrt(len(values)))


for name, est in (("PaRIS, equal cost", paris_est), ("PPG roll-out", ppg_est)):
    print(f"{name:18s} {est.mean():8.2f}   z = {z_score(est):+.1f} standard errors from exact")

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
for i, (name, est) in enumerate((("PaRIS", paris_est), ("PPG", ppg_est))):
    se = est.std(ddof=1) / np.sqrt(len(est))
    ax.errorbar(i, est.mean(), yerr=2 * se, fmt="o", capsize=6, label=f"{name}: mean ± 2 SE")
    ax.scatter(np.full(len(est), i + 0.15), est, s=8, alpha=0.5)
ax.axhline(exact, color="k", lw=1, label="exact (RTS)")
ax.set_xticks([0, 1], [f"PaRIS, {NUM_ITERATIONS} runs", f"PPG, {NUM_ITERATIONS} iterations"])
ax.set_ylabel(f"E[Σ x_t² | y]  (N = {NUM_PARTICLES})")
ax.legend(fontsize=7)
fig.tight_layout()

# %% [markdown]
# PaRIS is biased low by many standard errors at this N; PPG's roll-out is not.

# %%
assert abs(z_score(ppg_est)) < 4, "PPG's roll-out should be unbiased"
assert z_score(paris_est) < -4, "PaRIS at small N should be biased low"

# %% [markdown]
# ## 2. Learning ρ, σx, σy by stochastic approximation
#
# `smc.fit_mle` climbs the log-likelihood along the score, estimated by Fisher's identity as
# an additive functional, one PPG iteration per step (the frozen path carried from θ_k to
# θ_k+1), with Robbins–Monro steps and a Polyak–Ruppert average. The exact MLE comes from the
# Kalman log-likelihood and its gradient (`jax.grad`).

# %%
with jax.enable_x64(True):

    def neg_loglik(v):
        u = {"rho": v[0], "log_sx": v[1], "log_sy": v[2]}
        return -ssm.kalman_filter(lg_params(u), ys).log_likelihood

    value_and_grad = jax.jit(jax.value_and_grad(neg_loglik))
    mle = scipy.optimize.minimize(
        lambda v: tuple(np.asarray(a) for a in value_and_grad(jnp.asarray(v))),
        np.array([0.5, 0.0, 0.0]), jac=True, method="BFGS",
    ).x  # fmt: skip
    u0 = {"rho": jnp.array(0.5), "log_sx": jnp.array(0.0), "log_sy": jnp.array(0.0)}
    fit = smc.fit_mle(jax.random.key(2), model, u0, ys, num_particles=SA_PARTICLES,
                      num_steps=SA_STEPS, parametrization=lg_params, step_size=1.0,
                      decay=0.6)  # fmt: skip
rho_hat = float(fit.params["rho"])
print(f"ρ: PPG stochastic approximation {rho_hat:.3f}, exact MLE {mle[0]:.3f}")

fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(np.asarray(fit.trace["rho"]), lw=0.8, label="SA with PPG scores")
ax.axhline(mle[0], color="k", lw=1, label="exact MLE (Kalman)")
ax.axhline(rho_hat, color="C1", ls="--", lw=1, label="Polyak–Ruppert average")
ax.set_xlabel("step")
ax.set_ylabel("ρ")
ax.legend(fontsize=7)
fig.tight_layout()

# %%
assert not bool(fit.failed)
assert abs(rho_hat - mle[0]) < 0.05, "PPG-driven SA should land near the exact MLE"
