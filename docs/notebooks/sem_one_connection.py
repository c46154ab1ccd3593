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
# # Linear SEMs on cyclic mixed graphs: the one-connection rule
#
# Adhikari, Gross, Härkönen & Tsigaridas, *One-connection rule for structural equation
# models* (arXiv:2210.00239). A linear SEM on a mixed graph G = (V, D, B) is
# X = ΛᵀX + ε, ε ~ N(0, Ω), with Λ supported on the directed edges D (which may form cycles)
# and Ω on the diagonal and the bidirected edges B, so Σ = (I − Λ)⁻ᵀ Ω (I − Λ)⁻¹. The paper
# writes Σ as a finite sum over *one-connections* (a simple path plus a family of disjoint
# cycles avoiding it), proves that the parametrization is generically finite-to-one on every
# *simple* graph, and studies the polynomial relations among the covariances. The
# [SEM page](../../sem/) has the full API.
#
# 1. the worked example: the 3-cycle 0 → 1 → 2 → 0 with a bow 0 ↔ 1, symbolically and
#    numerically;
# 2. the one-connection rule against matrix inversion on random cyclic graphs;
# 3. generic finite-to-one verdicts for simple and non-simple graphs;
# 4. a vanishing ideal, found numerically and certified exactly.
#
# The knobs:

# %%
NUM_RANDOM_GRAPHS = 30  # random cyclic mixed graphs checked against matrix inversion
MAX_NODES = 6  # their sizes run from 3 to MAX_NODES
NUM_SAMPLES = 20_000  # draws from the worked example's SEM
SEED = 0

# %%
import jax
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import sympy

from probkit import sem

plt.rcParams["figure.dpi"] = 60  # small figures in the rendered notebook

# %% [markdown]
# ## 1. The 3-cycle with a bow
#
# λ01 = a, λ12 = b, λ20 = c and a bidirected edge 0 ↔ 1. Its one-connections from 0 to 2,
# the cycle families of det(I − Λ), and Σ as rational functions in the edge symbols:

# %%
g = sem.MixedGraph(3, directed=[(0, 1), (1, 2), (2, 0)], bidirected=[(0, 1)])
for oc in sem.one_connections(g, 0, 2):
    print(f"one-connection 0 ~> 2: path {oc.path}, cycles {oc.cycles}, sign {oc.sign:+d}")
for fam in sem.cycle_families(g):
    print(f"cycle family {fam.cycles}, sign {fam.sign:+d}")
parts = sem.symbolic_parametrization(g)
print("det(I - Λ) =", parts.determinant)
for i, j in [(0, 0), (0, 1), (1, 2)]:
    print(f"Σ_{i}{j} = ({parts.numerator[i, j]}) / ({parts.determinant})**2")

# %% [markdown]
# The determinant is 1 − abc (one cycle family besides the empty one), and the numerator of
# Σ_00 is the research notes' formula. At a = .5, b = −.4, c = .3, ω_ii = 1, ω_01 = .2 the
# one-connection rule gives the notes' numbers, and the sample covariance of draws from the
# SEM agrees.

# %%
l01, l12, l20 = sympy.symbols("l_0_1 l_1_2 l_2_0")
w00, w01, w11, w22 = sympy.symbols("w_0_0 w_0_1 w_1_1 w_2_2")
expected_00 = l12**2 * l20**2 * w11 + 2 * l12 * l20 * w01 + l20**2 * w22 + w00
assert sympy.expand(parts.numerator[0, 0] - expected_00) == 0
assert sympy.expand(parts.determinant - (1 - l01 * l12 * l20)) == 0

lam = np.array([[0, 0.5, 0], [0, 0, -0.4], [0.3, 0, 0]])
omega = np.array([[1, 0.2, 0], [0.2, 1, 0], [0, 0, 1]])
with jax.enable_x64(True):
    sigma = np.asarray(sem.covariance(g, lam, omega, method="one-connection"))
    x = np.asarray(sem.LinearSEM(g, lam, omega).sample(jax.random.key(SEED), NUM_SAMPLES))
print(np.round(sigma, 4))
np.testing.assert_allclose(sigma[0], [0.9402, 0.5456, 0.0648], atol=1e-4)
np.testing.assert_allclose(sigma[1, 1:], [1.3105, -0.3827], atol=1e-4)

# Var of a sample covariance entry: (Σ_ii Σ_jj + Σ_ij²) / n for Gaussian data
sample_cov = x.T @ x / NUM_SAMPLES
se = np.sqrt((np.outer(np.diag(sigma), np.diag(sigma)) + sigma**2) / NUM_SAMPLES)
print("max |sample − Σ| in standard errors:", np.round(np.max(np.abs(sample_cov - sigma) / se), 2))
assert np.all(np.abs(sample_cov - sigma) < 4 * se)

# %% [markdown]
# ## 2. The rule against matrix inversion
#
# Random cyclic mixed graphs (each with at least one directed cycle) and random parameters on
# them. `compile_plan` enumerates a graph's paths and cycle families once; `evaluate_plan`
# turns them into the one-connection sums N (with (I − Λ)⁻¹ = N / det) in NumPy, so no graph
# needs its own compilation. Σ = NᵀΩN / det² against (I − Λ)⁻ᵀ Ω (I − Λ)⁻¹:


