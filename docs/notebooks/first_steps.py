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
# # First steps with probkit
#
# probkit is a set of pure JAX functions. This notebook walks through the contract they all
# follow (see the [conventions](../../conventions/) page for the full text) on one small
# problem: filtering a linear-Gaussian state-space model, where the Kalman filter gives the
# exact answer to compare with.
#
# 1. random functions take a key first, and replicates are a `vmap` over keys;
# 2. results are typed NamedTuples (pytrees), with diagnostics and a `failed` flag;
# 3. bad input raises before anything is compiled, naming the argument;
# 4. float32 by default, float64 inside `jax.enable_x64(True)`;
# 5. loops are exposed as `init` / `step` kernels you can drive yourself.
#
# The knobs: change them and rerun.

# %%
NUM_PARTICLES = 256  # particles of the bootstrap filter
NUM_STEPS = 50  # length T of the simulated series
NUM_REPLICATES = 32  # independent filters (one key each) for the Monte Carlo error

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from probkit import smc, ssm

plt.rcParams["figure.dpi"] = 60  # small figures in the rendered notebook

# %% [markdown]
# ## A model and some data
#
# `ssm.linear_gaussian(F, Q, H, R, m0, P0)` builds the model x_t = F x_{t-1} + N(0, Q),
# y_t = H x_t + N(0, R). Models are numpyro distributions underneath; parameters are a
# pytree, separate from the (static, hashable) model. `ssm.simulate` is a random function, so
# its key comes first.

# %%
model, params = ssm.linear_gaussian(0.9, 0.5, 1.0, 1.0, 0.0, 1.0)
xs, ys = ssm.simulate(jax.random.key(0), model, params, NUM_STEPS)
xs.shape, ys.shape

# %% [markdown]
# ## Replicates are a `vmap` over keys
#
# There is no global random state: independent runs are independent keys, and a batch of
# filters is one compiled program.

# %%
keys = jax.random.split(jax.random.key(1), NUM_REPLICATES)
runs = jax.vmap(lambda k: smc.particle_filter(k, model, params, ys, NUM_PARTICLES))(keys)
runs.log_likelihood.shape, runs.particles.shape  # (R,), (R, T, N, 1)

# %% [markdown]
# ## Results are typed NamedTuples
#
# `smc.particle_filter` returns a `ParticleFilterResult`: the log-likelihood estimate, the
# weighted particles over time, the effective sample size and which steps resampled, and
# `failed` (every weight became zero at some step) instead of a silent NaN. Results are
# pytrees, so `jax.tree.map` slices one run out of the batch.

# %%
res = jax.tree.map(lambda a: a[0], runs)
print(type(res).__name__, res._fields)
print("log-likelihood estimate:", float(res.log_likelihood), " failed:", bool(res.failed))
print("resampled on", int(res.resampled.sum()), "of", NUM_STEPS, "steps")
assert not bool(runs.failed.any())

# %%
lls = runs.log_likelihood
exact = ssm.kalman_filter(params, ys)
mean, se = float(lls.mean()), float(lls.std(ddof=1) / np.sqrt(NUM_REPLICATES))
print(f"particle filter {mean:.3f} ± {se:.3f} (1 SE), Kalman {float(exact.log_likelihood):.3f}")

# %% [markdown]
# The particle filter's estimate of p(y) is unbiased (its log is biased low by about half its
# variance), so the ratio p̂(y) / p(y) averages to 1: check it within 4 standard errors.

# %%
ratio = np.exp(np.asarray(lls, np.float64) - float(exact.log_likelihood))
z = (ratio.mean() - 1) / (ratio.std(ddof=1) / np.sqrt(NUM_REPLICATES))
print(f"mean of p̂(y)/p(y) = {ratio.mean():.3f} ({z:+.1f} SE from 1)")
assert abs(z) < 4, f"particle filter vs Kalman: {z:.1f} standard errors apart"

fig, ax = plt.subplots(figsize=(7, 3))
t = np.arange(NUM_STEPS)
sd = np.sqrt(np.asarray(exact.covs)[:, 0, 0])
ax.fill_between(t, exact.means[:, 0] - 2 * sd, exact.means[:, 0] + 2 * sd, color="0.85",
                label="Kalman ± 2 sd")  # fmt: skip
ax.plot(t, exact.means[:, 0], "k", lw=1, label="Kalman mean")
ax.plot(t, res.mean()[:, 0], "C1", lw=1, label="particle filter mean")
ax.plot(t, xs[:, 0], "C0.", ms=3, label="true state")
ax.set_xlabel("t")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## Bad input fails early, naming the argument
#
# Arguments are validated on the host before anything is traced, with a `ValueError` or
# `TypeError` that says which argument and why.

# %%
try:
    smc.particle_filter(jax.random.key(1), model, params, ys, num_particles=0)
except ValueError as err:
    message = str(err)
print(message)
assert "num_particles" in message

# %% [markdown]
# ## dtypes: float32 by default, float64 on request
#
# probkit never changes JAX's global settings; exactness checks use the `jax.enable_x64`
# context. Arrays made outside the context keep their dtype, so build the inputs inside it.

# %%
print("default:", res.log_likelihood.dtype)
with jax.enable_x64(True):
    _, params64 = ssm.linear_gaussian(0.9, 0.5, 1.0, 1.0, 0.0, 1.0)
    exact64 = ssm.kalman_filter(params64, jnp.asarray(ys, jnp.float64))
print("Kalman under enable_x64:", exact64.log_likelihood.dtype)
assert exact64.log_likelihood.dtype == jnp.float64
assert abs(float(exact64.log_likelihood) - float(exact.log_likelihood)) < 1e-3

# %% [markdown]
# ## Kernels: drive the loop yourself
#
# Each iterative method exposes blackjax-style pieces: `init(...) -> state` and a pure
# `step(key, state, ...) -> (state, info)`, which you can put in your own `lax.scan` (or
# alternate with another kernel, such as a blackjax NUTS step). Here a hand-written scan
# filters the same data; its final cloud matches the Kalman filtering mean at T-1.


# %%
@jax.jit
def filter_by_hand(key, ys):
    k0, k_steps = jax.random.split(key)
    state, _ = smc.particle_filter.init(k0, model, params, ys[0], NUM_PARTICLES)

    def body(state, inputs):
        k, y, t = inputs
        state, info = smc.particle_filter.step(k, state, model, params, y, t)
        return state, info.ess

    steps = (jax.random.split(k_steps, ys.shape[0] - 1), ys[1:], jnp.arange(1, ys.shape[0]))
    return jax.lax.scan(body, state, steps)


state, ess = filter_by_hand(jax.random.key(3), ys)
w = np.exp(np.asarray(state.log_weights))
last = float(np.sum(w * np.asarray(state.particles)[:, 0]) / w.sum())
print(f"E[x_T-1 | y]: hand-run kernel {last:.3f}, Kalman {float(exact.means[-1, 0]):.3f}")
assert abs(last - float(exact.means[-1, 0])) < 5 * float(sd[-1]) / np.sqrt(float(ess[-1]))

# %% [markdown]
# ## Where next
#
# Each paper has its own notebook in this section: the particle filter, PaRIS and Parisian
# particle Gibbs, LLM inference-time scaling, SEMs on mixed graphs, CoLiDE, string-diagram
# surgery, self-repellent walks, GP dynamic programming, and Schrödinger bridges.
