"""SA-SRRW: stochastic approximation driven by a self-repellent walk (Hu, Doshi & Eun 2024).

A token walks the graph by SRRW and updates a parameter with the local data of the node it
reaches:

    X_{n+1} ~ K[x_n](X_n, ·),   x_{n+1} = x_n + γ_{n+1}(δ_{X_{n+1}} - x_n),
    θ_{n+1} = θ_n + β_{n+1} H(θ_n, X_{n+1}),   H(θ, i) = -w_i ∇f_i(θ),

γ_n = (n + N)^(-a), β_n = (n + N)^(-b). w_i = ν_i / μ_i reweights the walk's law μ to the
objective's weights ν (default uniform: w_i ∝ 1/deg_i for an SRW base), so that θ_n → θ*, the
minimiser of Σ_i ν_i f_i. Regimes: (i) b > a (β = o(γ)): covariance O(1/α²), the best;
(ii) a = b: O(1/α); (iii) b < a: α does not help (`sa_asymptotic_covariance`).
Tokens are independent (vmapped); cost per step O(D + cost of grad).
"""

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from probkit.core import errors, progress, validate
from probkit.core import sharding as sharding_mod
from probkit.core.types import Array, PRNGKey, PyTree
from probkit.walks import kernel as srrw_mod
from probkit.walks.graph import BASES, BaseChain, Graph, base_chain

__all__ = ["SAInfo", "SAResult", "SAState", "sa_init", "sa_srrw", "sa_step"]


class SAState(NamedTuple):
    """State of SA-SRRW: the token's walk and the current iterate.

    Attributes:
        walk: the token's walk.
        theta: current iterate θ_n.
    """

    walk: srrw_mod.SRRWState  # the token's walk
    theta: PyTree  # current iterate θ_n


class SAInfo(NamedTuple):
    """What one SA-SRRW step did.

    Attributes:
        walk: the walk's step info (`SRRWInfo`).
        beta: () β_{n+1}.
    """

    walk: srrw_mod.SRRWInfo
    beta: Array  # () β_{n+1}


class SAResult(NamedTuple):
    """Result of `sa_srrw`.

    Attributes:
        theta: final θ, leaves (num_tokens, *θ_shape).
        trace: θ every `record_every` steps, leaves (num_records, num_tokens, *θ_shape).
        trace_steps: (num_records,) int32 step number of each trace row.
        state: final `SAState`, leaves with a leading (num_tokens,) axis.
        failed: () bool, a non-finite θ or kernel row occurred.
        failed_at: () int32, first failing step (-1 if none).
    """

    theta: PyTree
    trace: PyTree
    trace_steps: Array
    state: SAState
    failed: Array
    failed_at: Array

    def to_inference_data(self):
        """ArviZ InferenceData with tokens as chains: θ trace laid out (chain, draw, *event)."""
        from probkit.core import to_inference_data

        leaves, _ = jax.tree_util.tree_flatten_with_path(self.trace)
        post = {(jax.tree_util.keystr(p) or "theta"): jnp.swapaxes(v, 0, 1) for p, v in leaves}
        return to_inference_data(post)


def sa_init(key: PRNGKey, chain: BaseChain, theta0: PyTree, *, start=None) -> SAState:
    """One token: an SRRW walker and θ_0.

    Examples:
        >>> import networkx as nx
        >>> chain = walks.base_chain(walks.from_networkx(nx.cycle_graph(4)))
        >>> state = walks.sa_init(jax.random.key(0), chain, jnp.zeros(2), start=0)
        >>> int(state.walk.position), state.theta.shape
        (0, (2,))
    """
    return SAState(srrw_mod.init(key, chain, start=start), theta0)