# %%
def random_sem(rng, n):
    a = rng.random((n, n)) < 0.35
    np.fill_diagonal(a, False)
    cyc = rng.permutation(n)[: rng.integers(2, n + 1)]
    a[cyc, np.roll(cyc, -1)] = True  # at least one directed cycle
    b = np.triu(rng.random((n, n)) < 0.3, 1)
    b = b | b.T
    lam = a * rng.choice([-1, 1], (n, n)) * rng.uniform(0.2, 0.7, (n, n))
    off = np.triu(b * rng.choice([-1, 1], (n, n)) * rng.uniform(0.1, 0.5, (n, n)), 1)
    omega = off + off.T
    omega += np.diag(1.0 + np.abs(omega).sum(axis=1))  # diagonally dominant: positive definite
    return sem.MixedGraph(n, directed=a, bidirected=b), lam, omega


rng = np.random.default_rng(SEED)
pairs, worst = [], 0.0
for t in range(NUM_RANDOM_GRAPHS):
    graph, lam_t, omega_t = random_sem(rng, 3 + t % (MAX_NODES - 2))
    big_n, det = sem.evaluate_plan(sem.compile_plan(graph), lam_t, np)
    by_rule = big_n.T @ omega_t @ big_n / det**2
    inv = np.linalg.inv(np.eye(graph.num_nodes) - lam_t)
    by_inverse = inv.T @ omega_t @ inv
    worst = max(worst, float(np.max(np.abs(by_rule - by_inverse)) / np.max(np.abs(by_inverse))))
    pairs.append((by_inverse.ravel(), by_rule.ravel()))
print(f"{NUM_RANDOM_GRAPHS} random cyclic graphs: max relative difference {worst:.1e}")
assert worst < 1e-10

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
d, bi = g.to_networkx()
pos = {0: (0.0, 0.0), 1: (1.0, 0.0), 2: (0.5, 0.85)}
nx.draw_networkx_nodes(d, pos, ax=axes[0], node_color="#dde7f5", node_size=900)
nx.draw_networkx_labels(d, pos, ax=axes[0])
nx.draw_networkx_edges(d, pos, ax=axes[0], arrows=True, arrowsize=18, node_size=900)
nx.draw_networkx_edges(bi.to_directed(), pos, ax=axes[0], style="dashed", edge_color="tab:red",
                       connectionstyle="arc3,rad=0.35", arrows=True, arrowstyle="<|-|>",
                       node_size=900)  # fmt: skip
axes[0].set_title("3-cycle with bow 0 <-> 1 (dashed)")
axes[0].axis("off")
ref = np.concatenate([p[0] for p in pairs])
oc = np.concatenate([p[1] for p in pairs])
axes[1].scatter(ref, oc, s=4, alpha=0.5)
axes[1].plot([ref.min(), ref.max()], [ref.min(), ref.max()], color="0.5", lw=0.8)
axes[1].set_xlabel("Σ_ij by inverse")
axes[1].set_ylabel("Σ_ij by one-connection rule")
axes[1].set_title(f"max relative difference {worst:.0e}")
fig.tight_layout()

# %% [markdown]
# ## 3. Generically finite-to-one?
#
# θ ↦ vech(Σ) is finite-to-one at generic parameters exactly when its Jacobian has full
# column rank there; `is_generically_finite_to_one` ranks it by autodiff at random points, and
# with `exact=True` also in rational arithmetic (a certificate). The paper's theorem covers
# every *simple* graph (no bow i → j with i ↔ j, no 2-cycle). The cases show that simplicity is
# sufficient but not necessary, and that counting parameters is necessary but not sufficient.

# %%
cases = {  # graph, expected verdict
    "bow 0->1, 0<->1": (sem.MixedGraph(2, [(0, 1)], [(0, 1)]), False),
    "2-cycle 0->1->0": (sem.MixedGraph(2, [(0, 1), (1, 0)]), False),
    "3-cycle with bow 0<->1": (g, False),
    "simple 3-cycle": (sem.MixedGraph(3, [(0, 1), (1, 2), (2, 0)]), True),
    "instrument 0->1->2, 1<->2": (sem.MixedGraph(3, [(0, 1), (1, 2)], [(1, 2)]), True),
    "0->1->2, 0<->1": (sem.MixedGraph(3, [(0, 1), (1, 2)], [(0, 1)]), False),
    "2-cycle, instruments 2->0, 3->1": (sem.MixedGraph(4, [(2, 0), (3, 1), (0, 1), (1, 0)]), True),
}
print(f"{'graph':34s} simple  #θ  dim  finite-to-one")
for name, (graph, expected) in cases.items():
    res = sem.is_generically_finite_to_one(graph, exact=True, seed=SEED)
    print(f"{name:34s} {res.simple!s:6s} {res.num_parameters:3d} {res.dimension:4d}  "
          f"{res.finite_to_one}")  # fmt: skip
    assert res.finite_to_one == expected, name
    assert not res.simple or res.finite_to_one  # the paper's theorem

# %% [markdown]
# ## 4. The vanishing ideal of a chain
#
# The polynomials in the covariances s_i_j that vanish on every Σ of the model: found by a
# null space of monomials evaluated at random model points, rationalised, and certified exactly
# through the one-connection form. For the chain 0 → 1 → 2 it is one quadric, the
# conditional independence of 0 and 2 given 1.

# %%
chain = sem.MixedGraph(3, [(0, 1), (1, 2)])
res = sem.explore_vanishing_ideal(chain, 2, seed=SEED)
print("dim I_d:", res.dimensions, " certified:", res.certified)
for f in res.generators:
    print(" ", f)
s01, s02, s11, s12 = sympy.symbols("s_0_1 s_0_2 s_1_1 s_1_2")
assert res.certified and res.dimensions == {1: 0, 2: 1} and len(res.generators) == 1
assert (
    sympy.expand(res.generators[0] - (s02 * s11 - s01 * s12)) == 0
    or sympy.expand(res.generators[0] + (s02 * s11 - s01 * s12)) == 0
)
