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
# # Particle filtering for LLM inference-time scaling
#
# Puri et al., *A Probabilistic Inference Approach to Inference-Time Scaling of LLMs using
# Particle-Based Monte Carlo Methods* (2025). The reasoning steps of a language model are the
# latent states of a state-space model: the LM is the transition, a process reward model (PRM)
# scoring partial solutions is the likelihood. A particle filter keeps N partial solutions,
# extends them one step at a time and resamples them by reward, so the population explores the
# reward-tilted distribution instead of chasing its mode, which is what search does and why
# search suffers when the PRM is wrong. The [LLM page](../../llm/) has the weight rules,
# particle Gibbs, parallel tempering and the served-model adapters.
#
# 1. the paper's accuracy-vs-budget comparison (best-of-N, weighted best-of-N, beam search,
#    DVTS, the particle filter with the authors' argmax and with a weighted vote) on a
#    synthetic testbed that runs on a CPU in seconds;
# 2. the same with deceptive PRM errors, where more guidance hurts;
# 3. the same `particle_filter` call on a served model (a loopback OpenAI-compatible server
#    with a tiny addition "reasoner"), exactly as one would reach vLLM.
#
# The knobs:

# %%
NUM_PROBLEMS = 300  # synthetic problems (each method is run on all of them)
BUDGETS = (1, 4, 16, 32)  # N: solutions in parallel
DECEPTIVE_FRACTION, DECEPTIVE_SHIFT = (
    0.3,
    3.0,
)  # part 2: share of errors the PRM rewards, by how much

# %%
import jax
import matplotlib.pyplot as plt
import numpy as np
import scipy.special

from probkit import llm
from probkit.llm import testbed
from probkit.llm.mock_server import AdditionModel, AdditionPRM, MockServer

plt.rcParams["figure.dpi"] = 60  # small figures in the rendered notebook

# %% [markdown]
# ## 1. Accuracy against budget
#
# The testbed: each problem takes 12 steps with a per-step error probability q ~ Beta(1.2, 8);
# errors are absorbing; the PRM scores prefixes with persistent and fresh noise. Everything
# (problems × particles × steps) is one vectorised JAX program per method, and every budget
# reuses it.

# %%
table = testbed.benchmark(jax.random.key(0), testbed.DEFAULT_METHODS, BUDGETS,
                          num_problems=NUM_PROBLEMS)  # fmt: skip
print(table.to_markdown())

# %% [markdown]
# At N = 1 every method is a single draw, whose accuracy is exactly
# E[(1 − q)^12] = B(1.2, 20) / B(1.2, 8); with more budget the particle filter keeps improving
# while best-of-N, limited by the noisy final score, stalls.

# %%
exact_n1 = np.exp(scipy.special.betaln(1.2, 20) - scipy.special.betaln(1.2, 8))
acc, se = table.accuracy, table.se
n1 = table.budgets.index(1)
for m, method in enumerate(table.methods):
    z = (acc[m, n1] - exact_n1) / np.sqrt(exact_n1 * (1 - exact_n1) / NUM_PROBLEMS)
    assert abs(z) < 4, f"{method} at N = 1: {acc[m, n1]:.3f} vs exact {exact_n1:.3f}"
top = max(BUDGETS)
diff, diff_se = table.difference("pf_vote", "bon", top)
print(f"N=1 accuracy, exact: {exact_n1:.3f}")
print(f"particle filter (vote) − best-of-N at N = {top}: {diff:+.3f} ± {diff_se:.3f}")
assert diff > 4 * diff_se

# %% [markdown]
# ## 2. Deceptive PRM errors
#
# With a fraction of errors that the PRM *rewards*, guidance steers towards wrong answers:
# the more budget the reward-guided methods spend, the worse they get, and the paper's filter
# (whose logit weights resample most aggressively) suffers most.

# %%
deceptive = testbed.benchmark(
    jax.random.key(0), ("bon", "beam", "pf"), BUDGETS, num_problems=NUM_PROBLEMS,
    config=testbed.Config(deceptive_fraction=DECEPTIVE_FRACTION, deceptive_shift=DECEPTIVE_SHIFT),
)  # fmt: skip
print(deceptive.to_markdown())
pf = deceptive.methods.index("pf")
best = max(deceptive.accuracy[pf])
print(f"particle filter: best {best:.3f} at small N, {deceptive.accuracy[pf, -1]:.3f} at N = {top}")
assert deceptive.accuracy[pf, -1] < best - 2 * deceptive.se[pf, -1]

fig, axes = plt.subplots(1, 2, figsize=(12, 4))
table.plot(ax=axes[0], title="Moderate PRM noise")
deceptive.plot(
    ax=axes[1], title=f"Deceptive errors (h = {DECEPTIVE_FRACTION}, δ = {DECEPTIVE_SHIFT})"
)
fig.tight_layout()

# %% [markdown]
# ## 3. The same call on a served model
#
# `llm.OpenAICompatibleLM` talks to any OpenAI-compatible server (vLLM, SGLang, ...). Here the
# server is `MockServer`, a loopback HTTP server with a tiny addition "reasoner" that slips on
# a step now and then; the PRM checks each addition step. A step is one request per distinct
# partial solution, sent concurrently.

# %%
problem = "Add: 17 25 8 13 9 31"
correct = str(17 + 25 + 8 + 13 + 9 + 31)
with MockServer(AdditionModel(slip=0.25)) as server:
    lm = llm.OpenAICompatibleLM(server.url, "tiny-adder", temperature=0.8, max_concurrency=8)
    prm = AdditionPRM("min")  # any RewardModel: score(prompt, prefixes) -> [0, 1]
    pf_res = llm.particle_filter(jax.random.key(0), lm, prm, problem, 8)
    requests = len(server.requests)
print(pf_res.response)
print(f"particle filter's answer: {pf_res.answer}, correct: {correct}")
print(f"{requests} HTTP requests; the filter's budget: {pf_res.budget}")
assert pf_res.answer == correct
