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
# # Causal inference by string-diagram surgery
#
# Jacobs, Kissinger & Zanasi, *Causal inference by string diagram surgery* (FoSSaCS 2019):
# a causal model is a string diagram whose boxes are stochastic matrices, an intervention is a
# *cut* of the diagram, and *comb disintegration* computes an interventional distribution from
# observational data alone when the diagram factors the right way. The
# [string-diagram surgery page](../../causal/) has the full API.
#
# The paper's running example: smoking S causes tar T, tar causes cancer C, and a hidden
# genotype H affects both smoking and cancer. Only ω(S, T, C) is observed. We
#
# 1. compare naive conditioning P(C | S) with the causal effect P(C | do(S)) computed from ω
#    by comb disintegration, with the paper's numbers;
# 2. derive the same effect from the graph alone with the identification algorithm;
# 3. check on random full models that comb disintegration equals surgery (brute force), and
#    estimate the effect from finite samples;
# 4. show what a non-identifiable effect looks like.
#
# The knobs:

# %%
CONFOUNDER_STATES = 3  # states of the hidden genotype H in the random models of part 3
NUM_RANDOM_MODELS = 50  # random full models checked against brute-force surgery
NUM_SAMPLES = 2000  # observations per simulated data set
NUM_DATASETS = 20  # simulated data sets, for the sampling error of the estimate

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np

from probkit import causal
from probkit.causal import Box, Copy, Diagram, Swap, Wire

plt.rcParams["figure.dpi"] = 60  # small figures in the rendered notebook
jax.config.update("jax_enable_x64", True)  # exact comparisons to 1e-10 below

# %% [markdown]
# ## 1. The smoking example from ω alone
#
# | S T C | 000 | 001 | 010 | 011 | 100 | 101 | 110 | 111 |
# |---|---|---|---|---|---|---|---|---|
# | ω | 0.50 | 0.10 | 0.01 | 0.02 | 0.10 | 0.05 | 0.02 | 0.20 |

# %%
omega = causal.Distribution(
    jnp.array([0.50, 0.10, 0.01, 0.02, 0.10, 0.05, 0.02, 0.20]).reshape(2, 2, 2), ("S", "T", "C")
)
naive = [float(omega.condition({"S": s}).prob({"C": 1})) for s in (0, 1)]

# ω = f[g]: g = ω(T | S) fills the hole of the comb f = (ω(S), ω(C | S, T))
g, comb = causal.comb_disintegrate(omega, "S", "T", "C")
do = comb.intervene(g)  # the channel s -> P(C | do(S = s))
effect = [float(do.at({"S": s}).prob({"C": 1})) for s in (0, 1)]
print(f"naive  P(C=1 | S=0), P(C=1 | S=1)         = {naive[0]:.4f}, {naive[1]:.4f}")
print(f"causal P(C=1 | do(S=0)), P(C=1 | do(S=1)) = {effect[0]:.5f}, {effect[1]:.5f}")
print(f"risk difference: naive {naive[1] - naive[0]:.3f}, causal {effect[1] - effect[0]:.3f}")

# %% [markdown]
# These are the paper's numbers: confounding by H inflates the naive risk difference by
# two thirds. Plugging g back into the comb gives ω exactly.

# %%
np.testing.assert_allclose(naive, [0.1905, 0.6757], atol=5e-5)
np.testing.assert_allclose(effect, [0.25348, 0.54230], atol=5e-6)
np.testing.assert_allclose(comb.plug(g).table, omega.table, atol=1e-12)

# %% [markdown]
# The diagram is syntax: boxes with typed wires composed with `>>` (in sequence) and `@`
# (side by side), copies feeding a variable to its children. `causal.cut(D, "S")` replaces
# S's box by discard-then-uniform, which is the intervention.


# %%
def smoking_diagram(sizes):
    h, s, t, c = (Wire(v, sizes[v]) for v in "HSTC")
    idw = Diagram.id
    return (
        Box("H", [], [h])
        >> Copy(h)
        >> (Box("S", [h], [s]) @ idw([h]))
        >> (Copy(s) @ idw([h]))
        >> (idw([s]) @ Box("T", [s], [t]) @ idw([h]))
        >> (idw([s]) @ Copy(t) @ idw([h]))
        >> (idw([s, t]) @ Swap(t, h))
        >> (idw([s, t]) @ Box("C", [h, t], [c]))
    )  # C's inputs (H, T): its parents in sorted order


