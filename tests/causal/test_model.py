"""Causal models: joint, surgery, surgery-then-condition queries, effects, interop, bad input."""

import itertools

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

from probkit import causal
from probkit.testing import assert_chi_square


def brute_joint(m: causal.CausalModel) -> np.ndarray:
    """The joint over all variables (topological order) by enumerating every state."""
    card = m.cardinality
    out = np.zeros([card[v] for v in m.variables])
    for states in itertools.product(*(range(card[v]) for v in m.variables)):
        val = dict(zip(m.variables, states))
        p = 1.0
        for v in m.variables:
            p *= float(m.cpts[v][(*(val[q] for q in m.parents(v)), val[v])])
        out[states] = p
    return out


@pytest.fixture
def confounded(draw_cpts):
    """Z -> X -> M -> Y, Z -> Y, A -> Z, latent U -> {A, Y}; mixed cardinalities."""
    g = nx.DiGraph(
        [("A", "Z"), ("Z", "X"), ("X", "M"), ("M", "Y"), ("Z", "Y"), ("U", "A"), ("U", "Y")]
    )
    card = {"A": 2, "Z": 3, "X": 2, "M": 3, "Y": 2, "U": 2}
    return g, card


def test_joint_is_the_product_of_cpts(x64, confounded, draw_cpts):
    g, card = confounded
    m = causal.CausalModel(g, draw_cpts(jax.random.key(0), g, card), card, latent=["U"])
    full = brute_joint(m)
    np.testing.assert_allclose(m.joint(include_latent=True).table, full, rtol=1e-12)
    observed = full.sum(axis=m.variables.index("U"))
    np.testing.assert_allclose(m.joint().table, observed, rtol=1e-12)
    assert m.joint().names == m.observed


def test_do_is_the_truncated_factorisation(x64, confounded, draw_cpts):
    g, card = confounded
    m = causal.CausalModel(g, draw_cpts(jax.random.key(1), g, card), card, latent=["U"])
    cut = m.do({"X": 1})
    assert cut.parents("X") == () and set(m.graph.edges) - set(cut.graph.edges) == {("Z", "X")}
    full = brute_joint(m)
    ix = m.variables.index("X")
    # truncated factorisation: divide out P(x | z) and put all mass on x = 1
    cpt_x = np.asarray(m.cpts["X"])  # (Z, X)
    shape = [1] * full.ndim
    shape[m.variables.index("Z")], shape[ix] = 3, 2
    trunc = full / cpt_x.reshape(shape)
    trunc = np.take(trunc, 1, axis=ix)
    np.testing.assert_allclose(
        cut.joint(include_latent=True).marginal([v for v in m.variables if v != "X"]).table,
        trunc,
        rtol=1e-12,
    )


def test_query_conditions_after_surgery_even_on_ancestors(x64, confounded, draw_cpts):
    # P(Y | do(X=x), A=a) with A an ancestor of X: in the cut model, condition the joint.
    g, card = confounded
    m = causal.CausalModel(g, draw_cpts(jax.random.key(2), g, card), card, latent=["U"])
    for x, a in itertools.product(range(2), range(2)):
        q = m.query(["Y"], do={"X": x}, evidence={"A": a})
        ref = m.do({"X": x}).joint().condition({"A": a}).marginal(["Y"])
        np.testing.assert_allclose(q.table, ref.table, rtol=1e-12)
        # Z is a non-descendant of X, so in the cut model it ignores X: P(Z | do(x), a) = P(Z | a)
        np.testing.assert_allclose(
            m.query(["Z"], do={"X": x}, evidence={"A": a}).table,
            m.query(["Z"], evidence={"A": a}).table,
            rtol=1e-12,
        )
    # evidence downstream of the treatment, and queries of latents, work the same way
    q = m.query(["U", "Z"], do={"X": 0}, evidence={"M": 2})
    ref = m.do({"X": 0}).joint(include_latent=True).condition({"M": 2}).marginal(["U", "Z"])
    np.testing.assert_allclose(q.table, ref.table, rtol=1e-12)


def test_soft_intervention_mixes_hard_ones(x64, confounded, draw_cpts):
    g, card = confounded
    m = causal.CausalModel(g, draw_cpts(jax.random.key(3), g, card), card, latent=["U"])
    soft = m.query(["Y"], do={"M": jnp.array([0.2, 0.5, 0.3])}).table
    mix = sum(w * m.query(["Y"], do={"M": k}).table for k, w in enumerate([0.2, 0.5, 0.3]))
    np.testing.assert_allclose(soft, mix, rtol=1e-12)


def test_effects_equal_individual_queries(x64):
    m = causal.random_model(jax.random.key(4), 8, max_parents=3, cardinality=3)
    eff = m.effects()
    assert len(eff) == 8 * 7
    for (x_var, y_var), channel in eff.items():
        assert channel.inputs == (x_var,) and channel.outputs == (y_var,)
        ref = np.stack([m.query([y_var], do={x_var: x}).table for x in range(3)])
        np.testing.assert_allclose(channel.table, ref, atol=1e-14)


