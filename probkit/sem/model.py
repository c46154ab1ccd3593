"""Linear structural equation models on a mixed graph: parameters, covariance, sampling.

The model is X = Lambda^T X + eps with eps ~ N(0, Omega): Lambda[i, j] = lambda_ij is the
coefficient of the edge i -> j (zero off D), Omega is positive definite and zero off the diagonal
and B. When det(I - Lambda) != 0 (directed cycles allowed),

    Sigma = (I - Lambda)^{-T} Omega (I - Lambda)^{-1}.

`covariance(..., method="inverse")` solves that linear system; `method="one-connection"`
evaluates the finite one-connection sum N^T Omega N / det(I - Lambda)^2 from a plan compiled
once per graph (`probkit.sem.connections`). Both are pure JAX and vmap-able over draws.

Parameter vectors theta list lambda over `graph.directed`, then omega_ii for every node, then
omega over `graph.bidirected` (names from `parameter_names`, matching the sympy symbols).
"""

import dataclasses
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from probkit.core import sharding as sharding_mod
from probkit.core import validate
from probkit.core.precision import exact_products
from probkit.core.types import Array, ArrayLike, PRNGKey
from probkit.sem.connections import (
    DEFAULT_MAX_TERMS,
    compile_plan,
    evaluate_edges,
    evaluate_plan,
)
from probkit.sem.graph import MixedGraph

__all__ = [
    "METHODS",
    "CovarianceResult",
    "LinearSEM",
    "batch_covariance",
    "check_parameters",
    "covariance",
    "covariance_by_inverse",
    "host_parameters",
    "pack_parameters",
    "parameter_names",
    "random_parameters",
    "unpack_parameters",
]

METHODS = ("inverse", "one-connection")
"""Covariance methods of `covariance`."""


class CovarianceResult(NamedTuple):
    """Covariances of a batch of parameter draws, with a failure flag per draw.

    Attributes:
        covariance: (B, n, n); NaN where failed.
        determinant: (B,) det(I - Lambda).
        failed: (B,) bool: I - Lambda singular to working precision, or non-finite Sigma.
    """

    covariance: Array  # (B, n, n); NaN where failed
    determinant: Array  # (B,) det(I - Lambda)
    failed: Array  # (B,) bool: I - Lambda singular to working precision, or non-finite Sigma


# -- parameters -------------------------------------------------------------------------------
def parameter_names(graph: MixedGraph) -> tuple[str, ...]:
    """Names of theta's entries: l_i_j for i -> j, w_i_i, then w_i_j for i <-> j (positions).

    Examples:
        >>> sem.parameter_names(sem.MixedGraph(2, directed=[(0, 1)], bidirected=[(0, 1)]))
        ('l_0_1', 'w_0_0', 'w_1_1', 'w_0_1')
    """
    _check_graph(graph)
    n = graph.num_nodes
    return (
        tuple(f"l_{i}_{j}" for i, j in graph.directed_indices)
        + tuple(f"w_{i}_{i}" for i in range(n))
        + tuple(f"w_{i}_{j}" for i, j in graph.bidirected_indices)
    )


def _support(graph: MixedGraph):
    d = graph.directed_indices
    b = graph.bidirected_indices
    n = graph.num_nodes
    dr = np.array([i for i, _ in d], dtype=np.int32)
    dc = np.array([j for _, j in d], dtype=np.int32)
    br = np.array([i for i, _ in b], dtype=np.int32)
    bc = np.array([j for _, j in b], dtype=np.int32)
    diag = np.arange(n, dtype=np.int32)
    return dr, dc, br, bc, diag


def pack_parameters(graph: MixedGraph, lam: ArrayLike, omega: ArrayLike) -> Array:
    """theta = (lambda on D, omega_ii, omega on B): shape (..., n + |D| + |B|). Pure JAX.

    Examples:
        >>> g = sem.MixedGraph(2, directed=[(0, 1)], bidirected=[(0, 1)])
        >>> lam = jnp.array([[0.0, 0.5], [0.0, 0.0]])
        >>> omega = jnp.array([[1.0, 0.2], [0.2, 2.0]])
        >>> sem.pack_parameters(g, lam, omega).tolist()  # (n + |D| + |B|,)
        [0.5, 1.0, 2.0, 0.20000000298023224]
    """
    lam, omega = jnp.asarray(lam), jnp.asarray(omega)
    dr, dc, br, bc, diag = _support(graph)
    return jnp.concatenate([lam[..., dr, dc], omega[..., diag, diag], omega[..., br, bc]], axis=-1)


