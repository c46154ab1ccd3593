"""Channels and distributions on named variables, checked against numpy on the same tables."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit import causal

RNG = np.random.default_rng(0)


def stochastic(*shape):
    """A random table summing to 1 over its last axis."""
    t = RNG.random(shape) + 0.05
    return t / t.sum(-1, keepdims=True)


def joint_abc():
    t = RNG.random((2, 3, 2)) + 0.05
    return t / t.sum()


def test_distribution_queries_match_numpy(x64):
    t = joint_abc()
    d = causal.Distribution(t, ("A", "B", "C"))
    np.testing.assert_allclose(d.marginal(["C", "A"]).table, t.sum(1).T, rtol=1e-12)
    np.testing.assert_allclose(d.prob({"A": 1, "C": 0}), t[1, :, 0].sum(), rtol=1e-12)
    cond = d.condition({"B": 2})
    assert cond.names == ("A", "C")
    np.testing.assert_allclose(cond.table, t[:, 2, :] / t[:, 2, :].sum(), rtol=1e-12)
    ch = d.conditional(["A"], ["C", "B"])  # ω(A | C, B), table axes (C, B, A)
    exact = np.transpose(t, (2, 1, 0)) / t.sum(0).T[:, :, None]
    assert (ch.inputs, ch.outputs) == (("C", "B"), ("A",))
    np.testing.assert_allclose(ch.table, exact, rtol=1e-12)  # exact arithmetic up to rounding


def test_disintegration_reconstructs_the_joint(x64):
    t = joint_abc()
    d = causal.Distribution(t, ("A", "B", "C"))
    rebuilt = d.marginal(["B"]).extend(d.disintegrate(["B"]))
    np.testing.assert_allclose(rebuilt.array(("A", "B", "C")), t, rtol=1e-12)


def test_composition_is_the_matrix_product_and_associative(x64):
    f = causal.Channel(stochastic(2, 3), ["A"], ["B"])
    g = causal.Channel(stochastic(3, 4), ["B"], ["C"])
    h = causal.Channel(stochastic(4, 2), ["C"], ["D"])
    np.testing.assert_allclose((f >> g).table, f.table @ g.table, rtol=1e-12)
    np.testing.assert_allclose(((f >> g) >> h).table, (f >> (g >> h)).table, rtol=1e-12)
    state = causal.Distribution(stochastic(2), ["A"])
    np.testing.assert_allclose((state >> f).table, state.table @ f.table, rtol=1e-12)
    assert isinstance(state >> f, causal.Distribution)


def test_tensor_is_kronecker_and_interchange_law_holds(x64):
    f, f2 = (
        causal.Channel(stochastic(2, 3), ["A"], ["B"]),
        causal.Channel(stochastic(3, 2), ["B"], ["E"]),
    )
    g, g2 = (
        causal.Channel(stochastic(2, 2), ["C"], ["D"]),
        causal.Channel(stochastic(2, 3), ["D"], ["F"]),
    )
    fg = f @ g
    exact = np.einsum("ab,cd->acbd", f.table, g.table)
    np.testing.assert_allclose(fg.table, exact, rtol=1e-12)
    lhs = (f @ g) >> (f2 @ g2)
    rhs = (f >> f2) @ (g >> g2)
    np.testing.assert_allclose(
        lhs.array(("A", "C", "E", "F")), rhs.array(("A", "C", "E", "F")), rtol=1e-12
    )


def test_markov_category_laws(x64):
    k = 3
    cp = causal.copy("A", k, ("A1", "A2"))
    # commutative: swapping the two copies gives the same channel
    np.testing.assert_array_equal(cp.array(("A", "A1", "A2")), cp.array(("A", "A2", "A1")))
    # coassociative: copying the first or the second output again gives the same 3-copy
    left = cp >> (causal.copy("A1", k, ("X", "Y")) @ causal.identity("A2", "Z", k))
    right = cp >> (causal.identity("A1", "X", k) @ causal.copy("A2", k, ("Y", "Z")))
    np.testing.assert_array_equal(
        left.array(("A", "X", "Y", "Z")), right.array(("A", "X", "Y", "Z"))
    )
    # counit: copy then discard one copy is the identity
    counit = cp >> (causal.identity("A1", "B", k) @ causal.discard("A2", k))
    np.testing.assert_array_equal(counit.table, np.eye(k))
    # discard is natural: f >> discard == discard, for any channel f
    f = causal.Channel(stochastic(k, 8).reshape(k, 2, 4), ["A"], ["B", "C"])
    natural = f >> (causal.discard("B", 2) @ causal.discard("C", 4))
    np.testing.assert_allclose(natural.table, np.ones(k), rtol=1e-12)
    # the uniform state and point masses
    np.testing.assert_allclose(causal.uniform("A", 4).table, np.full(4, 0.25))
    np.testing.assert_array_equal(causal.point("A", 3, 2).table, [0.0, 0.0, 1.0])


def test_at_and_relabel(x64):
    t = stochastic(2, 3, 2)
    ch = causal.Channel(t, ["A", "B"], ["C"])
    part = ch.at({"B": 1})
    assert (part.inputs, part.outputs) == (("A",), ("C",))
    np.testing.assert_allclose(part.table, t[:, 1, :])
    d = ch.at({"A": 0, "B": 2})
    assert isinstance(d, causal.Distribution)
    np.testing.assert_allclose(d.table, t[0, 2])
    assert ch.relabel({"C": "Y"}).outputs == ("Y",)


def test_vmap_over_parameter_draws(x64):
    draws = jax.random.exponential(jax.random.key(0), (50, 8))
    draws = draws / draws.sum(-1, keepdims=True)  # 50 Dirichlet(1) joints
    f = jax.vmap(
        lambda t: (
            causal.Distribution(t.reshape(2, 2, 2), ("S", "T", "C"))
            .condition({"S": 1})
            .prob({"C": 1})
        )
    )
    out = f(draws)
    tab = np.asarray(draws).reshape(50, 2, 2, 2)
    exact = tab[:, 1, :, 1].sum(1) / tab[:, 1].sum((1, 2))
    np.testing.assert_allclose(out, exact, rtol=1e-12)


def test_jit_returns_a_distribution():
    f = jax.jit(lambda t: causal.Distribution(t, ("A", "B")).marginal(["B"]))
    out = f(jnp.full((2, 2), 0.25))
    assert isinstance(out, causal.Distribution) and out.names == ("B",)
    np.testing.assert_allclose(out.table, [0.5, 0.5])


def test_zero_probability_rows_can_be_filled_uniformly(x64):
    t = np.array([[0.5, 0.5], [0.0, 0.0]])
    d = causal.Distribution(t, ("A", "B"))
    ch = d.conditional(["B"], ["A"], on_zero="uniform")
    np.testing.assert_allclose(ch.table, [[0.5, 0.5], [0.5, 0.5]])
    counts = causal.Distribution(np.array([[1, 3], [0, 4]]), ("A", "B"), normalize=True)
    np.testing.assert_allclose(counts.table, [[0.125, 0.375], [0.0, 0.5]])


# ---------------------------------------------------------------------- bad input
def test_rows_not_summing_to_one_are_rejected():
    with pytest.raises(
        ValueError, match=r"sum to 1 over the output axes; the sum at index \(0,\) is 1 \+ 0\.1"
    ):
        causal.Channel([[0.5, 0.6], [0.5, 0.5]], ["A"], ["B"])
    with pytest.raises(ValueError, match="sum to 1"):
        causal.Distribution([0.2, 0.2], ["A"])


def test_negative_and_nonfinite_entries_are_rejected():
    with pytest.raises(ValueError, match="negative entries"):
        causal.Channel([[1.2, -0.2], [0.5, 0.5]], ["A"], ["B"])
    with pytest.raises(ValueError, match="finite"):
        causal.Distribution([np.nan, 1.0], ["A"])


def test_bad_names_and_shapes_are_rejected():
    with pytest.raises(ValueError, match="one axis per name"):
        causal.Distribution([0.5, 0.5], ["A", "B"])
    with pytest.raises(ValueError, match="repeated"):
        causal.Distribution(np.full((2, 2), 0.25), ["A", "A"])
    with pytest.raises(ValueError, match="both input and output"):
        causal.Channel(np.eye(2), ["A"], ["A"])
    with pytest.raises(TypeError, match="non-empty strings"):
        causal.Distribution([0.5, 0.5], [0])


def test_composition_mismatches_are_rejected():
    f = causal.Channel(stochastic(2, 3), ["A"], ["B"])
    g = causal.Channel(stochastic(2, 3), ["C"], ["D"])
    with pytest.raises(ValueError, match="must be exactly the first one's outputs"):
        f >> g
    with pytest.raises(ValueError, match="disjoint variables"):
        f @ f
    with pytest.raises(ValueError, match="states"):
        f >> causal.Channel(stochastic(2, 3), ["B"], ["C"])


def test_unknown_variables_and_bad_states_are_rejected():
    d = causal.Distribution(np.full((2, 2), 0.25), ("A", "B"))
    with pytest.raises(ValueError, match=r"unknown variable\(s\) \['Z'\]"):
        d.condition({"Z": 0})
    with pytest.raises(ValueError, match="unknown output"):
        d.marginal(["Z"])
    with pytest.raises(ValueError, match="out of range"):
        d.prob({"A": 2})
    with pytest.raises(TypeError, match="integer state"):
        d.prob({"A": True})


def test_conditioning_on_a_zero_probability_event_is_an_error():
    d = causal.Distribution(np.array([[0.5, 0.5], [0.0, 0.0]]), ("A", "B"))
    with pytest.raises(ValueError, match=r"cannot condition on \{'A': 1\}: it has probability 0"):
        d.condition({"A": 1})
    with pytest.raises(ValueError, match=r"the event \{'A': 1\} has probability 0"):
        d.conditional(["B"], ["A"])