diagram = smoking_diagram({"H": 2, "S": 2, "T": 2, "C": 2})
fig, axes = plt.subplots(1, 3, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1, 1, 1.1]})
causal.draw(diagram, ax=axes[0], title="causal diagram D")
causal.draw(causal.cut(diagram, "S"), ax=axes[1], title="cut_S(D)")
x = np.arange(2)
axes[2].bar(x - 0.18, naive, width=0.36, label="naive P(C=1 | S)")
axes[2].bar(x + 0.18, effect, width=0.36, label="P(C=1 | do(S)) by comb")
axes[2].set_xticks([0, 1], ["S = 0", "S = 1"])
axes[2].set_ylim(0, 1)
axes[2].legend(loc="upper left", fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## 2. Identification from the graph
#
# `causal.identify` projects the latent H away and finds the front-door formula; with
# `method="id"` it runs the complete Shpitser–Pearl ID algorithm instead. Both evaluate on ω
# to the comb's answer.

# %%
graph = nx.DiGraph([("H", "S"), ("H", "C"), ("S", "T"), ("T", "C")])
est = causal.identify(graph, "S", "C", latent=["H"])
general = causal.identify(graph, "S", "C", latent=["H"], method="id")
print(est, f"   [{est.method}]")
print(general, f"   [{general.method}]")
by_formula = [float(est.evaluate(omega, {"S": s}).prob({"C": 1})) for s in (0, 1)]
by_id = [float(general.evaluate(omega, {"S": s}).prob({"C": 1})) for s in (0, 1)]
np.testing.assert_allclose(by_formula, effect, atol=1e-12)
np.testing.assert_allclose(by_id, effect, atol=1e-12)

# %% [markdown]
# ## 3. Comb disintegration is surgery: a brute-force check
#
# Draw random full models, hidden H with `CONFOUNDER_STATES` states included. For each, the
# ground truth is surgery on the full model (`CausalModel.query(..., do=...)`, which knows H);
# the estimate is the identified formula evaluated on the observed joint of (S, T, C) alone.
# Both are vmapped over the batch of models.

# %%
sizes = {"H": CONFOUNDER_STATES, "S": 2, "T": 2, "C": 2}
draws = causal.random_cpts(jax.random.key(0), graph, sizes, batch_shape=(NUM_RANDOM_MODELS,))


def truth_and_estimate(cpts):
    m = causal.CausalModel(graph, cpts, sizes, latent=["H"])
    truth = jnp.stack([m.query(["C"], do={"S": s}).table for s in (0, 1)])
    estimate = jnp.stack([est.evaluate(m.joint(), {"S": s}).table for s in (0, 1)])
    naive = m.joint().conditional(["C"], ["S"]).table  # P(C | S), rows s = 0, 1
    return truth, estimate, naive


truth, estimate, naive_all = jax.vmap(truth_and_estimate)(draws)
worst = float(jnp.max(jnp.abs(truth - estimate)))
print(f"{NUM_RANDOM_MODELS} random models: max |front-door on ω − surgery| = {worst:.1e}")
assert worst < 1e-10

# %% [markdown]
# Take the model where confounding matters most (naive conditioning furthest from the
# effect). Interpreting its *cut* diagram and conditioning on S gives the same interventional
# distribution: the paper's theorem in one line.

# %%
i = int(jnp.argmax(jnp.abs(naive_all - truth)[:, :, 1].max(axis=1)))
cpts = {v: t[i] for v, t in draws.items()}
model = causal.CausalModel(graph, cpts, sizes, latent=["H"])
cut_joint = causal.interpret(causal.cut(smoking_diagram(sizes), "S"), boxes=cpts)
surgery = jnp.stack([cut_joint.condition({"S": s}).marginal(["C"]).table for s in (0, 1)])
np.testing.assert_allclose(surgery, truth[i], atol=1e-12)

# %% [markdown]
# From finite data the plug-in front-door estimate is close to the truth, within its
# sampling error (measured over independent data sets), while naive conditioning is not.

# %%
keys = jax.random.split(jax.random.key(1), NUM_DATASETS)
from_data = np.array([
    causal.front_door(causal.empirical(model.sample(k, NUM_SAMPLES), sizes), "S", "T", "C")
    .table[:, 1] for k in keys
])  # fmt: skip
naive_model = np.asarray(model.joint().conditional(["C"], ["S"]).table[:, 1])
se = from_data.std(axis=0, ddof=1) / np.sqrt(NUM_DATASETS)
z = (from_data.mean(axis=0) - np.asarray(truth[i, :, 1])) / se
z_naive = (naive_model - np.asarray(truth[i, :, 1])) / se
print("P(C=1 | do(S=s)), s = 0, 1")
print("  surgery (truth)   ", np.round(np.asarray(truth[i, :, 1]), 4))
print(
    f"  front door, n={NUM_SAMPLES}", np.round(from_data.mean(axis=0), 4), "± SE", np.round(se, 4)
)
print("  naive P(C=1 | S)  ", np.round(naive_model, 4))
assert np.all(np.abs(z) < 4), f"front door vs truth: {z} standard errors"
assert np.any(np.abs(z_naive) > 10), "naive conditioning should miss the effect here"

# %% [markdown]
# ## 4. When the effect is not identifiable
#
# With a confounder between X and Y and nothing else (the "bow"), no formula exists:
# `identify` returns a falsy `NotIdentifiable` carrying a *hedge*, the witness of
# non-identifiability. The same happens for X → Z → Y with X ↔ Z.

# %%
bow = causal.identify(nx.DiGraph([("X", "Y")]), "X", "Y", bidirected=[("X", "Y")])
print(bool(bow), bow.hedge)
print(bow.reason)
chain = causal.identify(nx.DiGraph([("X", "Z"), ("Z", "Y")]), "X", "Y", bidirected=[("X", "Z")])
print(bool(chain), chain.hedge)
assert not bow and not chain
