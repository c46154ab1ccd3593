"""Symbolic covariance from the one-connection rule against sympy's inverse and numerics."""

import numpy as np
import sympy

from probkit import sem

from ._graphs import cyclic_cases, inverse_covariance

THREE_CYCLE = sem.MixedGraph(3, directed=[(0, 1), (1, 2), (2, 0)], bidirected=[(0, 1)])


def test_three_cycle_formulas_of_the_notes():
    a, b, c = sympy.symbols("l_0_1 l_1_2 l_2_0")
    w11, w22, w33, w12 = sympy.symbols("w_0_0 w_1_1 w_2_2 w_0_1")
    sigma = sem.symbolic_covariance(THREE_CYCLE)
    d2 = (1 - a * b * c) ** 2
    expected = {
        (0, 0): (w11 + c**2 * w33 + b**2 * c**2 * w22 + 2 * b * c * w12) / d2,
        (0, 1): (a * w11 + b * c * w22 + a * c**2 * w33 + (1 + a * b * c) * w12) / d2,
        (1, 2): (a**2 * b * w11 + b * w22 + a * c * w33 + 2 * a * b * w12) / d2,
    }
    for (i, j), e in expected.items():
        assert sympy.cancel(sigma[i, j] - e) == 0
        assert sigma[i, j] == sigma[j, i]
    parts = sem.symbolic_parametrization(THREE_CYCLE)
    assert sympy.expand(parts.determinant - (1 - a * b * c)) == 0
    assert parts.denominator == parts.determinant**2
    assert [str(s) for s in parts.parameters] == [
        "l_0_1",
        "l_1_2",
        "l_2_0",
        "w_0_0",
        "w_1_1",
        "w_2_2",
        "w_0_1",
    ]


def test_agrees_with_sympys_own_inverse():
    g = sem.MixedGraph(4, directed=[(0, 1), (1, 2), (2, 0), (2, 3), (3, 2)], bidirected=[(0, 3)])
    parts = sem.symbolic_parametrization(g)
    inv = (sympy.eye(4) - parts.lam).inv()
    reference = inv.T * parts.omega * inv
    diff = (parts.matrix() - reference).applyfunc(sympy.cancel)
    assert diff == sympy.zeros(4, 4)
    assert sympy.expand(parts.determinant - (sympy.eye(4) - parts.lam).det()) == 0
    assert all(p.is_polynomial(*parts.parameters) for p in parts.numerator)


def test_symbolic_evaluated_at_random_points_agrees_with_numerics():
    # the same 210 random cyclic graphs as the numeric acceptance test (tests/sem/test_model.py)
    worst = 0.0
    for g, lam, omega in cyclic_cases():
        ref = inverse_covariance(lam, omega)
        got = sem.symbolic_parametrization(g).evaluate(lam, omega)
        worst = max(worst, np.max(np.abs(got - ref)) / np.max(np.abs(ref)))
    assert worst < 1e-10  # float64 evaluation of exact integer polynomials


def test_acyclic_denominator_is_one_and_numerator_is_the_trek_polynomial():
    g = sem.MixedGraph(3, directed=[(0, 1), (1, 2)], bidirected=[(0, 2)])
    sigma = sem.symbolic_covariance(g)
    a, b, w00, w02 = sympy.symbols("l_0_1 l_1_2 w_0_0 w_0_2")
    assert sem.symbolic_parametrization(g).denominator == 1
    assert sympy.expand(sigma[0, 2] - (a * b * w00 + w02)) == 0
    assert sem.covariance_symbols(g)[2, 0] == sympy.Symbol("s_0_2")
