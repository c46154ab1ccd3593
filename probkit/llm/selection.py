"""Choosing the final answer from a weighted pool of complete solutions.

* ``"argmax"`` — the particle with the highest final reward (the authors' choice for PF,
  and best-of-N's).
* ``"vote"`` — weighted majority vote over canonical answers: each answer collects the weights
  of the particles that give it, the heaviest answer wins, and the highest-reward particle with
  that answer is returned (weighted best-of-N sums reward scores this way).
* ``"sample"`` — one particle drawn with probability ∝ its weight; for a properly weighted
  system this is an approximate draw from the target.

Particles without a canonical answer (id −1) take part in a vote only if no particle has one.
"""

import functools

import jax
import jax.numpy as jnp

from probkit.core import validate, weights
from probkit.core.types import Array, PRNGKey

__all__ = ["SELECTIONS", "check", "select", "vote_totals"]

SELECTIONS = ("argmax", "vote", "sample")
"""Final-answer selection rules."""


def check(select: str) -> str:
    """Validate a selection rule's name."""
    return validate.one_of("select", select, SELECTIONS)


def vote_totals(answer_ids: Array, vote_weights: Array) -> Array:
    """(N,) total weight of each particle's answer (−1 answers count only among themselves).

    O(N²) pairwise comparison: no bound on the number of distinct answers is needed.
    """
    ids = jnp.asarray(answer_ids)
    w = jnp.asarray(vote_weights)
    has = ids >= 0
    any_valid = jnp.any(has)
    w = jnp.where(has | ~any_valid, w, jnp.zeros_like(w))
    same = ids[:, None] == ids[None, :]
    totals = same @ w
    return jnp.where(has | ~any_valid, totals, -jnp.inf)


@functools.partial(jax.jit, static_argnames=("method",))
def select(
    key: PRNGKey,
    method: str,
    answer_ids: Array,
    rewards: Array,
    log_weights: Array,
    vote_weights: Array | None = None,
) -> Array:
    """Index of the chosen particle.

    Args:
        key: PRNG key (used by ``"sample"`` only).
        method: ``"argmax"``, ``"vote"`` or ``"sample"``.
        answer_ids: (N,) canonical answer ids, −1 for none.
        rewards: (N,) final rewards (argmax, and tie-breaking within the winning answer).
        log_weights: (N,) log-weights of the final pool (sample; vote unless `vote_weights`).
        vote_weights: (N,) linear vote weights; default ``exp(log_weights)`` normalised.
    """
    rewards = jnp.asarray(rewards)
    if method == "argmax":
        return jnp.argmax(rewards).astype(jnp.int32)
    lw = jnp.asarray(log_weights)
    if method == "sample":
        if key is None:
            raise ValueError('select="sample" needs a PRNG key')
        return jax.random.categorical(key, weights.log_normalize(lw)).astype(jnp.int32)
    if method == "vote":
        if vote_weights is None:
            vote_weights = weights.normalize(lw)
        totals = vote_totals(answer_ids, vote_weights)
        best = jnp.max(totals)
        winners = totals >= best
        return jnp.argmax(jnp.where(winners, rewards, -jnp.inf)).astype(jnp.int32)
    raise ValueError(f"select must be one of {SELECTIONS}, got {method!r}")
