"""Per-walker building blocks of SRRW: state, the inverse-CDF draw, the measure update.

Shared by the padded step (`probkit.walks.kernel`) and the degree-bucketed step
(`probkit.walks.bucketed`).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from probkit.core.types import Array

__all__ = [
    "SRRWInfo",
    "SRRWState",
    "log_visit_frequency",
    "record_visit",
    "sample_row",
    "sample_row_given_uniform",
]


class SRRWState(NamedTuple):
    """State of one self-repellent random walk.

    Attributes:
        position: () int32 current node index.
        previous: () int32 previous node (-1 before the first step).
        counts: (n,) int32 visit counts, one initial visit per node included.
        log_y: (n,) float log x_n up to the common scale exp(log_scale).
        log_scale: () float.
        num_steps: () int32 steps taken.
        nonfinite: () bool: a non-finite kernel row was met.
    """

    position: Array  # () int32 current node index
    previous: Array  # () int32 previous node (-1 before the first step)
    counts: Array  # (n,) int32 visit counts, one initial visit per node included
    log_y: Array  # (n,) float log x_n up to the common scale exp(log_scale)
    log_scale: Array  # () float
    num_steps: Array  # () int32 steps taken
    nonfinite: Array  # () bool: a non-finite kernel row was met


class SRRWInfo(NamedTuple):
    """What one self-repellent walk step did.

    Attributes:
        moved: () bool: X_{n+1} != X_n.
        step_size: () γ_{n+1}.
    """

    moved: Array  # () bool: X_{n+1} != X_n
    step_size: Array  # () γ_{n+1}


def log_visit_frequency(state: SRRWState, idx, step_exponent: float):
    """log x_idx up to a constant: log visit counts (a = 1) or the stored log-measure."""
    if step_exponent == 1.0:
        return jnp.log(state.counts[idx].astype(state.log_y.dtype))
    return state.log_y[idx]


def sample_row(key, logits):
    """Inverse-CDF draw from softmax(logits): one uniform per walker (not D + 1 Gumbels).

    Probabilities are formed relative to the row maximum, so a neighbour is drawn with its
    exact probability up to the dtype's resolution (about 1e-7 absolute in float32).
    """
    return sample_row_given_uniform(jax.random.uniform(key, dtype=logits.dtype), logits)


def sample_row_given_uniform(u, logits):
    """`sample_row` with its uniform u in [0, 1) given; logits (..., D + 1), u (...)."""
    w = jnp.exp(logits - jnp.max(logits, axis=-1, keepdims=True))
    c = jnp.cumsum(w, axis=-1)
    total = c[..., -1:]
    # u < c[-1] strictly (a uniform near 1 could round u up to c[-1]), so the first k with
    # c_k > u has w_k > 0: never a masked column, with no extra pass over the row
    v = jnp.minimum(jnp.asarray(u, c.dtype)[..., None] * total, jnp.nextafter(total, 0))
    return jnp.sum(c <= v, axis=-1).astype(jnp.int32)


def record_visit(state: SRRWState, j, moved, step_exponent, dtype):
    """Count a visit to node j and update the empirical measure with gamma_{n+1}: the new
    `(counts, log_y, log_scale, num_steps, SRRWInfo)`."""
    k = state.num_steps + 1
    n = state.counts.shape[0]
    gamma = (k.astype(dtype) + n) ** (-step_exponent)
    counts = state.counts.at[j].add(1)
    if step_exponent == 1.0:
        log_y, log_scale = state.log_y, state.log_scale
    else:
        log_scale = state.log_scale + jnp.log1p(-gamma)
        log_y = state.log_y.at[j].set(jnp.logaddexp(state.log_y[j], jnp.log(gamma) - log_scale))
    return counts, log_y, log_scale, k, SRRWInfo(moved, gamma)
