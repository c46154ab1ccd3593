"""Generic finite-to-one verdicts (Jacobian rank) on documented cases, and the Jacobian itself."""

import numpy as np
import pytest

from probkit import sem

from ._graphs import inverse_covariance, random_cyclic_graph, random_parameters

G = sem.MixedGraph
# (graph, finite-to-one, model dimension, why)
CASES = [
    (G(2, [(0, 1)], [(0, 1)]), False, 3, "bow: 4 parameters > 3 covariances"),
    (G(2, [(0, 1), (1, 0)]), False, 3, "2-cycle: 4 parameters > 3 covariances"),
    (G(3, [(0, 1), (1, 2)], [(1, 2)]), True, 6, "instrumental variable: a bow, yet identifiable"),
    (
        G(3, [(0, 1), (1, 2)], [(0, 1)]),
        False,
        5,
        "bow without instrument: 6 = 6 parameters but lambda_01, omega_01 trade off",
    ),
    (
        G(4, [(2, 0), (3, 1), (0, 1), (1, 0)]),
        True,
        8,
        "2-cycle with one instrument per node (half-trek criterion)",
    ),
    (
        G(3, [(0, 1), (1, 2), (2, 0)], [(0, 1)]),
        False,
        6,
        "3-cycle of the notes with a bow: 7 parameters > 6",
    ),
    (G(3, [(0, 1), (1, 2), (2, 0)]), True, 6, "simple 3-cycle: the paper's theorem"),
    (G(4, [(0, 1), (1, 2), (2, 3), (3, 1)], [(0, 2)]), True, 9, "simple, cycle fed by a source"),
]


@pytest.mark.parametrize("graph, verdict, dim, why", CASES, ids=[c[3] for c in CASES])
def test_documented_verdicts(graph, verdict, dim, why):
    res = sem.is_generically_finite_to_one(graph, exact=True)
    assert bool(res) is verdict, why
    assert res.dimension == dim and res.exact_rank == dim and set(res.ranks) == {dim}
    assert res.num_parameters == graph.num_parameters and res.simple == graph.is_simple()


def test_simple_cyclic_graphs_are_finite_to_one():
    # Adhikari et al. (2022): G simple => generically finite-to-one
    rng = np.random.default_rng(5)
    checked = 0
    while checked < 12:
        g = random_cyclic_graph(rng, int(rng.integers(3, 7)), 0.35, 0.25)
        if not g.is_simple():
            continue
        res = sem.is_generically_finite_to_one(g, num_points=2)
        assert res and res.dimension == g.num_parameters, g
        checked += 1


def test_jacobian_matches_finite_differences(x64):
    g = G(4, [(0, 1), (1, 2), (2, 3), (3, 1)], [(0, 2)])
    lam, omega = random_parameters(np.random.default_rng(3), g)
    theta = np.concatenate([lam[g.directed_adjacency()], np.diag(omega), [omega[0, 2]]])
    jac = np.asarray(sem.jacobian(g, theta))
    rows, cols = np.triu_indices(4)
    d_mask = g.directed_adjacency()

    def phi(t):
        lam_t = np.zeros((4, 4))
        lam_t[d_mask] = t[:4]  # edges in row-major order, as graph.directed_indices
        om_t = np.diag(t[4:8])
        om_t[0, 2] = om_t[2, 0] = t[8]
        return inverse_covariance(lam_t, om_t)[rows, cols]

    h = 1e-6
    fd = np.stack(
        [(phi(theta + h * e) - phi(theta - h * e)) / (2 * h) for e in np.eye(len(theta))], axis=1
    )
    np.testing.assert_allclose(jac, fd, atol=1e-7)  # central differences: O(h^2) + O(eps/h)


def test_bad_arguments():
    with pytest.raises(TypeError, match="MixedGraph"):
        sem.is_generically_finite_to_one([(0, 1)])
    with pytest.raises(ValueError, match="num_points"):
        sem.is_generically_finite_to_one(CASES[0][0], num_points=0)
    with pytest.raises(ValueError, match="theta"):
        sem.jacobian(CASES[0][0], np.zeros(3))
