"""Estimand formulas (printing, simplification) and evaluation errors."""

import networkx as nx
import numpy as np
import pytest

from probkit import causal
from probkit.causal.estimand import Prob, Product, free_variables, summation


def test_sums_of_conditionals_simplify():
    rank = {"A": 0, "B": 1, "C": 2}.get
    # Σ_B P(B | A) P(C | A) = P(C | A): B occurs nowhere else
    assert summation({"B"}, Product((Prob(("B",), ("A",)), Prob(("C",), ("A",)))), rank) == Prob(
        ("C",), ("A",)
    )
    # Σ_A P(A, B) = P(B), but Σ_A P(A) P(B | A) keeps both terms
    assert summation({"A"}, Prob(("A", "B")), rank) == Prob(("B",))
    kept = summation({"A"}, Product((Prob(("A",)), Prob(("B",), ("A",)))), rank)
    assert str(kept) == "Σ_{A} P(A) P(B | A)"
    assert free_variables(kept) == {"B"}


def test_formula_primes_bound_copies_of_free_variables(smoking_graph):
    est = causal.identify(smoking_graph, "S", "C", latent=["H"])
    assert "Σ_{S'} P(S')" in str(est)
    assert r"\sum_{S'}" in est.latex() and r"P(C \mid do(S))" in est.latex()
    assert est.variables == {"S", "T", "C"}


def test_evaluate_reports_positivity_violations(smoking_graph):
    # Back-door in Z -> X -> Y, Z -> Y with P(X = 1 | Z = 1) = 0: P(Y | X=1, Z=1) is undefined.
    g = nx.DiGraph([("Z", "X"), ("X", "Y"), ("Z", "Y")])
    est = causal.identify(g, "X", "Y")
    m = causal.CausalModel(
        g,
        {
            "Z": [0.5, 0.5],
            "X": [[0.5, 0.5], [1.0, 0.0]],
            "Y": [[[0.9, 0.1], [0.3, 0.7]], [[0.6, 0.4], [0.2, 0.8]]],
        },
        2,
    )
    assert est.evaluate(m.joint(), {"X": 0}).table.shape == (2,)  # fine where positive
    with pytest.raises(ValueError, match="violates the positivity"):
        est.evaluate(m.joint(), {"X": 1})


def test_evaluate_bad_input(smoking_table, smoking_graph):
    est = causal.identify(smoking_graph, "S", "C", latent=["H"])
    omega = causal.Distribution(smoking_table, ("S", "T", "C"))
    with pytest.raises(ValueError, match=r"lacks variable\(s\) \['T'\]"):
        est.evaluate(omega.marginal(["S", "C"]), {"S": 1})
    with pytest.raises(ValueError, match="a state for each of"):
        est.evaluate(omega, {})
    with pytest.raises(ValueError, match="out of range"):
        est.evaluate(omega, {"S": 3})
    np.testing.assert_allclose(est.evaluate(omega, {"S": 1}).table[1], 0.54230, atol=1e-5)
