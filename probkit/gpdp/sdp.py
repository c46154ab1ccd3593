"""Stochastic dynamic programming on a finite state/action grid.

Bellman update (the convention of DESIGN.md)::

    value[s] = max_h  reward[h, s] + discount * sum_s' F[h, s, s'] value[s']

`horizon=None` iterates the discounted update to convergence in `lax.while_loop`;
an integer horizon runs exactly that many backward sweeps in `lax.scan` (terminal value 0).
"""

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from probkit.core import sharding as sharding_mod
from probkit.core import validate
from probkit.core.types import Array

__all__ = ["SDPInfo", "SDPSolution", "bellman_step", "solve_sdp", "solve_sdp_batch"]


class SDPInfo(NamedTuple):
    """Diagnostics of value iteration.

    Attributes:
        num_sweeps: () number of Bellman sweeps run.
        residual: () sup-norm change of the value in the last sweep.
        converged: () True when the residual met the tolerance (always True for a finite horizon).
    """

    num_sweeps: Array
    residual: Array
    converged: Array


class SDPSolution(NamedTuple):
    """Result of `solve_sdp`.

    Attributes:
        policy: (S,) int, the maximising harvest index per state (for a finite horizon: the
            first decision, with `horizon` steps to go). Ties go to the lowest index.
        value: (S,) value of the policy (finite horizon: total expected reward over `horizon`).
        q: (H, S) action values of the last sweep.
        info: `SDPInfo`.
        failed: () True when the value is not finite or the discounted iteration did not converge.
    """

    policy: Array
    value: Array
    q: Array
    info: SDPInfo
    failed: Array


def bellman_step(F: Array, reward: Array, discount, value: Array) -> tuple[Array, Array]:
    """One Bellman sweep: returns (new value (S,), action values (H, S)).

    Examples:
        >>> F = jnp.broadcast_to(jnp.eye(3), (2, 3, 3))  # H = 2 actions, S = 3 states, stay put
        >>> reward = jnp.array([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]])  # (H, S)
        >>> value, q = gpdp.bellman_step(F, reward, 0.5, jnp.zeros(3))
        >>> value.tolist(), q.shape
        ([1.0, 1.0, 2.0], (2, 3))
    """
    q = reward + discount * jnp.einsum("hst,t->hs", F, value)
    return q.max(axis=0), q


def _validate(F, reward, discount, horizon, tol, max_sweeps):
    F = validate.finite("F", F)
    if F.ndim != 3 or F.shape[1] != F.shape[2]:
        raise ValueError(f"F must have shape (H, S, S), got {F.shape}")
    reward = validate.finite("reward", reward)
    if reward.shape != F.shape[:2]:
        raise ValueError(f"reward must have shape (H, S) = {F.shape[:2]}, got {reward.shape}")
    if validate.is_concrete(F):
        host = np.asarray(F)
        if (host < 0).any():
            raise ValueError("F must be non-negative (rows are transition probabilities)")
        if not np.allclose(host.sum(-1), 1.0, atol=1e-5):
            raise ValueError("F must have rows summing to 1 over the last axis")
    discount = validate.probability("discount", discount, open_low=True)
    if horizon is None:
        if discount >= 1.0:
            raise ValueError(
                "discount must be < 1 when horizon is None (infinite horizon); "
                "give a finite horizon for undiscounted problems"
            )
    else:
        horizon = validate.positive_int("horizon", horizon)
    tol = validate.positive_float("tol", tol)
    max_sweeps = validate.positive_int("max_sweeps", max_sweeps)
    return F, reward, discount, horizon, tol, max_sweeps


def solve_sdp(
    F,
    reward,
    discount,
    horizon: int | None = None,
    *,
    tol: float = 1e-8,
    max_sweeps: int = 100_000,
) -> SDPSolution:
    """Value iteration for a finite Markov decision problem.

    Args:
        F: (H, S, S) transition tensor; `F[h, s]` is the distribution of the next state
            after action `h` in state `s` (rows sum to 1).
        reward: (H, S) immediate reward of action `h` in state `s`.
        discount: discount factor in (0, 1]; must be < 1 when `horizon` is None.
        horizon: number of decision steps (terminal value 0), or None for the discounted
            infinite-horizon problem solved to convergence.
        tol: infinite horizon: stop when the sup-norm change falls below
            `tol * (1 - discount) / (2 * discount)` (an epsilon-optimal policy for epsilon=tol).
        max_sweeps: infinite horizon: cap on the number of sweeps (`failed` if reached).

    Returns:
        `SDPSolution` with `.policy` (S,) and `.value` (S,).

    Examples:
        >>> F = jnp.broadcast_to(jnp.eye(3), (2, 3, 3))  # (H, S, S): actions keep the state
        >>> reward = jnp.array([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]])  # (H, S)
        >>> sol = gpdp.solve_sdp(F, reward, 0.5)  # value = best reward / (1 - 0.5)
        >>> sol.policy.tolist(), [round(v, 4) for v in sol.value.tolist()]
        ([1, 0, 0], [2.0, 2.0, 4.0])
    """
    F, reward, discount, horizon, tol, max_sweeps = _validate(
        F, reward, discount, horizon, tol, max_sweeps
    )
    dtype = jnp.result_type(F.dtype, reward.dtype, float)
    F = F.astype(dtype)
    reward = reward.astype(dtype)
    if horizon is None:
        return _solve_infinite(F, reward, discount, tol, max_sweeps)
    return _solve_finite(F, reward, discount, horizon)