def unpack_parameters(graph: MixedGraph, theta: ArrayLike) -> tuple[Array, Array]:
    """(lam, omega) of shape (n, n) from theta of shape (n + |D| + |B|,). Pure JAX.

    Examples:
        >>> g = sem.MixedGraph(2, directed=[(0, 1)])
        >>> lam, omega = sem.unpack_parameters(g, jnp.array([0.5, 1.0, 2.0]))
        >>> lam.tolist(), omega.tolist()
        ([[0.0, 0.5], [0.0, 0.0]], [[1.0, 0.0], [0.0, 2.0]])
    """
    _check_graph(graph)
    theta = jnp.asarray(theta)
    if theta.shape[-1:] != (graph.num_parameters,):
        raise ValueError(
            f"theta must have {graph.num_parameters} entries (|D| + n + |B|), got shape "
            f"{theta.shape}"
        )
    n = graph.num_nodes
    dr, dc, br, bc, diag = _support(graph)
    nd, nb = len(dr), len(br)
    lam = jnp.zeros((n, n), theta.dtype).at[dr, dc].set(theta[:nd])
    omega = jnp.zeros((n, n), theta.dtype).at[diag, diag].set(theta[nd : nd + n])
    omega = omega.at[br, bc].set(theta[nd + n : nd + n + nb]).at[bc, br].set(theta[nd + n :])
    return lam, omega


def random_parameters(
    key: PRNGKey,
    graph: MixedGraph,
    *,
    weight_range: tuple[float, float] = (0.3, 0.9),
    noise_range: tuple[float, float] = (0.5, 1.5),
    correlation_range: tuple[float, float] = (0.1, 0.5),
    dtype=None,
) -> tuple[Array, Array]:
    """Random (lam, omega) supported on the graph. Pure JAX: vmap over keys for many draws.

    lambda_ij = +-U(weight_range) on D; omega_ij = +-U(correlation_range) on B; the diagonal is
    U(noise_range) plus the absolute row sum of the off-diagonal entries, so Omega is strictly
    diagonally dominant, hence positive definite. With cycles, I - Lambda is invertible with
    probability one (not bounded away from singular; check `batch_covariance(...).failed`).

    Examples:
        >>> g = sem.MixedGraph(3, directed=[(0, 1), (1, 2)], bidirected=[(0, 2)])
        >>> lam, omega = sem.random_parameters(jax.random.key(0), g)  # (n, n) each
        >>> lam.shape, bool(lam[0, 2] == 0), bool(jnp.all(jnp.linalg.eigvalsh(omega) > 0))
        ((3, 3), True, True)
    """
    _check_graph(graph)
    for name, (lo, hi) in (
        ("weight_range", weight_range),
        ("noise_range", noise_range),
        ("correlation_range", correlation_range),
    ):
        if not (0 <= lo <= hi):
            raise ValueError(f"{name} must be (low, high) with 0 <= low <= high, got {(lo, hi)}")
    dtype = jnp.dtype(jnp.result_type(float) if dtype is None else dtype)
    ranges = tuple(
        tuple(float(v) for v in r) for r in (weight_range, noise_range, correlation_range)
    )
    upper = np.triu(graph.bidirected_adjacency(), 1)
    return _random_parameters(key, graph.directed_adjacency(), upper, ranges, dtype)


