"""Vanishing-ideal exploration: known generators, certification, and refusals."""

import random

import numpy as np
import pytest
import sympy

from probkit import sem
from probkit.sem import ideal
from probkit.sem.identifiability import random_rational_point

CHAIN = sem.MixedGraph(3, directed=[(0, 1), (1, 2)])


def vanishes_exactly_at_random_points(f, g, count=3, seed=9):
    rng = random.Random(seed)
    n = g.num_nodes
    for _ in range(count):
        _, sigma = random_rational_point(g, rng)
        s = sigma.to_Matrix()
        subs = {sympy.Symbol(f"s_{i}_{j}"): s[i, j] for i in range(n) for j in range(i, n)}
        if f.subs(subs) != 0:
            return False
    return True


def test_chain_ideal_is_the_tetrad():
    res = sem.explore_vanishing_ideal(CHAIN, 2)
    s02, s11, s01, s12 = sympy.symbols("s_0_2 s_1_1 s_0_1 s_1_2")
    assert len(res.generators) == 1
    assert sympy.expand(res.generators[0] - (s02 * s11 - s01 * s12)) == 0  # leading term first
    assert res.dimensions == {1: 0, 2: 1} and res.rejected == [] and res.certified
    assert vanishes_exactly_at_random_points(res.generators[0], CHAIN)
    assert not vanishes_exactly_at_random_points(s01 * s12, CHAIN)
    lo, hi = res.singular_gaps[2]
    assert lo < 1e-12 < 1e-6 < hi  # a clean numerical gap


def test_linear_generators_of_a_disconnected_graph():
    g = sem.MixedGraph(3, directed=[(0, 1)])
    assert [str(f) for f in sem.vanishing_ideal(g, 1)] == ["s_0_2", "s_1_2"]


def test_cyclic_graph_generators_vanish_and_are_minimal():
    # 0 -> 1 and the 3-cycle 1 -> 2 -> 3 -> 1: 8 parameters, finite-to-one, codimension 2
    g = sem.MixedGraph(4, directed=[(0, 1), (1, 2), (2, 3), (3, 1)])
    res = sem.explore_vanishing_ideal(g, 3)
    assert res.dimensions == {1: 0, 2: 0, 3: 2} and res.new_generators == {1: 0, 2: 0, 3: 2}
    assert res.certified and not res.rejected
    for f in res.generators:
        assert sympy.Poly(f).is_homogeneous and sympy.Poly(f).total_degree() == 3
        assert vanishes_exactly_at_random_points(f, g, count=2)


def test_degree_two_multiples_are_not_new_generators():
    res = sem.explore_vanishing_ideal(CHAIN, 3)
    # (I)_3 = 6 multiples s_ij * tetrad (dimension 6) and nothing new
    assert res.dimensions[3] == 6 and res.new_generators == {1: 0, 2: 1, 3: 0}
    assert len(res.generators) == 1


def test_full_dimensional_model_has_no_low_degree_relations():
    g = sem.MixedGraph(3, directed=[(0, 1), (1, 2), (2, 0)], bidirected=[(0, 1)])
    assert sem.vanishing_ideal(g, 2) == []


def test_certification_rejects_a_wrong_candidate():
    polys = sem.symbolic.symbolic_parametrization(CHAIN)  # noqa: F841  (builds the cache)
    numerators = {
        v: ideal.polynomial_system(CHAIN, sem.connections.DEFAULT_MAX_TERMS).numerators[ij]
        for v, ij in enumerate(ideal._variables(3))
    }
    tetrad = {(2, 3): 1, (1, 4): -1}  # s_0_2 s_1_1 - s_0_1 s_1_2 by variable ids
    assert ideal._vanishes_symbolically(tetrad, numerators)
    assert not ideal._vanishes_symbolically({(2, 3): 1, (1, 4): -2}, numerators)


def test_uncertified_mode_checks_rational_points():
    res = sem.explore_vanishing_ideal(CHAIN, 2, certify=False)
    assert not res.certified and len(res.generators) == 1


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_degree"):
        sem.vanishing_ideal(CHAIN, 0)
    with pytest.raises(ValueError, match="max_monomials"):
        sem.vanishing_ideal(sem.MixedGraph(7, directed=[(0, 1)]), 4)
    with pytest.raises(ValueError, match="num_points"):
        sem.vanishing_ideal(CHAIN, 2, num_points=10)
    with pytest.raises(TypeError, match="MixedGraph"):
        sem.vanishing_ideal(np.eye(3), 2)
