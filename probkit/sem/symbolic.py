"""Symbolic covariance of a linear SEM from the one-connection rule (sympy).

Parameters are the symbols l_i_j (edge i -> j), w_i_i (error variances) and w_i_j, i < j
(edge i <-> j), covariances are s_i_j with i <= j; i and j are node positions in
`graph.nodes`. With N the matrix of one-connection sums and Delta = det(I - Lambda),

    Sigma = N^T Omega N / Delta^2,

so the numerator N^T Omega N is a polynomial matrix and the denominator is Delta^2 (1 for
acyclic graphs: the trek rule). The polynomials are built in a sparse polynomial ring over the
integers from the same compiled plan as the numeric `covariance(..., method="one-connection")`,
so no symbolic matrix inverse or rational-function simplification is ever needed.
"""

import functools

import numpy as np
import sympy
from sympy.polys.domains import ZZ
from sympy.polys.rings import PolyRing

from probkit.sem.connections import DEFAULT_MAX_TERMS, compile_plan
from probkit.sem.graph import MixedGraph
from probkit.sem.model import parameter_names

__all__ = [
    "SymbolicCovariance",
    "covariance_symbols",
    "lambda_matrix",
    "omega_matrix",
    "parameter_symbols",
    "polynomial_system",
    "symbolic_covariance",
    "symbolic_parametrization",
]


def parameter_symbols(graph: MixedGraph) -> tuple[sympy.Symbol, ...]:
    """Symbols in theta order: l_i_j on D, w_i_i, then w_i_j on B.

    Examples:
        >>> sem.parameter_symbols(sem.MixedGraph(2, directed=[(0, 1)]))
        (l_0_1, w_0_0, w_1_1)
    """
    return tuple(sympy.Symbol(name) for name in parameter_names(graph))


def covariance_symbols(graph: MixedGraph) -> sympy.Matrix:
    """The symmetric (n, n) matrix of symbols s_i_j (s_j_i is s_i_j for i < j).

    Examples:
        >>> sem.covariance_symbols(sem.MixedGraph(2))
        Matrix([
        [s_0_0, s_0_1],
        [s_0_1, s_1_1]])
    """
    _check_graph(graph)
    n = graph.num_nodes
    return sympy.Matrix(n, n, lambda i, j: sympy.Symbol(f"s_{min(i, j)}_{max(i, j)}"))


def lambda_matrix(graph: MixedGraph) -> sympy.Matrix:
    """Lambda with l_i_j on the directed edges and 0 elsewhere."""
    _check_graph(graph)
    n = graph.num_nodes
    m = sympy.zeros(n, n)
    for i, j in graph.directed_indices:
        m[i, j] = sympy.Symbol(f"l_{i}_{j}")
    return m


def omega_matrix(graph: MixedGraph) -> sympy.Matrix:
    """Omega with w_i_i on the diagonal, w_i_j at (i, j) and (j, i) for i <-> j, 0 elsewhere."""
    _check_graph(graph)
    n = graph.num_nodes
    m = sympy.zeros(n, n)
    for i in range(n):
        m[i, i] = sympy.Symbol(f"w_{i}_{i}")
    for i, j in graph.bidirected_indices:
        m[i, j] = m[j, i] = sympy.Symbol(f"w_{i}_{j}")
    return m


def _check_graph(graph):
    if not isinstance(graph, MixedGraph):
        raise TypeError(f"graph must be a sem.MixedGraph, got {type(graph).__name__}")