@partial(jax.jit, static_argnames=("ranges", "dtype"))
def _random_parameters(key, directed, bidirected_upper, ranges, dtype):
    # the support enters as arrays, so one compilation serves every graph with n nodes
    weight_range, noise_range, correlation_range = ranges
    n = directed.shape[0]
    k1, k2, k3, k4, k5 = jax.random.split(key, 5)

    def signed(k_mag, k_sign, lo, hi):
        mag = jax.random.uniform(k_mag, (n, n), dtype, lo, hi)
        return jnp.where(jax.random.bernoulli(k_sign, 0.5, (n, n)), mag, -mag)

    lam = jnp.where(directed, signed(k1, k2, *weight_range), 0).astype(dtype)
    off = jnp.where(bidirected_upper, signed(k3, k4, *correlation_range), 0).astype(dtype)
    off = off + off.T
    d = jax.random.uniform(k5, (n,), dtype, *noise_range) + jnp.sum(jnp.abs(off), axis=1)
    return lam, off + jnp.diag(d)


def host_parameters(
    rng: np.random.Generator, graph: MixedGraph, num: int, weight_range=(0.2, 0.8)
) -> tuple[np.ndarray, np.ndarray]:
    """`num` NumPy draws (lams, omegas) of shape (num, n, n), distributed as `random_parameters`.

    For host-side algorithms (Jacobian ranks, ideal exploration) that need random generic
    points but no compilation.
    """
    n = graph.num_nodes
    shape = (num, n, n)
    signs = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    lam = np.where(graph.directed_adjacency(), signs * rng.uniform(*weight_range, shape), 0.0)
    upper = np.triu(graph.bidirected_adjacency(), 1)
    off = np.where(
        upper, np.where(rng.random(shape) < 0.5, -1.0, 1.0) * rng.uniform(0.1, 0.5, shape), 0.0
    )
    off = off + np.swapaxes(off, -1, -2)
    diag = rng.uniform(0.5, 1.5, (num, n)) + np.abs(off).sum(-1)
    return lam, off + diag[:, :, None] * np.eye(n)


def _check_graph(graph):
    if not isinstance(graph, MixedGraph):
        raise TypeError(f"graph must be a sem.MixedGraph, got {type(graph).__name__}")


def _off_support(graph: MixedGraph, name: str, values: np.ndarray, allowed: np.ndarray) -> None:
    bad = np.argwhere((values != 0) & ~allowed)
    if len(bad):
        idx = tuple(int(v) for v in bad[0])
        entry = idx[-2:]
        labels = graph.nodes
        where = f" (draw {idx[0]})" if len(idx) == 3 else ""
        what = (
            f"there is no directed edge {labels[entry[0]]!r} -> {labels[entry[1]]!r}"
            if name.startswith("lam")
            else f"there is no bidirected edge {labels[entry[0]]!r} <-> {labels[entry[1]]!r}"
        )
        raise ValueError(
            f"{name} is off the graph's support: entry {entry}{where} is "
            f"{values[idx]:.6g} but {what}; {len(bad)} such entr(y/ies) in all"
        )


def _singularity_ratio(m: np.ndarray) -> np.ndarray:
    """|det(M)| / prod of row norms (Hadamard): 1 for orthogonal rows, 0 for singular M."""
    norms = np.prod(np.linalg.norm(m, axis=-1), axis=-1)
    return np.abs(np.linalg.det(m)) / norms


def _singular_tolerance(dtype, n: int) -> float:
    return 10.0 * n * float(jnp.finfo(dtype).eps)


