"""Generic finite-to-one-ness of the SEM parametrization via the rank of its Jacobian.

The parametrization phi: theta = (lambda_D, omega_ii, omega_B) -> vech(Sigma) is a rational map
from R^(n + |D| + |B|) to R^(n(n+1)/2). Its generic fibre has dimension
#parameters - rank(J phi) at a generic point, so phi is generically finite-to-one exactly when
the Jacobian has full column rank at generic parameters, and the generic rank is the dimension
of the model (its Zariski closure). The rank at any point is at most the generic rank, and it
equals it outside a proper algebraic subset, so random points reveal it with probability one.

Adhikari, Gross, Härkönen and Tsigaridas (2022) prove that *simple* graphs (no bow, no 2-cycle)
are generically finite-to-one; the check here also decides non-simple graphs, e.g. the
instrumental-variable graph (a bow that is identifiable) versus a bare bow (not).

Numerically the Jacobian is `jax.jacfwd` of `covariance` in float64 at a few random points; with
`exact=True` it is also computed in rational arithmetic at a random rational point from the
closed form dSigma = A^T dLambda^T Sigma + Sigma dLambda A + A^T dOmega A, A = (I - Lambda)^{-1},
and its rank over Q is a certified lower bound of the generic rank (full rank certifies
finite-to-one).
"""

import dataclasses
import random

import jax
import numpy as np
from sympy import QQ
from sympy.polys.matrices import DomainMatrix

from probkit.core import validate
from probkit.sem.graph import MixedGraph
from probkit.sem.model import (
    covariance_by_inverse,
    host_parameters,
    unpack_parameters,
)

__all__ = ["FiniteToOne", "exact_jacobian_rank", "is_generically_finite_to_one", "jacobian"]


@dataclasses.dataclass(frozen=True)
class FiniteToOne:
    """Verdict of `is_generically_finite_to_one`; truthy exactly when finite-to-one.

    Attributes:
        finite_to_one: generic Jacobian rank == number of parameters.
        dimension: generic rank = dimension of the model.
        num_parameters: n + |D| + |B|.
        ambient_dimension: n (n + 1) / 2.
        ranks: numerical rank at each random point.
        exact_rank: rank over Q at a random rational point (exact=True), else None.
        simple: the graph is simple (then the paper's theorem says finite-to-one).
    """

    finite_to_one: bool  # generic Jacobian rank == number of parameters
    dimension: int  # generic rank = dimension of the model
    num_parameters: int  # n + |D| + |B|
    ambient_dimension: int  # n (n + 1) / 2
    ranks: tuple  # numerical rank at each random point
    exact_rank: int | None  # rank over Q at a random rational point (exact=True), else None
    simple: bool  # the graph is simple (then the paper's theorem says finite-to-one)

    def __bool__(self) -> bool:
        return bool(self.finite_to_one)


def _vech_indices(n):
    return np.triu_indices(n)


def jacobian(graph: MixedGraph, theta) -> np.ndarray:
    """d vech(Sigma) / d theta: shape (n(n+1)/2, n + |D| + |B|) (upper triangle, row-major).

    Forward-mode autodiff (`jax.jacfwd`) of Sigma with respect to the dense (Lambda, Omega),
    compiled once per n and theta's dtype; the columns of theta are read off it (an
    off-diagonal omega_kl moves the entries (k, l) and (l, k) together).

    Examples:
        >>> g = sem.MixedGraph(2, directed=[(0, 1)])
        >>> theta = np.array([0.5, 1.0, 1.0])  # (lambda_01, omega_00, omega_11)
        >>> J = sem.jacobian(g, theta)  # (n(n+1)/2, n + |D| + |B|)
        >>> J.shape, int(np.linalg.matrix_rank(J))
        ((3, 3), 3)
    """
    if not isinstance(graph, MixedGraph):
        raise TypeError(f"graph must be a sem.MixedGraph, got {type(graph).__name__}")
    theta = validate.array("theta", theta, shape=(graph.num_parameters,), dtype_kind="f")
    return _jacobian_at(graph, *unpack_parameters(graph, theta))


def _jacobian_at(graph, lam, omega) -> np.ndarray:
    d_lam, d_omega = (np.asarray(x) for x in _dense_jacobian(lam, omega))
    columns = [d_lam[:, i, j] for i, j in graph.directed_indices]
    columns += [d_omega[:, k, k] for k in range(graph.num_nodes)]
    columns += [d_omega[:, k, l] + d_omega[:, l, k] for k, l in graph.bidirected_indices]
    return np.stack(columns, axis=1)


@jax.jit
def _dense_jacobian(lam, omega):
    rows, cols = _vech_indices(lam.shape[-1])
    return jax.jacfwd(lambda l, o: covariance_by_inverse(l, o)[0][rows, cols], argnums=(0, 1))(
        lam, omega
    )


def _numeric_rank(jac: np.ndarray, rtol: float) -> int:
    s = np.linalg.svd(jac, compute_uv=False)
    if s.size == 0 or s[0] == 0:
        return 0
    return int(np.sum(s > rtol * s[0]))


