"""Seeded simulators for linear structural equation models on random DAGs.

The design follows the benchmarks of NOTEARS, DAGMA and CoLiDE, made reproducible: every draw
comes from an explicit `jax.random` key (the reference code draws weights from numpy's unseeded
global generator).

- `simulate_dag`: Erdős–Rényi (ER) or scale-free (SF, Barabási–Albert) DAGs, nodes randomly
  permuted so that the node order carries no information.
- `simulate_weights`: edge weights drawn uniformly from a union of intervals, default ±[0.5, 2].
- `simulate_linear_sem`: n samples of X = X W + E, with E gaussian, exponential, laplace or
  gumbel noise of a given standard deviation per node (equal or unequal variances).

Convention everywhere in `probkit.dag`: `B[i, j] = 1` (or `W[i, j] != 0`) is the edge i -> j, so
column j of W holds the coefficients of node j's parents.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from probkit.core import validate
from probkit.core.types import Array, ArrayLike, PRNGKey

__all__ = ["NOISE_TYPES", "simulate_dag", "simulate_linear_sem", "simulate_weights"]

NOISE_TYPES = ("gaussian", "exponential", "laplace", "gumbel")
"""Noise laws of `simulate_linear_sem`."""
_GRAPH_TYPES = ("ER", "SF")


def simulate_dag(key: PRNGKey, num_nodes: int, num_edges: int, graph_type: str = "ER") -> Array:
    """A random DAG as a binary adjacency matrix.

    Args:
        key: PRNG key.
        num_nodes: d >= 2.
        num_edges: expected number of edges (ER) or about `m * d` with `m = round(e / d)`
            parents attached per new node (SF). "ER2" means `num_edges = 2 * d`.
        graph_type: `"ER"`: each of the d(d-1)/2 pairs is an edge with probability
            p = 2e / (d^2 - d), oriented by a random node order. `"SF"`: Barabási–Albert
            preferential attachment; each new node points to `m` distinct earlier nodes chosen
            with probability proportional to (degree + 1), so hubs collect many parents.

    Returns:
        `(d, d)` array of 0/1 in the default float dtype; `B[i, j] = 1` is the edge i -> j.
        The graph is acyclic by construction.

    Examples:
        >>> B = dag.simulate_dag(jax.random.key(0), 5, 5)  # ER graph, about 5 edges
        >>> B.shape, bool(dag.is_dag(B))
        ((5, 5), True)
    """
    validate.key("key", key)
    d = validate.positive_int("num_nodes", num_nodes, minimum=2)
    e = validate.positive_int("num_edges", num_edges, minimum=0)
    validate.one_of("graph_type", graph_type, _GRAPH_TYPES)
    max_edges = d * (d - 1) // 2
    if e > max_edges:
        raise ValueError(f"num_edges must be at most d(d-1)/2 = {max_edges} for d={d}, got {e}")
    if graph_type == "SF" and e > 0 and round(e / d) < 1:
        raise ValueError(
            f"a scale-free graph attaches m = round(num_edges / num_nodes) parents per node; "
            f"num_edges={e} with num_nodes={d} gives m = 0 (use num_edges >= {d // 2 + 1})"
        )
    return _simulate_dag(key, d, e, graph_type)


@jax.jit(static_argnames=("d", "e", "graph_type"))
def _simulate_dag(key, d, e, graph_type):
    k_graph, k_perm = jax.random.split(key)
    if graph_type == "ER":
        p = 2.0 * e / (d * d - d)
        upper = jnp.triu(jax.random.uniform(k_graph, (d, d)) < p, k=1)
    elif e == 0:
        upper = jnp.zeros((d, d), bool)
    else:
        upper = _barabasi_albert(k_graph, d, round(e / d))
    perm = jax.random.permutation(k_perm, d)
    # Relabel node k as perm[k]: B[perm[i], perm[j]] = upper[i, j] is still acyclic.
    b = jnp.zeros((d, d), bool).at[perm[:, None], perm[None, :]].set(upper)
    return b.astype(jnp.result_type(float))


def _barabasi_albert(key, d, m):
    """BA adjacency before relabelling: A[t, j] = 1 (edge t -> j) for the m nodes t picks."""
    keys = jax.random.split(key, d)
    idx = jnp.arange(d)

    def attach(t, carry):
        adj, degree = carry
        # Successive sampling without replacement, proportional to degree + 1, via Gumbel-top-k.
        logits = jnp.log(degree + 1.0) + jax.random.gumbel(keys[t], (d,))
        logits = jnp.where(idx < t, logits, -jnp.inf)
        vals, targets = jax.lax.top_k(logits, m)
        chosen = jnp.isfinite(vals)  # fewer than m earlier nodes exist while t < m
        row = jnp.zeros((d,), bool).at[targets].set(chosen)
        degree = degree + row + jnp.where(idx == t, jnp.sum(row), 0)
        return adj.at[t].set(row), degree

    adj, _ = jax.lax.fori_loop(1, d, attach, (jnp.zeros((d, d), bool), jnp.zeros((d,))))
    return adj


def simulate_weights(
    key: PRNGKey,
    B: ArrayLike,
    weight_ranges: tuple[tuple[float, float], ...] = ((-2.0, -0.5), (0.5, 2.0)),
) -> Array:
    """Edge weights on the support of B: each edge picks an interval at random, then a uniform.

    Args:
        key: PRNG key.
        B: `(d, d)` binary adjacency (nonzero = edge).
        weight_ranges: intervals `(low, high)`, each chosen with equal probability per edge.

    Returns:
        `(d, d)` weighted adjacency W with `W[i, j] != 0` exactly where `B[i, j] != 0`
        (intervals must exclude 0).

    Examples:
        >>> B = jnp.array([[0.0, 1.0], [0.0, 0.0]])
        >>> W = dag.simulate_weights(jax.random.key(0), B)
        >>> bool(W[1, 0] == 0), 0.5 <= abs(float(W[0, 1])) <= 2.0
        (True, True)
    """
    validate.key("key", key)
    B = validate.square_matrix("B", B)
    ranges = np.asarray(weight_ranges, dtype=float)
    if ranges.ndim != 2 or ranges.shape[1] != 2 or ranges.shape[0] < 1:
        raise ValueError(
            f"weight_ranges must be a sequence of (low, high) pairs, got {weight_ranges}"
        )
    if np.any(ranges[:, 0] >= ranges[:, 1]):
        raise ValueError(f"each weight range must have low < high, got {weight_ranges}")
    if np.any((ranges[:, 0] <= 0) & (ranges[:, 1] >= 0)):
        raise ValueError(
            f"weight ranges must exclude 0 (an edge needs a nonzero weight), got {weight_ranges}"
        )
    return _simulate_weights(key, B, tuple(map(tuple, ranges.tolist())))


@jax.jit(static_argnames=("ranges",))
def _simulate_weights(key, B, ranges):
    dtype = jnp.result_type(float)
    table = jnp.asarray(ranges, dtype)
    k_pick, k_unif = jax.random.split(key)
    pick = jax.random.randint(k_pick, B.shape, 0, table.shape[0])
    lows, highs = table[pick, 0], table[pick, 1]
    u = jax.random.uniform(k_unif, B.shape, dtype)
    return jnp.where(B != 0, lows + u * (highs - lows), 0.0).astype(dtype)


def simulate_linear_sem(
    key: PRNGKey,
    W: ArrayLike,
    num_samples: int,
    noise: str = "gaussian",
    noise_scale: float | ArrayLike = 1.0,
) -> Array:
    """Samples of the linear SEM X = X W + E, i.e. X_j = sum_i W[i, j] X_i + E_j.

    Args:
        key: PRNG key.
        W: `(d, d)` weighted adjacency of a DAG.
        num_samples: n >= 1.
        noise: `"gaussian"`, `"exponential"`, `"laplace"` or `"gumbel"`. Exponential and gumbel
            noise are not centred (as in the reference benchmarks); learners centre X anyway.
        noise_scale: standard deviation of E_j: a scalar (equal variances) or a `(d,)` array
            (unequal variances).

    Returns:
        `(n, d)` data matrix.

    Examples:
        >>> W = jnp.array([[0.0, 2.0], [0.0, 0.0]])  # X1 = 2 X0 + E1
        >>> X = dag.simulate_linear_sem(jax.random.key(0), W, 100, noise="laplace")
        >>> X.shape
        (100, 2)
    """
    validate.key("key", key)
    W = validate.square_matrix("W", W)
    n = validate.positive_int("num_samples", num_samples)
    validate.one_of("noise", noise, NOISE_TYPES)
    d = W.shape[0]
    scale = validate.finite("noise_scale", noise_scale)
    if scale.ndim > 1 or (scale.ndim == 1 and scale.shape[0] != d):
        raise ValueError(f"noise_scale must be a scalar or have shape ({d},), got {scale.shape}")
    if validate.is_concrete(scale) and bool(jnp.any(scale <= 0)):
        raise ValueError("noise_scale must be > 0 (standard deviation of the noise)")
    if validate.is_concrete(W):
        from probkit.dag.graph import is_dag

        if not bool(is_dag(W != 0)):
            raise ValueError("W must be the weighted adjacency of a DAG; it has a directed cycle")
    return _simulate_linear_sem(key, W, n, noise, jnp.broadcast_to(scale, (d,)))


@jax.jit(static_argnames=("n", "noise"))
def _simulate_linear_sem(key, W, n, noise, scale):
    d = W.shape[0]
    dtype = jnp.result_type(W.dtype, float)
    shape = (n, d)
    if noise == "gaussian":
        z = jax.random.normal(key, shape, dtype)
    elif noise == "exponential":
        z = jax.random.exponential(key, shape, dtype)  # mean 1, sd 1
    elif noise == "laplace":
        z = jax.random.laplace(key, shape, dtype) / jnp.sqrt(2.0)  # sd 1
    else:
        z = jax.random.gumbel(key, shape, dtype) * jnp.sqrt(6.0) / jnp.pi  # sd 1
    E = z * scale.astype(dtype)
    # X (I - W) = E, and W is nilpotent (a DAG), so (I - W)^{-1} = sum_{k<d} W^k
    # = (I + W)(I + W^2)(I + W^4)...: ceil(log2 d) squarings, exact up to rounding.
    W = W.astype(dtype)
    inv = jnp.eye(d, dtype=dtype) + W
    power = W
    for _ in range(int(np.ceil(np.log2(max(d, 2)))) - 1):
        power = power @ power
        inv = inv + inv @ power
    return E @ inv


class SimulatedProblem(NamedTuple):
    """A simulated linear-SEM problem: true DAG, weights, data and noise scales.

    Attributes:
        B: (d, d) binary adjacency of the true DAG.
        W: (d, d) true weights.
        X: (n, d) data.
        noise_scale: (d,) true noise standard deviations.
    """

    B: Array  # (d, d) binary adjacency of the true DAG
    W: Array  # (d, d) true weights
    X: Array  # (n, d) data
    noise_scale: Array  # (d,) true noise standard deviations


def simulate_problem(
    key: PRNGKey,
    num_nodes: int,
    num_edges: int,
    num_samples: int,
    graph_type: str = "ER",
    noise: str = "gaussian",
    noise_variance: float | tuple[float, float] = 1.0,
) -> SimulatedProblem:
    """One benchmark problem of the NOTEARS / DAGMA / CoLiDE design: graph, weights, data.

    Args:
        key: PRNG key (split into graph, weights, variances and noise).
        num_nodes: d.
        num_edges: expected edges (ER) or about m d (SF); "ER4" is `num_edges = 4 * d`.
        num_samples: n.
        graph_type: `"ER"` or `"SF"`.
        noise: noise law, see `simulate_linear_sem`.
        noise_variance: a number (equal variances, EV) or a range `(low, high)` from which each
            node's variance is drawn uniformly (non-equal variances, NV; the CoLiDE paper uses
            (0.5, 10)).

    Examples:
        >>> prob = dag.simulate_problem(jax.random.key(0), 4, 4, 50, noise_variance=(0.5, 2.0))
        >>> prob.B.shape, prob.X.shape, prob.noise_scale.shape  # NV: one scale per node
        ((4, 4), (50, 4), (4,))
    """
    k_graph, k_w, k_var, k_x = jax.random.split(key, 4)
    B = simulate_dag(k_graph, num_nodes, num_edges, graph_type)
    W = simulate_weights(k_w, B)
    if np.ndim(noise_variance) == 0:
        variance = jnp.full((num_nodes,), validate.positive_float("noise_variance", noise_variance))
    else:
        low, high = (float(v) for v in noise_variance)
        if not 0 < low <= high:
            raise ValueError(
                f"noise_variance range must have 0 < low <= high, got {noise_variance}"
            )
        variance = jax.random.uniform(k_var, (num_nodes,), minval=low, maxval=high)
    scale = jnp.sqrt(variance)
    return SimulatedProblem(B, W, simulate_linear_sem(k_x, W, num_samples, noise, scale), scale)