@jax.jit
def _finite_impl(F, reward, discount, steps):
    def body(value, _):
        new, q = bellman_step(F, reward, discount, value)
        return new, (q, jnp.max(jnp.abs(new - value)))

    v0 = jnp.zeros(F.shape[1], F.dtype)
    value, (qs, res) = lax.scan(body, v0, None, length=steps.shape[0])
    return value, qs[-1], res[-1]


def _solve_finite(F, reward, discount, horizon):
    value, q, res = _finite_impl(F, reward, jnp.asarray(discount, F.dtype), jnp.zeros(horizon))
    policy = jnp.argmax(q, axis=0)
    info = SDPInfo(jnp.asarray(horizon), res, jnp.asarray(True))
    return SDPSolution(policy, value, q, info, ~jnp.all(jnp.isfinite(value)))


@jax.jit
def _infinite_impl(F, reward, discount, threshold, max_sweeps):
    def cond(c):
        _, _, res, n = c
        return (n == 0) | ((res > threshold) & (n < max_sweeps) & jnp.isfinite(res))

    def body(c):
        value, _, _, n = c
        new, q = bellman_step(F, reward, discount, value)
        return new, q, jnp.max(jnp.abs(new - value)), n + 1

    v0 = jnp.zeros(F.shape[1], F.dtype)
    init = (v0, jnp.zeros_like(reward), jnp.asarray(jnp.inf, F.dtype), jnp.asarray(0))
    return lax.while_loop(cond, body, init)


def _solve_infinite(F, reward, discount, tol, max_sweeps):
    threshold = tol * (1.0 - discount) / (2.0 * discount)
    value, q, res, n = _infinite_impl(
        F, reward, jnp.asarray(discount, F.dtype), jnp.asarray(threshold, F.dtype), max_sweeps
    )
    # The policy is greedy with respect to the final value (one more Bellman evaluation).
    _, q = bellman_step(F, reward, discount, value)
    policy = jnp.argmax(q, axis=0)
    converged = res <= threshold
    info = SDPInfo(n, res, converged)
    return SDPSolution(policy, value, q, info, ~converged | ~jnp.all(jnp.isfinite(value)))


def solve_sdp_batch(
    Fs, reward, discount, horizon: int | None = None, *, tol=1e-8, max_sweeps=100_000,
    sharding=None,
):  # fmt: skip
    """`solve_sdp` for B transition tensors that share a reward, in one compiled call.

    Args:
        Fs: (B, H, S, S) transition tensors.
        reward: as in `solve_sdp`.
        discount: as in `solve_sdp`.
        horizon: as in `solve_sdp`.
        tol: as in `solve_sdp`.
        max_sweeps: as in `solve_sdp`.
        sharding: split the B problems over devices: a `NamedSharding`
            (`probkit.core.sharding.batch_sharding`) or a `Mesh`; same answers as unsharded.

    Returns:
        `SDPSolution` whose fields carry a leading batch axis (B, ...).

    Examples:
        >>> Fs = jnp.broadcast_to(jnp.eye(3), (4, 2, 3, 3))  # B = 4 tensors (B, H, S, S)
        >>> reward = jnp.array([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]])
        >>> sol = gpdp.solve_sdp_batch(Fs, reward, 0.5)
        >>> sol.policy.shape, sol.value.shape
        ((4, 3), (4, 3))
    """
    sharding = sharding_mod.resolve(sharding)
    Fs = validate.finite("Fs", Fs)
    if Fs.ndim != 4:
        raise ValueError(f"Fs must have shape (B, H, S, S), got {Fs.shape}")
    checked = [_validate(F, reward, discount, horizon, tol, max_sweeps) for F in Fs]
    _, reward, discount, horizon, tol, max_sweeps = checked[0]
    dtype = jnp.result_type(Fs.dtype, reward.dtype, float)
    Fs, reward = Fs.astype(dtype), reward.astype(dtype)
    if sharding is not None:
        return _solve_sharded(Fs, reward, discount, tol, horizon, max_sweeps, sharding)
    if horizon is None:
        return jax.vmap(lambda F: _solve_infinite(F, reward, discount, tol, max_sweeps))(Fs)
    return jax.vmap(lambda F: _solve_finite(F, reward, discount, horizon))(Fs)


# discount and tol stay Python floats (static), so thresholds round exactly as unsharded.
@partial(jax.jit, static_argnames=("discount", "tol", "horizon", "max_sweeps", "sharding"))
def _solve_sharded(Fs, reward, discount, tol, horizon, max_sweeps, sharding):
    def one(F, reward):
        if horizon is None:
            return _solve_infinite(F, reward, discount, tol, max_sweeps)
        return _solve_finite(F, reward, discount, horizon)

    return sharding_mod.shard_vmap(one, sharding, in_axes=(0, None))(Fs, reward)
