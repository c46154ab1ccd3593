"""The particle step shared by every particle method: reweight, then resample when the ESS drops.

`smc.particle_filter` (and through it PaRIS and PPG), the conditional filter of CSMC, and
`llm.particle_filter` (twisted weighting) call these two functions, so the evidence increment,
the degeneracy flag and the ESS-triggered resampling are computed one way:

    rw = reweight(log_weights_prev, log_weights_prev + log_increments)
    ancestors, log_weights, resampled = resample_when(key, rw.log_weights, resampler, 0.5)
"""

from typing import NamedTuple

import jax.numpy as jnp

from probkit.core import weights
from probkit.core.resampling import Resampler
from probkit.core.types import Array, PRNGKey

__all__ = ["Reweighted", "resample_when", "reweight"]


class Reweighted(NamedTuple):
    """One reweighting: normalised weights and what the step's info reports.

    Attributes:
        log_weights: (N,) normalised (LSE == 0); uniform when degenerate.
        log_evidence_increment: () LSE(new) - LSE(prev): log p^(y_t | y_0:t-1).
        ess: () ESS of the new weights, in [1, N]; 0 when degenerate.
        degenerate: () bool: no new weight is finite.
    """

    log_weights: Array  # (N,) normalised (LSE == 0); uniform when degenerate
    log_evidence_increment: Array  # () LSE(new) - LSE(prev): log p^(y_t | y_0:t-1)
    ess: Array  # () ESS of the new weights, in [1, N]; 0 when degenerate
    degenerate: Array  # () bool: no new weight is finite


def reweight(log_weights_prev: Array, log_weights_new: Array) -> Reweighted:
    """Normalise `log_weights_new` (N,) and take the evidence increment against the previous
    weights (N,) (normalised or not: `LSE(new) - LSE(prev)`).

    Returns `Reweighted(log_weights (N,), log_evidence_increment (), ess (), degenerate ())`.

    Examples:
        >>> from probkit.core import particles
        >>> lw0 = jnp.full(4, -jnp.log(4.0))  # uniform, normalised
        >>> out = particles.reweight(lw0, lw0 + jnp.log(jnp.array([1.0, 1.0, 2.0, 4.0])))
        >>> round(float(out.log_evidence_increment), 4), round(float(out.ess), 3)
        (0.6931, 2.909)
    """
    summary = weights.summarize(log_weights_new)
    inc = summary.logsumexp - weights.logsumexp(log_weights_prev)
    return Reweighted(summary.log_normalized, inc, summary.ess, summary.degenerate)


def resample_when(
    key: PRNGKey,
    log_weights: Array,
    resampler: Resampler,
    ess_threshold: float,
    *,
    ess: Array | None = None,
    live: Array | None = None,
    enabled: "bool | Array" = True,
) -> tuple[Array, Array, Array]:
    """Resample when ESS < `ess_threshold` x (number of live particles).

    Args:
        key: PRNG key for the resampler.
        log_weights: (N,) normalised log-weights.
        resampler: a `core.resampling.Resampler`.
        ess_threshold: static; >= 1 resamples every step, <= 0 never.
        ess: () the weights' ESS when the caller has it (else computed here).
        live: (N,) bool, slots in use (padded slots get weight -inf and keep their place).
        enabled: static or traced bool; False skips resampling whatever the ESS.

    Returns:
        `(ancestors (N,) int32, log_weights (N,), resampled () bool)`: the identity and the
        input weights when not resampled; else the resampler's draw and uniform weights.

    Examples:
        >>> from probkit.core import particles, resampling
        >>> lw = jnp.log(jnp.array([0.97, 0.01, 0.01, 0.01]))  # ESS about 1.06 < 0.5 * 4
        >>> anc, new_lw, resampled = particles.resample_when(
        ...     jax.random.key(0), lw, resampling.get("systematic"), 0.5
        ... )
        >>> anc.shape, anc.dtype, bool(resampled), new_lw.tolist() == [-np.log(np.float32(4))] * 4
        ((4,), dtype('int32'), True, True)
    """
    n = log_weights.shape[0]
    identity = jnp.arange(n, dtype=jnp.int32)
    if ess_threshold <= 0.0 or enabled is False:
        return identity, log_weights, jnp.zeros((), bool)
    num_live = n if live is None else jnp.sum(live)
    if ess_threshold >= 1.0:
        do = jnp.ones((), bool)
    else:
        ess = weights.ess(log_weights) if ess is None else ess
        do = ess < ess_threshold * num_live
    do = do & jnp.asarray(enabled)
    if live is None:
        uniform = jnp.full_like(log_weights, -jnp.log(n))
    else:
        uniform = jnp.where(live, -jnp.log(num_live.astype(log_weights.dtype)), -jnp.inf)
    ancestors = resampler.resample(key, log_weights, n).astype(jnp.int32)
    return jnp.where(do, ancestors, identity), jnp.where(do, uniform, log_weights), do