def sa_step(
    key: PRNGKey,
    state: SAState,
    chain: BaseChain,
    grad: Callable,
    node_data: PyTree,
    weights: Array,
    alpha,
    *,
    base: str = "srw",
    gamma_exponent: float = 0.8,
    beta_exponent: float = 0.9,
) -> tuple[SAState, SAInfo]:
    """One SA-SRRW step: walk, update x, θ ← θ - β w_X ∇f_X(θ) at the new node X.

    Examples:
        >>> import networkx as nx
        >>> chain = walks.base_chain(walks.from_networkx(nx.cycle_graph(4)))
        >>> state = walks.sa_init(jax.random.key(0), chain, jnp.zeros(()), start=0)
        >>> grad = lambda theta, d: theta - d
        >>> state, info = walks.sa_step(
        ...     jax.random.key(1), state, chain, grad, jnp.arange(4.0), jnp.ones(4), 1.0
        ... )
        >>> state.theta.shape, info.beta.shape
        ((), ())
    """
    walk, winfo = srrw_mod.step(
        key, state.walk, chain, alpha, base=base, step_exponent=gamma_exponent
    )
    x = walk.position
    n = chain.degree.shape[0]
    beta = (walk.num_steps.astype(chain.log_mu.dtype) + n) ** (-beta_exponent)
    data = jax.tree.map(lambda d: d[x], node_data)
    g = grad(state.theta, data)
    theta = jax.tree.map(
        lambda t, gi: t - (beta * weights[x]).astype(t.dtype) * gi.astype(t.dtype), state.theta, g
    )
    return SAState(walk, theta), SAInfo(winfo, beta)