class _Polys:
    """Ring-level parametrization: numerators (i <= j), one-connection sums and determinant."""

    def __init__(self, graph: MixedGraph, max_terms: int):
        plan = compile_plan(graph, max_terms)
        n = graph.num_nodes
        self.symbols = parameter_symbols(graph)
        self.ring = PolyRing(self.symbols, ZZ)
        gens = dict(zip(parameter_names(graph), self.ring.gens))
        one, zero = self.ring.one, self.ring.zero
        lam_e = [gens[f"l_{i}_{j}"] for i, j in graph.directed_indices] + [one]
        cyc = []
        for row in plan.cycle_edges:
            value = one
            for e in row:
                value = value * lam_e[e]
            cyc.append(value)
        families = _levels([one], plan.family_levels, cyc)
        delta = [zero] * plan.num_subsets
        for f, s in zip(plan.delta_family, plan.delta_subset):
            term = families[f]
            delta[s] = delta[s] - term if plan.family_sign[f] < 0 else delta[s] + term
        paths = _levels([one] * n, plan.path_levels, lam_e)
        big_n = [[zero] * n for _ in range(n)]
        for value, pair, s in zip(paths, plan.path_pair, plan.path_subset):
            k, i = divmod(int(pair), n)
            big_n[k][i] = big_n[k][i] + value * delta[s]
        self.one_connection_sums = big_n
        self.determinant = delta[0]
        # numerator = N^T (Omega N): M = Omega N costs only products with single symbols
        sibling = [[] for _ in range(n)]
        for k, l in graph.bidirected_indices:
            w = gens[f"w_{k}_{l}"]
            sibling[k].append((l, w))
            sibling[l].append((k, w))
        m = [[zero] * n for _ in range(n)]
        for k in range(n):
            w_kk = gens[f"w_{k}_{k}"]
            for j in range(n):
                acc = w_kk * big_n[k][j] if big_n[k][j] else zero
                for l, w in sibling[k]:
                    if big_n[l][j]:
                        acc = acc + w * big_n[l][j]
                m[k][j] = acc
        num = {}
        for i in range(n):
            for j in range(i, n):
                acc = zero
                for k in range(n):
                    if big_n[k][i] and m[k][j]:
                        acc = acc + big_n[k][i] * m[k][j]
                num[(i, j)] = acc
        self.numerators = num  # ring elements, keys (i, j) with i <= j


def _levels(first, levels, factors):
    blocks = [list(first)]
    for parents, idx in levels:
        prev = blocks[-1]
        blocks.append([prev[p] * factors[e] for p, e in zip(parents, idx)])
    return [v for block in blocks for v in block]


@functools.lru_cache(maxsize=32)
def polynomial_system(graph: MixedGraph, max_terms: int) -> _Polys:
    """The covariance numerators and determinant as polynomial-ring elements (cached)."""
    return _Polys(graph, max_terms)


