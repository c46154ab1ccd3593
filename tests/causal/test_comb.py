"""Comb disintegration: the smoking example and the front-door case on random models."""

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

from probkit import causal


def test_smoking_example_numbers(x64, smoking_table):
    omega = causal.Distribution(smoking_table, ("S", "T", "C"))
    g, comb = causal.comb_disintegrate(omega, "S", "T", "C")
    np.testing.assert_allclose(g.table[:, 1], [0.047619, 0.594595], atol=1e-6)  # P(T=1 | S)
    do = comb.intervene(g)
    # the paper's numbers, from the observational table alone (research notes, part (c))
    assert float(do.at({"S": 1}).prob({"C": 1})) == pytest.approx(0.54230, abs=1e-5)
    assert float(do.at({"S": 0}).prob({"C": 1})) == pytest.approx(0.25348, abs=1e-5)
    # naive conditioning overstates the effect
    assert float(omega.condition({"S": 1}).prob({"C": 1})) == pytest.approx(0.6757, abs=1e-4)
    assert float(omega.condition({"S": 0}).prob({"C": 1})) == pytest.approx(0.1905, abs=1e-4)
    np.testing.assert_allclose(causal.front_door(omega, "S", "T", "C").table, do.table)


def test_smoking_example_in_float32(smoking_table):
    omega = causal.Distribution(smoking_table.astype(jnp.float32), ("S", "T", "C"))
    do = causal.front_door(omega, "S", "T", "C")
    assert do.dtype == jnp.float32
    # float32 keeps ~7 significant digits; the published values have 5
    np.testing.assert_allclose(do.table[:, 1], [0.25348, 0.54230], atol=1e-5)


def test_plugging_the_channel_back_gives_the_joint(x64, smoking_table):
    omega = causal.Distribution(smoking_table, ("S", "T", "C"))
    g, comb = causal.comb_disintegrate(omega, "S", "T", "C")
    np.testing.assert_allclose(comb.plug(g).array(("S", "T", "C")), smoking_table, atol=1e-15)
    # as a channel T -> (S, C), the comb's S-marginal does not depend on the hole's input
    f = comb.as_channel()
    assert f.inputs == ("T",) and f.outputs == ("S", "C")
    s_marg = f.marginal(["S"]).table
    np.testing.assert_allclose(s_marg[0], s_marg[1], atol=1e-15)
    np.testing.assert_allclose(s_marg[0], smoking_table.sum((1, 2)), atol=1e-15)


def frontdoor_graph(mediators=("T",)):
    g = nx.DiGraph([("H", "S"), ("H", "C")])
    g.add_edges_from(("S", t) for t in mediators)
    g.add_edges_from((t, "C") for t in mediators)
    return g


def test_comb_equals_surgery_on_128_random_frontdoor_models(x64, draw_cpts):
    # Hidden confounder H (3 states) of S and C, mediator T (3 states). For each model: comb
    # disintegration of the observed joint vs P(C | do(S)) on the full model, to 1e-10.
    g = frontdoor_graph()
    card = {"H": 3, "S": 2, "T": 3, "C": 2}
    batch = draw_cpts(jax.random.key(0), g, card, batch_shape=(128,))

    def both(cpts):
        m = causal.CausalModel(g, cpts, card, latent=["H"])
        est = causal.front_door(m.joint(), "S", "T", "C").table
        truth = jnp.stack([m.query(["C"], do={"S": s}).table for s in range(2)])
        naive = m.joint().conditional(["C"], ["S"]).table
        return est, truth, naive

    est, truth, naive = jax.jit(jax.vmap(both))(batch)
    np.testing.assert_allclose(est, truth, atol=1e-10)
    # the confounding is real: naive conditioning is far off for most models
    assert float(jnp.median(jnp.abs(naive - truth).max(axis=(1, 2)))) > 1e-2


def test_comb_with_groups_of_variables(x64, draw_cpts):
    g = frontdoor_graph(("T1", "T2"))
    g.add_edge("T1", "T2")
    m = causal.CausalModel(g, draw_cpts(jax.random.key(1), g, 2), 2, latent=["H"])
    g_ch, comb = causal.comb_disintegrate(m.joint(), ["S"], ["T1", "T2"], ["C"])
    assert g_ch.outputs == ("T1", "T2")
    truth = np.stack([m.query(["C"], do={"S": s}).table for s in range(2)])
    np.testing.assert_allclose(comb.intervene(g_ch).table, truth, atol=1e-12)


def test_front_door_fails_when_the_mediator_is_confounded(x64, draw_cpts):
    # H -> T breaks the comb factorisation: the formula no longer equals surgery.
    g = frontdoor_graph()
    g.add_edge("H", "T")
    m = causal.CausalModel(g, draw_cpts(jax.random.key(2), g, 2), 2, latent=["H"])
    est = causal.front_door(m.joint(), "S", "T", "C").table
    truth = np.stack([m.query(["C"], do={"S": s}).table for s in range(2)])
    assert np.abs(est - truth).max() > 1e-3


# ---------------------------------------------------------------------- bad input
def test_comb_bad_input(smoking_table):
    omega = causal.Distribution(smoking_table, ("S", "T", "C"))
    with pytest.raises(ValueError, match="disjoint"):
        causal.comb_disintegrate(omega, "S", ["T", "S"], "C")
    with pytest.raises(ValueError, match=r"unknown variable\(s\) \['Q'\]"):
        causal.comb_disintegrate(omega, "S", "T", "Q")
    with pytest.raises(TypeError, match="Distribution"):
        causal.comb_disintegrate(smoking_table, "S", "T", "C")
    _, comb = causal.comb_disintegrate(omega, "S", "T", "C")
    with pytest.raises(ValueError, match="the hole takes a channel"):
        comb.plug(comb.second)


def test_comb_needs_full_support():
    t = np.array([0.5, 0.1, 0.0, 0.0, 0.1, 0.05, 0.05, 0.2]).reshape(2, 2, 2)  # ω(S=0, T=1) = 0
    omega = causal.Distribution(t, ("S", "T", "C"))
    with pytest.raises(ValueError, match=r"the event \{'S': 0, 'T': 1\} has probability 0"):
        causal.comb_disintegrate(omega, "S", "T", "C")