def sa_srrw(
    key: PRNGKey,
    graph: Graph,
    grad: Callable,
    theta0: PyTree,
    node_data: PyTree,
    num_steps: int,
    *,
    alpha: float,
    gamma_exponent: float = 0.8,
    beta_exponent: float = 0.9,
    base: str = "srw",
    num_tokens: int = 1,
    objective_weights=None,
    record_every: int | None = None,
    start=None,
    sharding: jax.sharding.NamedSharding | None = None,
    progress_bar: bool = False,
) -> SAResult:
    """Minimise Σ_i ν_i f_i(θ) with `num_tokens` independent SA-SRRW tokens.

    Args:
        key: PRNG key.
        graph: `walks.from_networkx(G)`; node i holds the data `node_data[i]`.
        grad: `grad(theta, data_i) -> ∇f_i(theta)`, a JAX function, output shaped like θ.
        theta0: initial θ (pytree), shared by the tokens.
        node_data: pytree whose leaves have leading axis n.
        num_steps: T.
        alpha: repellence α >= 0 (0: the base chain; base="nbrw", alpha=0 is an NBRW token).
        gamma_exponent: a in (0.5, 1], γ_n = (n + N)^(-a).
        beta_exponent: b in (0.5, 1], β_n = (n + N)^(-b).
        base: "srw", "mhrw" or "nbrw".
        num_tokens: independent tokens.
        objective_weights: ν (n,) positive (default uniform); the gradient at node i is
            multiplied by ν_i / μ_i.
        record_every: keep θ every this many steps in `trace` (default: T // 100, at least 1).
        start: optional start node index.
        sharding: split the token axis over devices: a `NamedSharding`
            (`probkit.core.sharding.batch_sharding()`) or a `Mesh`.
        progress_bar: tqdm bar.

    Returns:
        `SAResult`.

    Examples:
        >>> import networkx as nx
        >>> g = walks.from_networkx(nx.cycle_graph(4))
        >>> grad = lambda theta, d: theta - d  # f_i(θ) = (θ - d_i)² / 2, minimum at mean(d) = 1.5
        >>> res = walks.sa_srrw(
        ...     jax.random.key(0), g, grad, jnp.zeros(()), jnp.arange(4.0), 2000,
        ...     alpha=1.0, num_tokens=2,
        ... )
        >>> res.theta.shape, bool(res.failed), bool(jnp.all(jnp.abs(res.theta - 1.5) < 0.5))
        ((2,), False, True)
    """
    validate.key("key", key)
    if not isinstance(graph, Graph):
        raise TypeError(f"graph must be a walks.Graph (walks.from_networkx), got {type(graph)}")
    validate.callable_("grad", grad)
    validate.positive_int("num_steps", num_steps)
    validate.positive_float("alpha", alpha, allow_zero=True)
    validate.one_of("base", base, BASES)
    validate.positive_int("num_tokens", num_tokens)
    srrw_mod.check_exponent("gamma_exponent", gamma_exponent)
    srrw_mod.check_exponent("beta_exponent", beta_exponent)
    validate.finite_tree("theta0", theta0)
    n = graph.num_nodes
    for leaf in jax.tree.leaves(node_data):
        if np.ndim(leaf) < 1 or np.shape(leaf)[0] != n:
            raise ValueError(
                f"node_data leaves must have leading axis n = {n}, got shape {np.shape(leaf)}"
            )
    every = max(1, num_steps // 100) if record_every is None else record_every
    validate.positive_int("record_every", every)
    chain = base_chain(graph, base)
    mu = np.exp(np.asarray(chain.log_mu, dtype=float))
    if objective_weights is None:
        nu = np.full(n, 1.0 / n)
    else:
        nu = np.asarray(validate.finite("objective_weights", objective_weights), dtype=float)
        if nu.shape != (n,) or (nu <= 0).any():
            raise ValueError(f"objective_weights must be positive with shape ({n},)")
        nu = nu / nu.sum()
    weights = jnp.asarray(nu / mu, chain.log_mu.dtype)
    theta0 = jax.tree.map(jnp.asarray, theta0)
    return _run(
        key, chain, grad, theta0, node_data, weights, jnp.asarray(alpha, chain.log_mu.dtype),
        start, num_steps=num_steps, num_tokens=num_tokens, base=base,
        gamma_exponent=float(gamma_exponent), beta_exponent=float(beta_exponent),
        every=every, sharding=sharding_mod.resolve(sharding), progress_bar=progress_bar,
    )  # fmt: skip


@partial(
    jax.jit,
    static_argnames=(
        "grad", "num_steps", "num_tokens", "base", "gamma_exponent", "beta_exponent", "every",
        "sharding", "progress_bar",
    ),
)  # fmt: skip
def _run(
    key, chain, grad, theta0, node_data, weights, alpha, start, *, num_steps, num_tokens, base,
    gamma_exponent, beta_exponent, every, sharding, progress_bar,
):  # fmt: skip
    k_init, k_run = jax.random.split(key)
    states = jax.vmap(lambda k: sa_init(k, chain, theta0, start=start))(
        jax.random.split(k_init, num_tokens)
    )
    states = sharding_mod.constrain(states, sharding)
    num_records = num_steps // every

    def one(k, s):
        return sa_step(
            k, s, chain, grad, node_data, weights, alpha, base=base,
            gamma_exponent=gamma_exponent, beta_exponent=beta_exponent,
        )  # fmt: skip

    def inner(carry, _):
        s, failed_at, t = carry  # t: steps taken; the step's key is fold_in(k_run, t)
        ks = jax.random.split(jax.random.fold_in(k_run, t), num_tokens)
        s, _ = jax.vmap(one)(ks, s)
        s = sharding_mod.constrain(s, sharding)
        bad = jnp.any(s.walk.nonfinite) | ~errors.all_finite(s.theta)
        failed_at = jnp.where((failed_at < 0) & bad, t + 1, failed_at)
        return (s, failed_at, t + 1), None

    def outer(carry, _):
        carry, _ = jax.lax.scan(inner, carry, length=every)
        return carry, carry[0].theta

    # no per-step input: nothing of size T is allocated (the keys come from the step counter)
    carry = (states, jnp.asarray(-1, jnp.int32), jnp.asarray(0, jnp.int32))
    carry, trace = progress.scan(
        outer, carry, length=num_records, enabled=progress_bar, label="SA-SRRW"
    )
    rest = num_steps - num_records * every
    if rest:
        carry, _ = jax.lax.scan(inner, carry, length=rest)
    states, failed_at, _ = carry
    steps = (jnp.arange(1, num_records + 1) * every).astype(jnp.int32)
    return SAResult(states.theta, trace, steps, states, failed_at >= 0, failed_at)