class SymbolicCovariance:
    """Sigma = numerator / denominator with polynomial numerator and denominator det(I - Lambda)^2.

    Built by `symbolic_parametrization(graph)`. The polynomials live in a sparse integer
    polynomial ring (`polynomials`, `ring`); the sympy expressions (`numerator`,
    `determinant`, ...) are converted from them on first access, which dominates the cost for
    large graphs. `evaluate(lam, omega)` works on the ring polynomials directly.
    """

    def __init__(self, graph: MixedGraph, max_terms: int = DEFAULT_MAX_TERMS):
        _check_graph(graph)
        self.graph = graph
        self.max_terms = max_terms
        self._polys = polynomial_system(graph, max_terms)

    @property
    def parameters(self) -> tuple:
        """Parameter symbols in theta order: l_i_j on D, w_i_i, w_i_j on B."""
        return self._polys.symbols

    @property
    def ring(self):
        """The sympy `PolyRing` over ZZ in the parameters."""
        return self._polys.ring

    @property
    def polynomials(self) -> dict:
        """{(i, j): numerator of Sigma_ij as a ring element}, for i <= j."""
        return dict(self._polys.numerators)

    @property
    def determinant_polynomial(self):
        """det(I - Lambda) as a ring element."""
        return self._polys.determinant

    @functools.cached_property
    def lam(self) -> sympy.Matrix:
        """Lambda with l_i_j on D."""
        return lambda_matrix(self.graph)

    @functools.cached_property
    def omega(self) -> sympy.Matrix:
        """Omega with w_i_i and w_i_j on B."""
        return omega_matrix(self.graph)

    @functools.cached_property
    def numerator(self) -> sympy.Matrix:
        """(n, n) polynomial matrix det(I - Lambda)^2 Sigma = N^T Omega N."""
        n = self.graph.num_nodes
        num = sympy.zeros(n, n)
        for (i, j), p in self._polys.numerators.items():
            num[i, j] = num[j, i] = p.as_expr()
        return num

    @functools.cached_property
    def determinant(self) -> sympy.Expr:
        """det(I - Lambda) as the cycle-family sum."""
        return self._polys.determinant.as_expr()

    @property
    def denominator(self) -> sympy.Expr:
        """det(I - Lambda)^2 (1 for acyclic graphs)."""
        det = self.determinant
        return sympy.Integer(1) if det == 1 else det**2

    @functools.cached_property
    def one_connection_sums(self) -> sympy.Matrix:
        """N with (I - Lambda)^{-1} = N / det(I - Lambda): N[k, i] sums one-connections k ~> i."""
        n = self.graph.num_nodes
        big_n = self._polys.one_connection_sums
        return sympy.Matrix(n, n, lambda k, i: big_n[k][i].as_expr())

    def matrix(self) -> sympy.Matrix:
        """Sigma as a sympy Matrix of rational functions."""
        den = self.denominator
        if den == 1:
            return self.numerator
        return self.numerator.applyfunc(lambda p: p / den)

    def evaluate(self, lam, omega) -> np.ndarray:
        """Sigma in float64 at numeric (lam, omega) (graph order), from the ring polynomials."""
        lam, omega = np.asarray(lam, dtype=float), np.asarray(omega, dtype=float)
        g = self.graph
        theta = np.concatenate(
            [
                [lam[i, j] for i, j in g.directed_indices],
                np.diag(omega),
                [omega[i, j] for i, j in g.bidirected_indices],
            ]
        )
        n = g.num_nodes
        det = evaluate_polynomial(self._polys.determinant, theta)
        out = np.empty((n, n))
        for (i, j), p in self._polys.numerators.items():
            out[i, j] = out[j, i] = evaluate_polynomial(p, theta) / det**2
        return out

    def __repr__(self):
        return f"SymbolicCovariance({self.graph!r})"


def evaluate_polynomial(p, values: np.ndarray) -> float:
    """Evaluate a sparse ring polynomial at float `values` (one per ring generator)."""
    if not p:
        return 0.0
    exps = np.array(list(p.keys()), dtype=np.int64)
    coefs = np.array([float(c) for c in p.values()])
    return float(coefs @ np.prod(np.asarray(values, dtype=float) ** exps, axis=1))


def symbolic_parametrization(
    graph: MixedGraph, *, max_terms: int = DEFAULT_MAX_TERMS
) -> SymbolicCovariance:
    """Numerator, denominator, determinant and one-connection sums of Sigma (sympy).

    Built once per graph (cached) from the one-connection plan; `TooManyTerms` past
    `max_terms` enumerated paths and cycle families.

    Examples:
        >>> sc = sem.symbolic_parametrization(sem.MixedGraph(2, directed=[(0, 1), (1, 0)]))
        >>> sc.determinant
        -l_0_1*l_1_0 + 1
    """
    return SymbolicCovariance(graph, max_terms)


def symbolic_covariance(graph: MixedGraph, *, max_terms: int = DEFAULT_MAX_TERMS) -> sympy.Matrix:
    """Sigma as a sympy Matrix of rational functions in l_i_j, w_i_j (one-connection rule).

    Each entry is numerator / det(I - Lambda)^2 with an expanded polynomial numerator; use
    `symbolic_parametrization(graph)` for the numerator and denominator separately.

    Examples:
        >>> sem.symbolic_covariance(sem.MixedGraph(2, directed=[(0, 1)]))
        Matrix([
        [     w_0_0,            l_0_1*w_0_0],
        [l_0_1*w_0_0, l_0_1**2*w_0_0 + w_1_1]])
    """
    return symbolic_parametrization(graph, max_terms=max_terms).matrix()