def test_thirty_binary_variables_without_the_joint(x64, draw_cpts):
    # A chain X0 -> ... -> X29 plus skip edges Xi -> Xi+2 makes the exact answer a product of
    # 4x2 transition tables; the einsum path never forms the 2^30 joint.
    n = 30
    g = nx.DiGraph([(f"X{i}", f"X{i + 1}") for i in range(n - 1)])
    g.add_edges_from((f"X{i}", f"X{i + 2}") for i in range(n - 2))
    m = causal.CausalModel(g, draw_cpts(jax.random.key(5), g, 2), 2)
    got = m.query(["X29"], do={"X10": 1}).table
    # forward recursion on pairs (X_{i-1}, X_i), starting from do(X10 = 1) with X9 ~ P(X9)
    p9 = np.asarray(m.query(["X9"]).table)
    pair = np.outer(p9, [0.0, 1.0])  # P(X9, X10)
    for i in range(11, n):
        cpt = np.asarray(m.cpts[f"X{i}"])  # axes: parents sorted as strings, then X_i
        if m.parents(f"X{i}") != (f"X{i - 2}", f"X{i - 1}"):  # e.g. ("X10", "X9")
            cpt = cpt.transpose(1, 0, 2)
        pair = np.einsum("ab,abc->bc", pair, cpt)
    np.testing.assert_allclose(got, pair.sum(0), rtol=1e-12)


def test_vmap_over_cpt_draws(x64, smoking_graph, draw_cpts):
    batch = draw_cpts(jax.random.key(6), smoking_graph, 2, batch_shape=(16,))
    query = jax.vmap(
        lambda cpts: (
            causal.CausalModel(smoking_graph, cpts, 2, latent=["H"])
            .query(["C"], do={"S": 1}, evidence={"T": 0})
            .table
        )
    )
    got = query(batch)
    for b in range(16):
        m = causal.CausalModel(smoking_graph, {v: t[b] for v, t in batch.items()}, 2, latent=["H"])
        np.testing.assert_allclose(
            got[b], m.query(["C"], do={"S": 1}, evidence={"T": 0}).table, rtol=1e-12
        )


def test_samples_follow_the_joint(confounded, draw_cpts):
    g, card = confounded
    m = causal.CausalModel(g, draw_cpts(jax.random.key(7), g, card), card, latent=["U"])
    draws = m.sample(jax.random.key(8), 20_000)
    assert set(draws) == set(m.observed)
    emp = causal.empirical(draws, card)
    counts = np.asarray(emp.array(m.observed)) * 20_000
    assert_chi_square(counts, np.asarray(m.joint().table))  # 1e-3 level GoF, fixed seed


def test_from_dict_and_back(x64):
    spec = {
        "S": {"parents": [], "cpt": [0.7, 0.3]},
        "T": {"parents": ["S"], "cpt": [[0.9, 0.1], [0.2, 0.8]]},
        # parents listed out of sorted order: the CPT follows the listed order
        "C": {"parents": ["T", "S"], "cpt": [[[0.9, 0.1], [0.6, 0.4]], [[0.5, 0.5], [0.2, 0.8]]]},
    }
    m = causal.CausalModel.from_dict(spec)
    assert m.parents("C") == ("S", "T")
    # C's table is now indexed [S, T, C]: P(C=1 | S=1, T=0) was cpt[T=0][S=1][1] = 0.4
    assert float(m.cpts["C"][1, 0, 1]) == pytest.approx(0.4)
    again = causal.CausalModel.from_dict(m.to_dict())
    np.testing.assert_allclose(again.joint().table, m.joint().table, rtol=1e-12)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # pgmpy's own deprecations on import
def test_pgmpy_interop_and_agreement(x64, confounded, draw_cpts):
    from pgmpy.inference import CausalInference

    g, card = confounded
    full = causal.CausalModel(g, draw_cpts(jax.random.key(9), g, card), card)
    bn = full.to_pgmpy()
    back = causal.CausalModel.from_pgmpy(bn)
    for v in full.variables:
        np.testing.assert_allclose(back.cpts[v], full.cpts[v], rtol=1e-15)
    infer = CausalInference(bn)
    for x_var, y_var in [("X", "Y"), ("Z", "Y"), ("M", "Y"), ("A", "M")]:
        for x in range(card[x_var]):
            ref = infer.query([y_var], do={x_var: x}, show_progress=False)
            np.testing.assert_allclose(
                full.query([y_var], do={x_var: x}).table, ref.values, atol=1e-12
            )  # both exact; rounding differs
    with_latent = causal.CausalModel.from_pgmpy(bn, latent=["U"])
    assert with_latent.latent == ("U",)


# ---------------------------------------------------------------------- bad input
def test_cyclic_graph_is_rejected():
    g = nx.DiGraph([("A", "B"), ("B", "C"), ("C", "A")])
    with pytest.raises(ValueError, match="acyclic; it has the cycle"):
        causal.CausalModel(g, {v: [0.5, 0.5] for v in g}, 2)