def random_rational_point(graph: MixedGraph, rng: random.Random, bound: int = 50):
    """(A, Sigma) as exact rational DomainMatrices at random rational parameters.

    lambda_ij = p/q with |p|, q <= bound; omega_ij = p/bound on B; omega_ii a positive integer
    plus the absolute row sum (diagonally dominant, so positive definite). Draws with
    det(I - Lambda) = 0 are redrawn. A = (I - Lambda)^{-1}, Sigma = A^T Omega A.
    """
    n = graph.num_nodes
    while True:
        lam = [[QQ(0)] * n for _ in range(n)]
        for i, j in graph.directed_indices:
            lam[i][j] = QQ(rng.randint(-bound, bound), rng.randint(1, bound))
        omega = [[QQ(0)] * n for _ in range(n)]
        for i, j in graph.bidirected_indices:
            omega[i][j] = omega[j][i] = QQ(rng.randint(-bound, bound), bound)
        for i in range(n):
            omega[i][i] = QQ(rng.randint(1, bound)) + sum(abs(v) for v in omega[i])
        a_mat = DomainMatrix.eye(n, QQ) - DomainMatrix(lam, (n, n), QQ)
        if a_mat.det() != 0:
            break
    a = a_mat.inv()
    return a, a.transpose() * DomainMatrix(omega, (n, n), QQ) * a


def exact_jacobian_rank(graph: MixedGraph, *, seed: int = 0, bound: int = 50) -> int:
    """Rank over Q of the Jacobian at a random rational parameter point (exact arithmetic).

    lambda = p/q with |p| <= bound, omega diagonally dominant with integer entries; a draw with
    det(I - Lambda) = 0 is redrawn. The result is a lower bound of the generic rank that is
    attained except on a proper algebraic subset (Schwartz-Zippel).

    Examples:
        >>> g = sem.MixedGraph(3, directed=[(0, 1), (1, 2)])  # 3 + 2 parameters, 6 moments
        >>> sem.exact_jacobian_rank(g)
        5
    """
    if not isinstance(graph, MixedGraph):
        raise TypeError(f"graph must be a sem.MixedGraph, got {type(graph).__name__}")
    rng = random.Random(seed)
    n = graph.num_nodes
    a, sigma = random_rational_point(graph, rng, bound)
    a_l, s_l = a.to_list(), sigma.to_list()
    rows, cols = _vech_indices(n)

    def vech(m):
        return [m[r][c] for r, c in zip(rows, cols)]

    def outer(u, v):
        return [[x * y for y in v] for x in u]

    def add(m1, m2):
        return [[x + y for x, y in zip(r1, r2)] for r1, r2 in zip(m1, m2)]

    columns = []
    for i, j in graph.directed_indices:  # dSigma = outer(A_j., Sigma_i.) + outer(Sigma_.i, A_j.)
        col_i = [s_l[r][i] for r in range(n)]
        columns.append(vech(add(outer(a_l[j], s_l[i]), outer(col_i, a_l[j]))))
    for k in range(n):
        columns.append(vech(outer(a_l[k], a_l[k])))
    for k, l in graph.bidirected_indices:
        columns.append(vech(add(outer(a_l[k], a_l[l]), outer(a_l[l], a_l[k]))))
    if not columns:
        return 0
    jac = DomainMatrix([list(r) for r in zip(*columns)], (len(rows), len(columns)), QQ)
    return int(jac.rank())


def is_generically_finite_to_one(
    graph: MixedGraph,
    *,
    num_points: int = 3,
    exact: bool = False,
    seed: int = 0,
    rtol: float = 1e-9,
) -> FiniteToOne:
    """Is (Lambda, Omega) -> Sigma generically finite-to-one on `graph`? Also the model dimension.

    Args:
        graph: the mixed graph.
        num_points: random parameter points at which the float64 Jacobian (JAX autodiff) is
            ranked; the generic rank is the largest rank seen.
        exact: also rank the Jacobian over Q at a random rational point (sympy); full rank
            there certifies the verdict exactly.
        seed: seeds the random points. The verdict does not depend on it except on a set of
            measure zero; it is an argument so that results are reproducible.
        rtol: singular values below rtol * largest count as zero.

    Returns:
        A `FiniteToOne` (truthy when finite-to-one) with `dimension` = generic rank.

    Examples:
        >>> g = sem.MixedGraph(3, directed=[(0, 1), (1, 2)], bidirected=[(0, 2)])
        >>> res = sem.is_generically_finite_to_one(g)
        >>> bool(res), res.dimension, res.num_parameters, res.ambient_dimension
        (True, 6, 6, 6)
    """
    if not isinstance(graph, MixedGraph):
        raise TypeError(f"graph must be a sem.MixedGraph, got {type(graph).__name__}")
    num_points = validate.positive_int("num_points", num_points)
    rtol = validate.positive_float("rtol", rtol)
    n = graph.num_nodes
    num_params = graph.num_parameters
    rng = np.random.default_rng(seed)
    lams, omegas = host_parameters(rng, graph, num_points)
    ranks = []
    with jax.enable_x64(True):
        for lam, omega in zip(lams, omegas):
            jac = _jacobian_at(graph, lam, omega)
            ranks.append(_numeric_rank(jac, rtol))
    rank = max(ranks)
    exact_rank = exact_jacobian_rank(graph, seed=seed) if exact else None
    if exact_rank is not None:
        rank = max(rank, exact_rank)
    return FiniteToOne(
        finite_to_one=rank == num_params,
        dimension=rank,
        num_parameters=num_params,
        ambient_dimension=n * (n + 1) // 2,
        ranks=tuple(ranks),
        exact_rank=exact_rank,
        simple=graph.is_simple(),
    )
