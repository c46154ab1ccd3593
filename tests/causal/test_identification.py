"""Identification against brute-force surgery on random models, and hedges where it must fail.

The documented identifiable graphs: back-door (Z -> X -> Y, Z -> Y, U -> {Z, Y}), front-door
(the smoking graph), napkin (W1 -> W2 -> X -> Y, W1 <-> X, W1 <-> Y), and every identifiable
(X, Y) pair in random semi-Markovian graphs. Non-identifiable: the bow (X -> Y, X <-> Y) and
X -> Z -> Y with X <-> Z.
"""

import itertools

import jax
import networkx as nx
import numpy as np
import pytest

from probkit import causal


def brute_force_check(g, latent, est, draw_cpts, seeds=(0, 1), card=2):
    """est.evaluate(observed joint) == surgery on the full model, for random CPTs."""
    for seed in seeds:
        m = causal.CausalModel(g, draw_cpts(jax.random.key(seed), g, card), card, latent=latent)
        joint = m.joint()
        for values in itertools.product(range(card), repeat=len(est.treatment)):
            do = dict(zip(est.treatment, values))
            got = est.evaluate(joint, do).table
            truth = m.query(list(est.outcome), do=do).table
            np.testing.assert_allclose(got, truth, atol=1e-10)  # exact formulas, float64


BACKDOOR = (nx.DiGraph([("Z", "X"), ("X", "Y"), ("Z", "Y"), ("U", "Z"), ("U", "Y")]), ["U"])
FRONTDOOR = (nx.DiGraph([("H", "S"), ("H", "C"), ("S", "T"), ("T", "C")]), ["H"])
NAPKIN = (
    nx.DiGraph(
        [
            ("W1", "W2"),
            ("W2", "X"),
            ("X", "Y"),
            ("U1", "W1"),
            ("U1", "X"),
            ("U2", "W1"),
            ("U2", "Y"),
        ]
    ),
    ["U1", "U2"],
)


def test_backdoor(x64, draw_cpts):
    g, latent = BACKDOOR
    est = causal.identify(g, "X", "Y", latent=latent)
    assert est.method == "back-door" and est.adjustment == ("Z",)
    assert est.formula == "P(Y | do(X)) = Σ_{Z} P(Y | X, Z) P(Z)"
    brute_force_check(g, latent, est, draw_cpts, card=3)
    brute_force_check(
        g, latent, causal.identify(g, "X", "Y", latent=latent, method="id"), draw_cpts, card=3
    )


def test_frontdoor(x64, draw_cpts):
    g, latent = FRONTDOOR
    est = causal.identify(g, ["S"], ["C"], latent=latent)
    assert est.method == "front-door" and est.adjustment == ("T",)
    assert est.formula == "P(C | do(S)) = Σ_{T} P(T | S) [Σ_{S'} P(S') P(C | S', T)]"
    assert causal.backdoor_set(g, "S", "C", latent=latent) is None
    brute_force_check(g, latent, est, draw_cpts)
    general = causal.identify(g, ["S"], ["C"], latent=latent, method="id")
    assert general.method == "ID" and general.expression == est.expression
    brute_force_check(g, latent, general, draw_cpts)


def test_napkin_is_identified_by_id_only(x64, draw_cpts):
    g, latent = NAPKIN
    assert causal.backdoor_set(g, "X", "Y", latent=latent) is None
    assert causal.frontdoor_set(g, "X", "Y", latent=latent) is None
    est = causal.identify(g, "X", "Y", latent=latent)
    assert est.method == "ID"
    assert "P(X | W1, W2) P(Y | W1, W2, X)" in est.formula
    brute_force_check(g, latent, est, draw_cpts, seeds=(0, 1, 2))


def test_bow_is_not_identifiable():
    g = nx.DiGraph([("X", "Y"), ("U", "X"), ("U", "Y")])
    est = causal.identify(g, "X", "Y", latent=["U"])
    assert not est and est.identifiable is False
    hedge = causal.find_hedge(g, "X", "Y", latent=["U"])
    assert hedge == causal.Hedge(frozenset({"X", "Y"}), frozenset({"Y"}))
    assert est.hedge == hedge and "not identifiable" in est.reason
    with pytest.raises(causal.NotIdentifiableError, match=r"hedge F = \{X, Y\}"):
        est.evaluate(None, {"X": 1})
    # the same graph given with a bidirected edge instead of a named latent
    assert causal.find_hedge(nx.DiGraph([("X", "Y")]), "X", "Y", bidirected=[("X", "Y")]) == hedge


def test_mediator_confounded_with_treatment_is_not_identifiable():
    # X -> Z -> Y with X <-> Z: P(Z | do(X)) is a bow, and Y copies Z.
    g = nx.DiGraph([("X", "Z"), ("Z", "Y")])
    assert causal.identify(g, "X", "Y", bidirected=[("X", "Z")]).identifiable is False
    hedge = causal.find_hedge(g, "X", "Y", bidirected=[("X", "Z")])
    assert hedge.f == {"X", "Z"} and hedge.f_prime == {"Z"}
    assert str(hedge) == "hedge F = {X, Z}, F' = {Z}"