def check_parameters(graph: MixedGraph, lam: ArrayLike, omega: ArrayLike, *, batched: bool = False):
    """Validate (lam, omega) for `graph`; returns them as arrays of a common float dtype.

    Shape and dtype are always checked; values only when concrete (not under a user's jit):
    finite, lam zero off D (and on the diagonal), omega symmetric, zero off the diagonal and B,
    positive definite, and I - lam invertible to working precision. With `batched`, a leading
    draw axis is expected and errors name the draw.
    """
    _check_graph(graph)
    n = graph.num_nodes
    shape = (None, n, n) if batched else (n, n)
    lam = validate.array("lam", lam, shape=shape, dtype_kind="fiu")
    omega = validate.array("omega", omega, shape=shape, dtype_kind="fiu")
    if batched and lam.shape[0] != omega.shape[0]:
        raise ValueError(
            f"lam and omega must have the same number of draws, got {lam.shape[0]} and "
            f"{omega.shape[0]}"
        )
    dtype = jnp.result_type(lam.dtype, omega.dtype, float)
    lam, omega = lam.astype(dtype), omega.astype(dtype)
    if not (validate.is_concrete(lam) and validate.is_concrete(omega)):
        return lam, omega
    validate.finite("lam", lam)
    validate.finite("omega", omega)
    lam_np, omega_np = np.asarray(lam, dtype=float), np.asarray(omega, dtype=float)
    _off_support(graph, "lam", lam_np, graph.directed_adjacency())
    allowed = graph.bidirected_adjacency() | np.eye(n, dtype=bool)
    _off_support(graph, "omega", omega_np, allowed)
    sym = np.abs(omega_np - np.swapaxes(omega_np, -1, -2))
    scale = np.maximum(1.0, np.abs(omega_np).max())
    if np.any(sym > 1e-6 * scale):
        idx = tuple(int(v) for v in np.argwhere(sym > 1e-6 * scale)[0])
        raise ValueError(f"omega must be symmetric; entry {idx} differs from its transpose")
    try:
        np.linalg.cholesky(omega_np)  # batched; fast when everything is fine
        eig = None
    except np.linalg.LinAlgError:
        eig = np.linalg.eigvalsh(omega_np)
    if eig is not None and np.any(eig[..., 0] <= 0):
        where = f" (draw {int(np.argmax(eig[..., 0] <= 0))})" if batched else ""
        raise ValueError(
            f"omega must be positive definite{where}; its smallest eigenvalue is "
            f"{float(np.min(eig[..., 0])):.3g}"
        )
    if not batched:
        ratio = float(_singularity_ratio(np.eye(n) - lam_np))
        if ratio <= _singular_tolerance(dtype, n):
            raise ValueError(
                "I - lam is singular at the given parameters (|det(I - lam)| / prod of row "
                f"norms = {ratio:.3g}); Sigma = (I - lam)^-T omega (I - lam)^-1 is undefined "
                f"there. Directed cycles: {graph.directed_cycles()[:5]}"
            )
    return lam, omega


# -- covariance ---------------------------------------------------------------------------------
@jax.jit
@exact_products
def covariance_by_inverse(lam, omega):
    """(Sigma, det(I - Lambda)) by two linear solves: Sigma = (I - L)^-T Omega (I - L)^-1."""
    n = lam.shape[-1]
    a = jnp.eye(n, dtype=lam.dtype) - lam
    x = jnp.linalg.solve(a.T, omega)  # (I - L)^{-T} Omega
    sigma = jnp.linalg.solve(a.T, x.T).T  # ... (I - L)^{-1}
    return 0.5 * (sigma + sigma.T), jnp.linalg.det(a)


def _covariance_one_connection(plan, lam, omega):
    big_n, det = evaluate_plan(plan, lam)
    sigma = big_n.T @ omega @ big_n / det**2
    return 0.5 * (sigma + sigma.T), det


def _covariance_and_det(graph, lam, omega, method, max_terms):
    if method == "inverse":
        return covariance_by_inverse(lam, omega)
    return _covariance_one_connection_jit(graph, lam, omega, max_terms)


@partial(jax.jit, static_argnames=("graph", "max_terms"))
@exact_products
def _covariance_one_connection_jit(graph, lam, omega, max_terms):
    return _covariance_one_connection(compile_plan(graph, max_terms), lam, omega)


