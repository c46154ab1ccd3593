"""Closed-form asymptotic covariances of SRRW and SA-SRRW (float64 NumPy, eager).

Let (λ_i, v_i) be the eigenpairs of the symmetric D_μ^{1/2} P D_μ^{-1/2} of the reversible base
chain, u_i = D_μ^{1/2} v_i, and skip the eigenvalue 1. Then (Doshi, Hu & Eun 2023)

    V(α) = Σ_i [1 / (2α(1 + λ_i) + 1)] · [(1 + λ_i) / (1 - λ_i)] u_i u_iᵀ,

the covariance of √n (x_n - μ) for visit frequencies (a = 1). For SA-SRRW (Hu, Doshi & Eun
2024) we linearise around (μ, θ*): with B = I + Pᵀ (the derivative of the stationary law
π[x] is -α B), J = ∂h(θ*) and Γ = V(0) the base chain's long-run noise covariance,

    dz = γ [-(I + αB) z + ξ],   dθ = β [J θ̃ - α Hᵀ B z + Hᵀ ξ],

where H (n, d) stacks H(θ*, i). The covariance of (θ_n - θ*)/√β_n solves a Lyapunov equation:
(i) b > a: J V + V Jᵀ + Hᵀ (I+αB)^{-1} Γ (I+αB)^{-ᵀ} H = 0, O(1/α²);
(ii) a = b: the θ block of the joint equation A Σ + Σ Aᵀ + U = 0 of (z, θ), O(1/α);
(iii) b < a: J V + V Jᵀ + Hᵀ Γ H = 0 (θ sees the base chain's noise; no gain from α);
with J replaced by J + I/2 (and A by A + I/2) when b = 1.
"""

import numpy as np
import scipy.linalg

from probkit.core import validate
from probkit.walks.graph import Graph, dense_transition

__all__ = ["asymptotic_covariance", "sa_asymptotic_covariance", "spectrum"]


def spectrum(graph: Graph, base: str = "srw"):
    """(λ (n-1,), U (n, n-1), μ (n,)) of the reversible base chain, eigenvalue 1 dropped.

    Examples:
        >>> import networkx as nx
        >>> lam, U, mu = walks.spectrum(walks.from_networkx(nx.cycle_graph(4)))
        >>> sorted((np.round(lam, 6) + 0.0).tolist()), U.shape, mu.shape  # SRW on C4: cos(2πk/4)
        ([-1.0, 0.0, 0.0], (4, 3), (4,))
    """
    if base == "nbrw":
        raise ValueError(
            "base='nbrw' is not reversible: V(alpha) has no spectral closed form; use 'srw'"
        )
    p, mu = dense_transition(graph, base)
    d = np.sqrt(mu)
    s = d[:, None] * p / d[None, :]
    s = 0.5 * (s + s.T)
    lam, v = np.linalg.eigh(s)
    top = int(np.argmax(lam))
    keep = np.arange(lam.size) != top
    return lam[keep], d[:, None] * v[:, keep], mu


def asymptotic_covariance(graph: Graph, alpha: float, base: str = "srw") -> np.ndarray:
    """V(α) (n, n): the asymptotic covariance of √n (x_n - μ) for SRRW with visit frequencies.

    Examples:
        >>> import networkx as nx
        >>> g = walks.from_networkx(nx.cycle_graph(4))
        >>> V = walks.asymptotic_covariance(g, alpha=1.0)  # (n, n)
        >>> V.shape, bool(np.allclose(V.sum(axis=1), 0.0))  # x_n stays on the simplex
        ((4, 4), True)
    """
    alpha = validate.positive_float("alpha", alpha, allow_zero=True)
    lam, u, _ = spectrum(graph, base)
    w = (1.0 + lam) / ((1.0 - lam) * (2.0 * alpha * (1.0 + lam) + 1.0))
    return (u * w) @ u.T