def test_two_models_witness_the_non_identifiability(x64):
    # Same graph U -> {X, Z}, X -> Z -> Y; same observed joint (X = Z = Y, uniform), yet
    # P(Y=1 | do(X=1)) is 1/2 in the confounded model and 1 in the causal one.
    g = nx.DiGraph([("U", "X"), ("U", "Z"), ("X", "Z"), ("Z", "Y")])
    eye = np.eye(2)
    copy_y = {"Y": eye}
    confounded = causal.CausalModel(
        g, {"U": [0.5, 0.5], "X": eye, "Z": np.stack([eye, eye], axis=1), **copy_y}, 2, latent=["U"]
    )  # Z = U, ignores X
    direct = causal.CausalModel(
        g,
        {
            "U": [0.5, 0.5],
            "X": [[0.5, 0.5], [0.5, 0.5]],
            "Z": np.stack([eye, eye], axis=0),
            **copy_y,
        },
        2,
        latent=["U"],
    )  # Z = X, U does nothing
    np.testing.assert_allclose(confounded.joint().table, direct.joint().table)
    assert float(confounded.query(["Y"], do={"X": 1}).table[1]) == pytest.approx(0.5)
    assert float(direct.query(["Y"], do={"X": 1}).table[1]) == pytest.approx(1.0)


def random_semi_markovian(seed, n=5, n_latent=3):
    rng = np.random.default_rng(seed)
    g = nx.DiGraph()
    names = [f"V{i}" for i in range(n)]
    g.add_nodes_from(names)
    for i, j in itertools.combinations(range(n), 2):
        if rng.random() < 0.4:
            g.add_edge(names[i], names[j])
    latent = []
    for k in range(n_latent):
        a, b = rng.choice(n, 2, replace=False)
        g.add_edges_from([(f"U{k}", names[a]), (f"U{k}", names[b])])
        latent.append(f"U{k}")
    return g, latent


def test_random_graphs_identified_or_hedged(x64, draw_cpts):
    identified = hedged = 0
    for seed in range(6):
        g, latent = random_semi_markovian(seed)
        admg = causal.latent_projection(g, latent)
        for x, y in itertools.permutations(admg.nodes, 2):
            est = causal.identify(g, x, y, latent=latent)
            if est:
                identified += 1
                assert causal.find_hedge(g, x, y, latent=latent) is None
                if x in admg.ancestors([y]):  # otherwise it is just P(y)
                    brute_force_check(g, latent, est, draw_cpts, seeds=(seed,))
                continue
            hedged += 1
            hedge = causal.find_hedge(g, x, y, latent=latent)
            assert hedge.f_prime < hedge.f and x in hedge.f and x not in hedge.f_prime
            for forest in (hedge.f, hedge.f_prime):  # both are single C-components
                assert len(admg.sub(forest).c_components()) == 1
    assert identified > 10 and hedged > 3  # both branches are exercised


def test_joint_treatments_and_outcomes(x64, draw_cpts):
    g = nx.DiGraph(
        [
            ("A", "X1"),
            ("X1", "M"),
            ("M", "X2"),
            ("X2", "Y1"),
            ("M", "Y2"),
            ("A", "Y1"),
            ("U", "X1"),
            ("U", "Y2"),
        ]
    )
    est = causal.identify(g, ["X1", "X2"], ["Y1", "Y2"], latent=["U"])
    assert est is not None and est.method == "ID"
    brute_force_check(g, ["U"], est, draw_cpts)


def test_unaffected_outcome_is_its_marginal(x64, draw_cpts):
    g, latent = FRONTDOOR
    est = causal.identify(g, "C", "S", latent=latent)
    assert est.formula == "P(S | do(C)) = P(S)"
    brute_force_check(g, latent, est, draw_cpts, seeds=(0,))


def test_latent_projection():
    g = nx.DiGraph([("L1", "L2"), ("L2", "A"), ("L1", "B"), ("A", "L3"), ("L3", "C")])
    admg = causal.latent_projection(g, ["L1", "L2", "L3"])
    assert admg.parents["C"] == {"A"}
    assert [set(e) for e in admg.bidirected] == [{"A", "B"}]


def test_model_latents_are_used(smoking_graph, draw_cpts):
    m = causal.CausalModel(
        smoking_graph, draw_cpts(jax.random.key(0), smoking_graph, 2), 2, latent=["H"]
    )
    assert causal.identify(m, "S", "C").method == "front-door"


# ---------------------------------------------------------------------- bad input
def test_identify_bad_input():
    g, latent = FRONTDOOR
    with pytest.raises(ValueError, match="acyclic"):
        causal.identify(nx.DiGraph([("A", "B"), ("B", "A")]), "A", "B")
    with pytest.raises(ValueError, match=r"treatment names unknown variable\(s\) \['Q'\]"):
        causal.identify(g, "Q", "C", latent=latent)
    with pytest.raises(ValueError, match="latent variable"):
        causal.identify(g, "H", "C", latent=latent)
    with pytest.raises(ValueError, match="overlap"):
        causal.identify(g, ["S", "C"], "C", latent=latent)
    with pytest.raises(ValueError, match="at least one"):
        causal.identify(g, [], "C", latent=latent)
    with pytest.raises(ValueError, match="not an observed node"):
        causal.identify(g, "S", "C", bidirected=[("S", "Q")])
    with pytest.raises(ValueError, match="method must be one of"):
        causal.identify(g, "S", "C", latent=latent, method="magic")