def covariance(
    graph: MixedGraph,
    lam: ArrayLike,
    omega: ArrayLike,
    method: str = "inverse",
    *,
    max_terms: int = DEFAULT_MAX_TERMS,
) -> Array:
    """Sigma = (I - lam)^{-T} omega (I - lam)^{-1} of the SEM on `graph`: shape (n, n).

    Args:
        graph: the mixed graph; lam and omega are indexed in `graph.nodes` order.
        lam: (n, n) structural coefficients, lam[i, j] for the edge i -> j, zero elsewhere.
        omega: (n, n) positive-definite error covariance, zero off the diagonal and B.
        method: "inverse" (linear solves) or "one-connection" (the finite sum
            N^T omega N / det(I - lam)^2 from a plan compiled once per graph).
        max_terms: cap on the one-connection plan's size (`TooManyTerms` past it).

    Pure JAX: jit- and vmap-able over (lam, omega). Concrete inputs are validated eagerly
    (support, symmetry, positive definiteness, invertibility of I - lam); under a user's
    transform only shapes are checked, and a singular I - lam gives inf/NaN, so use
    `batch_covariance` for batches, whose `failed` flags report it. With concrete inputs, a
    result that overflows the working precision, or underflows it (a diagonal entry below the
    smallest normal number), raises a `ValueError` naming lam or omega.

    Examples:
        >>> g = sem.MixedGraph(2, directed=[(0, 1)])  # X0 -> X1
        >>> lam = jnp.array([[0.0, 0.5], [0.0, 0.0]])
        >>> sem.covariance(g, lam, jnp.eye(2)).tolist()
        [[1.0, 0.5], [0.5, 1.25]]
        >>> sem.covariance(g, lam, jnp.eye(2), method="one-connection").tolist()
        [[1.0, 0.5], [0.5, 1.25]]
    """
    validate.one_of("method", method, METHODS)
    lam, omega = check_parameters(graph, lam, omega)
    if method == "one-connection":
        compile_plan(graph, max_terms)  # enumerate (and refuse) before tracing
    sigma = _covariance_and_det(graph, lam, omega, method, max_terms)[0]
    if validate.is_concrete(sigma):
        if not bool(jnp.all(jnp.isfinite(sigma))):
            raise _overflow_error(lam, omega, method, sigma.dtype)
        if bool(_underflows(sigma)):
            raise _underflow_error(lam, sigma.dtype)
    return sigma


def _underflows(sigma: Array) -> Array:
    """Sigma is positive definite (omega is), so a diagonal entry below the dtype's smallest
    normal number means the result lost its precision (underflow, or cancellation in the
    solves): it is then zero or a denormal, whose value also depends on the CPU's flush-to-zero
    setting. Shape (...) bool over sigma (..., n, n)."""
    diag = jnp.diagonal(sigma, axis1=-2, axis2=-1)
    return jnp.any(diag < jnp.finfo(sigma.dtype).tiny, axis=-1)


def _underflow_error(lam, dtype) -> ValueError:
    lam_max = float(jnp.abs(lam).max())
    return ValueError(
        f"the covariance underflows {jnp.dtype(dtype).name} for these magnitudes (largest "
        f"|lam| entry {lam_max:.3g}): a diagonal entry of the positive-definite Sigma came out "
        f"below {jnp.finfo(dtype).tiny:.3g} (underflow or cancellation in the solves); rescale "
        "the variables or enable float64 (jax.enable_x64)"
    )


def _overflow_error(lam, omega, method, dtype) -> ValueError:
    """The error for a covariance that is not finite although its inputs are (overflow)."""
    lam_max, omega_max = float(jnp.abs(lam).max()), float(jnp.abs(omega).max())
    name, size = ("lam", lam_max) if lam_max * lam_max > omega_max else ("omega", omega_max)
    hint = (
        ', or use method="inverse" (its linear solves avoid products of one-connection terms)'
        if method == "one-connection"
        else ""
    )
    return ValueError(
        f"the covariance overflows {jnp.dtype(dtype).name} for these magnitudes "
        f"(largest |{name}| entry {size:.3g}): rescale the variables or enable float64 "
        f"(jax.enable_x64){hint}"
    )


def _batch_chunk(graph, lams, omegas, max_terms):
    """Covariances, determinants and failure flags of one chunk (B, n, n) of draws."""
    n = lams.shape[-1]
    if graph is None:
        sigma, det = jax.vmap(covariance_by_inverse)(lams, omegas)
    else:
        plan = compile_plan(graph, max_terms)
        ones = jnp.ones((1, lams.shape[0]), lams.dtype)
        lam_e = jnp.concatenate([lams[:, plan.edge_rows, plan.edge_cols].T, ones], axis=0)
        big_n, det = evaluate_edges(plan, lam_e)  # batch trailing: row gathers
        big_n = big_n.T.reshape(-1, n, n)
        sigma = jnp.einsum("bki,bkl,blj->bij", big_n, omegas, big_n) / det[:, None, None] ** 2
        sigma = 0.5 * (sigma + jnp.swapaxes(sigma, -1, -2))
    a = jnp.eye(n, dtype=lams.dtype) - lams
    ratio = jnp.abs(det) / jnp.prod(jnp.linalg.norm(a, axis=-1), axis=-1)
    failed = (
        (ratio <= _singular_tolerance(lams.dtype, n))
        | ~jnp.all(jnp.isfinite(sigma), axis=(-2, -1))
        | _underflows(sigma)
    )
    return jnp.where(failed[:, None, None], jnp.nan, sigma), det, failed


