"""String diagrams: the interpretation functor, Markov-category laws, cut agreeing with do."""

import jax
import matplotlib
import numpy as np
import pytest

from probkit import causal
from probkit.causal import Box, Copy, Diagram, Discard, Permute, Swap, Uniform, Wire

matplotlib.use("Agg")

RNG = np.random.default_rng(0)
A, B, C = Wire("A", 2), Wire("B", 3), Wire("C", 2)


def stochastic(rows, cols):
    t = RNG.random((rows, cols)) + 0.05
    return t / t.sum(-1, keepdims=True)


def test_interpretation_is_a_functor(x64):
    f = Box("f", [A], [B], data=stochastic(2, 3))
    g = Box("g", [B], [C], data=stochastic(3, 2))
    h = Box("h", [C], [Wire("D", 4)], data=stochastic(2, 4))
    # preserves sequential composition ...
    np.testing.assert_allclose(causal.interpret(f >> g).table, f.data @ g.data, rtol=1e-12)
    # ... and parallel composition (Kronecker product of the tables)
    par = causal.interpret(f @ h)
    np.testing.assert_allclose(
        par.array(("A", "C", "B", "D")), np.einsum("ab,cd->acbd", f.data, h.data), rtol=1e-12
    )
    # identities go to identities
    np.testing.assert_array_equal(causal.evaluate(Diagram.id([A])), np.eye(2))
    # boxes can be reinterpreted with other tables
    other = stochastic(2, 3)
    np.testing.assert_allclose(causal.interpret(f, {"f": other}).table, other)


def test_markov_category_laws_on_diagrams(x64):
    copy = Copy(B)
    # commutativity: copy followed by a swap is copy
    np.testing.assert_array_equal(causal.evaluate(copy >> Swap(B, B)), causal.evaluate(copy))
    # coassociativity
    left = copy >> (Copy(B) @ Diagram.id([B]))
    right = copy >> (Diagram.id([B]) @ Copy(B))
    np.testing.assert_array_equal(causal.evaluate(left), causal.evaluate(right))
    # counit: copy then discard either side is the identity
    np.testing.assert_array_equal(
        causal.evaluate(copy >> (Diagram.id([B]) @ Discard(B))), np.eye(3)
    )
    np.testing.assert_array_equal(
        causal.evaluate(copy >> (Discard(B) @ Diagram.id([B]))), np.eye(3)
    )
    # discard is natural for a (stochastic) box, and uniform has total mass 1
    f = Box("f", [A], [B, C], data=stochastic(2, 6).reshape(2, 3, 2))
    np.testing.assert_allclose(
        causal.evaluate(f >> (Discard(B) @ Discard(C))), np.ones(2), rtol=1e-12
    )
    np.testing.assert_allclose(causal.evaluate(Uniform(B) >> Discard(B)), 1.0)
    # a copied state is the diagonal of the joint
    state = Box("s", [], [B], data=stochastic(1, 3)[0])
    np.testing.assert_allclose(causal.evaluate(state >> copy), np.diag(state.data))


def test_model_diagram_denotes_the_joint_and_converts_back(x64):
    m = causal.random_model(jax.random.key(3), 6, max_parents=2)
    d = m.diagram()
    np.testing.assert_allclose(causal.interpret(d).array(m.observed), m.joint().table, atol=1e-15)
    back = causal.CausalModel.from_diagram(d)
    assert set(back.graph.edges) == set(m.graph.edges)
    for v in m.variables:
        np.testing.assert_array_equal(back.cpts[v], m.cpts[v])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cut_agrees_with_do_on_random_networks(x64, seed):
    # Random 7-node networks, two of their nodes latent: for every observed X and state x,
    # interpret(cut(D, X)) conditioned on X = x equals the joint of m.do({X: x}).
    base = causal.random_model(jax.random.key(seed), 7, max_parents=3, edge_probability=0.6)
    latent = [v for v in base.variables if v in ("X1", "X4")]
    m = causal.CausalModel(base.graph, base.cpts, 2, latent=latent)
    d = m.diagram()
    for x_var in m.observed:
        cut = causal.interpret(causal.cut(d, x_var))
        others = [v for v in m.observed if v != x_var]
        for x in (0, 1):
            surgery = m.do({x_var: x}).joint().marginal(others).table
            np.testing.assert_allclose(
                cut.condition({x_var: x}).array(others), surgery, atol=1e-14
            )  # the same sums in another order


def test_cut_model_reads_back_with_a_uniform_root(x64, smoking_graph, draw_cpts):
    m = causal.CausalModel(
        smoking_graph, draw_cpts(jax.random.key(0), smoking_graph, 2), 2, latent=["H"]
    )
    back = causal.CausalModel.from_diagram(causal.cut(m.diagram(), "S"))
    assert back.parents("S") == () and back.latent == ("H",)
    np.testing.assert_allclose(back.cpts["S"], [0.5, 0.5])


def test_draw_writes_a_figure(tmp_path, smoking_graph, draw_cpts):
    m = causal.CausalModel(
        smoking_graph, draw_cpts(jax.random.key(0), smoking_graph, 2), 2, latent=["H"]
    )
    d = causal.cut(m.diagram(), "S")
    fig = causal.draw(d, path=tmp_path / "cut.png", title="cut_S")
    assert (tmp_path / "cut.png").stat().st_size > 1000
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert {"H", "T", "C", "uniform"} <= labels
    assert "copy(H)" in str(d) and "uniform(S)" in str(d)
    assert d.draw().axes[0].texts  # the method draws the same way


def test_draw_takes_a_single_box_and_names_a_bad_argument():
    box = Box("f", (Wire("a", 2),), (Wire("b", 3),))
    assert {"f"} <= {t.get_text() for t in causal.draw(box).axes[0].texts}
    with pytest.raises(TypeError, match="diagram must be a causal.Diagram or Box"):
        causal.draw([1, 2])


# ---------------------------------------------------------------------- bad input
def test_type_mismatch_is_rejected():
    f = Box("f", [A], [B])
    with pytest.raises(ValueError, match="cannot compose"):
        f >> Box("g", [C], [A])
    with pytest.raises(ValueError, match="must have shape"):
        Box("f", [A], [B], data=np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="sum to 1"):
        Box("f", [A], [B], data=np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match="size >= 1"):
        Wire("A", 0) and Box("f", [("A", 0)], [])
    with pytest.raises(ValueError, match="permutation"):
        Permute([A, B], [0, 0])


def test_interpretation_errors_are_clear():
    with pytest.raises(ValueError, match="has no data"):
        causal.interpret(Box("f", [A], [B]))
    with pytest.raises(ValueError, match="several wires named"):
        causal.interpret(Copy(A))
    with pytest.raises(ValueError, match="no box of the diagram emits 'Z'"):
        causal.cut(Box("f", [A], [B]).to_diagram(), "Z")
    with pytest.raises(ValueError, match="no input wires"):
        causal.CausalModel.from_diagram(Box("f", [A], [B], data=stochastic(2, 3)).to_diagram())