def test_bad_cpts_are_rejected(smoking_graph, draw_cpts):
    good = draw_cpts(jax.random.key(0), smoking_graph, 2)
    bad = dict(good, T=jnp.array([[0.9, 0.2], [0.5, 0.5]]))
    with pytest.raises(
        ValueError, match=r"cpts\['T'\]: rows must sum to 1.*at index \(0,\) is 1 [+-] "
    ):
        causal.CausalModel(smoking_graph, bad, 2, latent=["H"])
    neg = dict(good, T=jnp.array([[1.2, -0.2], [0.5, 0.5]]))
    with pytest.raises(ValueError, match=r"cpts\['T'\] has negative entries"):
        causal.CausalModel(smoking_graph, neg, 2, latent=["H"])
    with pytest.raises(ValueError, match=r"cpts\['C'\] must have shape \(2, 2, 2\) \(parents"):
        causal.CausalModel(smoking_graph, dict(good, C=jnp.full((2, 2), 0.5)), 2)
    with pytest.raises(ValueError, match="missing the node"):
        causal.CausalModel(smoking_graph, {k: v for k, v in good.items() if k != "C"}, 2)
    with pytest.raises(ValueError, match="not in the graph"):
        causal.CausalModel(smoking_graph, dict(good, Q=jnp.ones(1)), 2)
    with pytest.raises(ValueError, match="latent names node"):
        causal.CausalModel(smoking_graph, good, 2, latent=["Q"])
    with pytest.raises(TypeError, match="non-empty strings"):
        causal.CausalModel(nx.DiGraph([(0, 1)]), {0: [1.0], 1: [[1.0]]}, 1)


def test_unknown_variables_are_rejected(smoking_graph, draw_cpts):
    m = causal.CausalModel(
        smoking_graph, draw_cpts(jax.random.key(0), smoking_graph, 2), 2, latent=["H"]
    )
    with pytest.raises(ValueError, match=r"interventions names unknown variable\(s\) \['Q'\]"):
        m.do({"Q": 1})
    with pytest.raises(ValueError, match=r"variables names unknown variable\(s\) \['Q'\]"):
        m.query(["Q"])
    with pytest.raises(ValueError, match=r"evidence names unknown variable\(s\) \['Q'\]"):
        m.query(["C"], evidence={"Q": 0})
    with pytest.raises(ValueError, match="out of range"):
        m.do({"S": 2})
    with pytest.raises(ValueError, match="sum to 1"):
        m.do({"S": jnp.array([0.5, 0.6])})
    with pytest.raises(ValueError, match="both queried and observed"):
        m.query(["C"], evidence={"C": 0})


def test_sampling_helpers_bad_input():
    with pytest.raises(ValueError, match=r"states outside 0\.\.1"):
        causal.empirical({"A": np.array([0, 2])}, {"A": 2})
    with pytest.raises(ValueError, match="cardinality is missing"):
        causal.empirical({"A": np.array([0, 1])}, {})
    with pytest.raises(ValueError, match="same number of draws"):
        causal.empirical({"A": np.array([0, 1]), "B": np.array([0])}, {"A": 2, "B": 2})
    with pytest.raises(TypeError, match="PRNG key"):
        causal.random_model(0, 5)


def test_zero_probability_evidence_is_an_error(smoking_graph):
    cpts = {
        "H": [0.5, 0.5],
        "S": [[1.0, 0.0], [0.3, 0.7]],
        "T": [[1.0, 0.0], [0.2, 0.8]],
        "C": [[[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]],
    }
    m = causal.CausalModel(smoking_graph, cpts, 2, latent=["H"])
    with pytest.raises(ValueError, match=r"the evidence \{'T': 1\} has probability 0 under do"):
        m.query(["C"], do={"S": 0}, evidence={"T": 1})
    with pytest.raises(ValueError, match="cannot condition"):
        m.do({"S": 0}).joint().condition({"T": 1})


@pytest.mark.filterwarnings("ignore::FutureWarning")  # pgmpy's own deprecations
@pytest.mark.parametrize("name", ["sachs", "alarm"])
def test_from_pgmpy_accepts_pgmpy_shipped_networks_in_float64(x64, name):
    from pgmpy.utils import get_example_model

    bn = get_example_model(name)  # rows sum to 1 within ~1e-7 (7 stored digits)
    m = causal.CausalModel.from_pgmpy(bn)
    for table in m.cpts.values():
        assert table.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(table).sum(-1), 1.0, atol=1e-12)  # renormalised


def test_row_sum_errors_show_the_deviation(x64):
    g = nx.DiGraph([("A", "B")])
    bad = {"A": jnp.array([0.5, 0.5 + 1e-7]), "B": jnp.array([[0.5, 0.5], [0.5, 0.5]])}
    with pytest.raises(ValueError, match=r"the sum is 1 \+ 1e-07 \(tolerance 1e-09 for float64\)"):
        causal.CausalModel(g, bad, {"A": 2, "B": 2})