def _lyap(a: np.ndarray, q: np.ndarray) -> np.ndarray:
    return scipy.linalg.solve_continuous_lyapunov(a, -q)


def sa_asymptotic_covariance(
    graph: Graph,
    alpha: float,
    node_fields,
    jacobian,
    *,
    gamma_exponent: float,
    beta_exponent: float,
    base: str = "srw",
    num_steps: int | None = None,
) -> np.ndarray:
    """Covariance (d, d) of (θ_n - θ*)/√β_n for SA-SRRW (regime from the exponents).

    Args:
        graph: the graph.
        alpha: α >= 0.
        node_fields: (n, d) H(θ*, i) for every node (reweighted as in `sa_srrw`), so that
            Σ_i μ_i H(θ*, i) = 0.
        jacobian: (d, d) J = ∂/∂θ Σ_i μ_i H(θ, i) at θ* (stable: eigenvalues < 0, < -1/2 when
            beta_exponent = 1).
        gamma_exponent: a; beta_exponent: b (both in (0.5, 1]).
        base: reversible base chain ("srw" or "mhrw").
        num_steps: if given, the finite-n drift of the scaling (θ - θ*)/√β_n is kept:
            J + (b/2)(n + N)^(b-1) I instead of J (b < 1), a pre-asymptotic correction of
            relative size O(n^(b-1)) that matters for b near 1.

    Examples:
        >>> import networkx as nx
        >>> g = walks.from_networkx(nx.cycle_graph(4))  # μ uniform
        >>> d = np.arange(4.0)  # f_i(θ) = (θ - d_i)² / 2, θ* = 1.5, H(θ*, i) = θ* - d_i
        >>> fields, J = (1.5 - d)[:, None], -np.eye(1)
        >>> S = walks.sa_asymptotic_covariance(
        ...     g, 1.0, fields, J, gamma_exponent=0.8, beta_exponent=0.9
        ... )
        >>> S.shape
        (1, 1)
    """
    alpha = validate.positive_float("alpha", alpha, allow_zero=True)
    lam, u, mu = spectrum(graph, base)
    n = mu.size
    h = np.asarray(node_fields, dtype=float).reshape(n, -1)
    j = np.asarray(jacobian, dtype=float)
    d = h.shape[1]
    gamma_cov = (u * ((1 + lam) / (1 - lam))) @ u.T  # Γ = V(0)
    p, _ = dense_transition(graph, base)
    b_mat = np.eye(n) + p.T
    if beta_exponent == 1.0:
        half = 0.5 * np.eye(d)
    elif num_steps is not None:
        half = 0.5 * beta_exponent * (num_steps + n) ** (beta_exponent - 1.0) * np.eye(d)
    else:
        half = 0.0
    if beta_exponent > gamma_exponent:
        m = np.linalg.solve(np.eye(n) + alpha * b_mat, np.eye(n))
        q = h.T @ m @ gamma_cov @ m.T @ h
        return _lyap(j + half, 0.5 * (q + q.T))
    if beta_exponent < gamma_exponent:
        q = h.T @ gamma_cov @ h
        return _lyap(j + half, 0.5 * (q + q.T))
    a = np.zeros((n + d, n + d))
    a[:n, :n] = -(np.eye(n) + alpha * b_mat)
    a[n:, :n] = -alpha * h.T @ b_mat
    a[n:, n:] = j
    a += half if np.isscalar(half) else half[0, 0] * np.eye(n + d)
    g = np.vstack([np.eye(n), h.T])
    q = g @ gamma_cov @ g.T
    # z lives on {Σ z = 0}: drop the direction 1 (α B and I act on it without decay issues)
    basis = np.linalg.svd(np.eye(n) - 1.0 / n)[0][:, : n - 1]
    t = scipy.linalg.block_diag(basis, np.eye(d))
    a_r = t.T @ a @ t
    q_r = t.T @ q @ t
    sol = _lyap(a_r, 0.5 * (q_r + q_r.T))
    return sol[n - 1 :, n - 1 :]