@partial(jax.jit, static_argnames=("graph", "max_terms", "batch_size", "sharding"))
@exact_products
def _batch_jit(graph, lams, omegas, max_terms, batch_size, sharding=None):
    # Draws are independent: each device takes a block of them (none when sharding is None).
    block = partial(_batch_block, graph, max_terms=max_terms, batch_size=batch_size)
    return sharding_mod.shard_blocks(block, sharding)(lams, omegas)


def _batch_block(graph, lams, omegas, max_terms, batch_size):
    # graph is None for method="inverse": one vmap over every draw (one compilation per n).
    # Not chunked in a loop: on CPU, batched LU inside a while loop can deadlock XLA's thread
    # pool (seen with JAX 0.10.2). The one-connection plan uses no LAPACK, so it runs in
    # cache-sized chunks of batch_size, padded with copies of draw 0.
    if graph is None:
        return _batch_chunk(None, lams, omegas, max_terms)
    total, n = lams.shape[0], lams.shape[-1]
    chunks = -(-total // batch_size)
    pad = chunks * batch_size - total

    def padded(x):
        x = jnp.concatenate([x, jnp.broadcast_to(x[:1], (pad, n, n))], axis=0)
        return x.reshape(chunks, batch_size, n, n)

    sigma, det, failed = jax.lax.map(
        lambda c: _batch_chunk(graph, c[0], c[1], max_terms), (padded(lams), padded(omegas))
    )
    return (
        sigma.reshape(-1, n, n)[:total],
        det.reshape(-1)[:total],
        failed.reshape(-1)[:total],
    )


def batch_covariance(
    graph: MixedGraph,
    lams: ArrayLike,
    omegas: ArrayLike,
    method: str = "inverse",
    *,
    max_terms: int = DEFAULT_MAX_TERMS,
    batch_size: int | None = None,
    sharding=None,
) -> CovarianceResult:
    """Covariances of many draws (lams, omegas of shape (B, n, n)), with failure flags.

    Draws whose I - lam is singular to working precision are flagged in `failed` (their
    covariance is NaN) instead of raising; support and positive definiteness are checked
    eagerly and name the offending draw. With method="one-connection" draws are processed
    `batch_size` at a time (default 1024, small enough to stay in cache) with the draw axis
    trailing, which is faster than vmapping `covariance`; "inverse" vmaps over all draws.
    `sharding` (a `NamedSharding` from `probkit.core.sharding.batch_sharding`, or a `Mesh`)
    splits the draws over devices; same answers as unsharded.

    Examples:
        >>> g = sem.MixedGraph(2, directed=[(0, 1)])
        >>> lams = jnp.zeros((3, 2, 2)).at[:, 0, 1].set(jnp.array([0.5, 1.0, -0.5]))  # (B,n,n)
        >>> omegas = jnp.broadcast_to(jnp.eye(2), (3, 2, 2))
        >>> res = sem.batch_covariance(g, lams, omegas)
        >>> res.covariance.shape, res.failed.tolist(), res.covariance[:, 1, 1].tolist()
        ((3, 2, 2), [False, False, False], [1.25, 2.0, 1.25])
    """
    validate.one_of("method", method, METHODS)
    sharding = sharding_mod.resolve(sharding)
    lams, omegas = check_parameters(graph, lams, omegas, batched=True)
    if method == "one-connection":
        compile_plan(graph, max_terms)  # enumerate (and refuse) before tracing
    batch_size = 1024 if batch_size is None else validate.positive_int("batch_size", batch_size)
    per_device = -(-lams.shape[0] // sharding_mod.num_shards(sharding))
    batch_size = min(batch_size, max(per_device, 1))
    if method == "inverse":
        batch_size = 1  # unused
    plan_graph = graph if method == "one-connection" else None
    sigma, det, failed = _batch_jit(plan_graph, lams, omegas, max_terms, batch_size, sharding)
    return CovarianceResult(sigma, det, failed)


# -- the model object --------------------------------------------------------------------------
@jax.tree_util.register_pytree_node_class
@dataclasses.dataclass(frozen=True, eq=False)
class LinearSEM:
    """A linear SEM: a `MixedGraph` with parameters (lam, omega) on its support.

    Validated on construction (support, positive definiteness, det(I - lam) != 0). A pytree
    whose leaves are lam and omega (the graph is static), so models pass through jit and vmap.

    Example:
        >>> g = MixedGraph(3, directed=[(0, 1), (1, 2), (2, 0)], bidirected=[(0, 1)])
        >>> m = LinearSEM.random(jax.random.key(0), g)
        >>> x = m.sample(jax.random.key(1), 1000)     # (1000, 3)

    Attributes:
        graph: the `MixedGraph` (static).
        lam: (n, n) directed-edge coefficients, lam[i, j] on edge i -> j.
        omega: (n, n) error covariance, nonzero off the diagonal on bidirected edges.
    """

    graph: MixedGraph
    lam: Array  # (n, n)
    omega: Array  # (n, n)

    def __init__(self, graph: MixedGraph, lam: ArrayLike, omega: ArrayLike):
        lam, omega = check_parameters(graph, lam, omega)
        object.__setattr__(self, "graph", graph)
        object.__setattr__(self, "lam", lam)
        object.__setattr__(self, "omega", omega)

    @classmethod
    def random(cls, key: PRNGKey, graph: MixedGraph, **kwargs) -> "LinearSEM":
        """A model with `random_parameters(key, graph, **kwargs)`."""
        return cls(graph, *random_parameters(key, graph, **kwargs))

    @classmethod
    def from_parameters(cls, graph: MixedGraph, theta: ArrayLike) -> "LinearSEM":
        """A model from theta = (lambda on D, omega_ii, omega on B)."""
        return cls(graph, *unpack_parameters(graph, theta))

    @property
    def parameters(self) -> Array:
        """theta, ordered as `parameter_names(graph)`."""
        return pack_parameters(self.graph, self.lam, self.omega)

    def covariance(self, method: str = "inverse") -> Array:
        """Sigma, shape (n, n) (see `sem.covariance`)."""
        return covariance(self.graph, self.lam, self.omega, method)

    def determinant(self) -> Array:
        """det(I - lam)."""
        return jnp.linalg.det(jnp.eye(self.graph.num_nodes, dtype=self.lam.dtype) - self.lam)

    def distribution(self) -> dist.MultivariateNormal:
        """The observed law N(0, Sigma) as a numpyro distribution (log_prob, sample)."""
        sigma = self.covariance()
        return dist.MultivariateNormal(jnp.zeros(self.graph.num_nodes, sigma.dtype), sigma)

    def sample(self, key: PRNGKey, num_samples: int) -> Array:
        """Draws of X solving X = lam^T X + eps, eps ~ N(0, omega): shape (num_samples, n)."""
        num_samples = validate.positive_int("num_samples", num_samples)
        return _sample(key, self.lam, self.omega, num_samples)

    def tree_flatten(self):
        return (self.lam, self.omega), self.graph

    @classmethod
    def tree_unflatten(cls, graph, leaves):
        obj = object.__new__(cls)
        object.__setattr__(obj, "graph", graph)
        object.__setattr__(obj, "lam", leaves[0])
        object.__setattr__(obj, "omega", leaves[1])
        return obj


@partial(jax.jit, static_argnames=("num_samples",))
@exact_products
def _sample(key, lam, omega, num_samples):
    n = lam.shape[-1]
    chol = jnp.linalg.cholesky(omega)
    eps = jax.random.normal(key, (num_samples, n), lam.dtype) @ chol.T
    # rows: x^T (I - lam) = eps^T, i.e. (I - lam)^T x = eps
    a = jnp.eye(n, dtype=lam.dtype) - lam
    return jnp.linalg.solve(a.T, eps.T).T
