"""One particle-filter step as a pure kernel: `init` and `step` with their state and info.

`probkit.smc.filtering` runs them in a compiled loop (`smc.particle_filter`, which also carries
them as `particle_filter.init` / `.step`); `probkit.smc.islands` runs them per island. Every name
here is re-exported by `probkit.smc.filtering` and `probkit.smc`.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from probkit.core import accumulate
from probkit.core import resampling as resampling_mod
from probkit.core import sharding as sharding_mod
from probkit.core.particles import resample_when
from probkit.core.types import Array, PRNGKey, PyTree
from probkit.smc import _deprecation, propagation
from probkit.smc.propagation import Proposal
from probkit.ssm import model as ssm_model
from probkit.ssm.model import StateSpaceModel

__all__ = ["ParticleFilterInfo", "ParticleFilterResult", "ParticleFilterState", "init", "step"]


class ParticleFilterState(NamedTuple):
    """State of the particle filter between steps (`particle_filter.init` / `.step`).

    Attributes:
        particles: (N, *state_shape) current particles.
        log_weights: (N,) normalised: LSE == 0.
        log_likelihood: compensated running sum of increments, leaves ().
        degenerate: () bool, any step so far had no finite weight.
        first_failure: () int32, first degenerate step or -1.
    """

    particles: Array  # (N, *state_shape)
    log_weights: Array  # (N,) normalised: LSE == 0
    log_likelihood: accumulate.Sum  # compensated running sum of increments, leaves ()
    degenerate: Array  # () bool, any step so far had no finite weight
    first_failure: Array  # () int32, first degenerate step or -1


class ParticleFilterInfo(NamedTuple):
    """What one particle-filter step did (`particle_filter.step`).

    Attributes:
        ancestors: (N,) int32, identity when not resampled.
        ess: () ESS after reweighting.
        resampled: () bool, the particles were resampled before this step.
        log_likelihood_increment: () log p^(y_t | y_0:t-1).
        degenerate: () bool, every weight -inf/NaN at this step.
    """

    ancestors: Array  # (N,) int32, identity when not resampled
    ess: Array  # () ESS after reweighting
    resampled: Array  # () bool
    log_likelihood_increment: Array  # () log p^(y_t | y_0:t-1)
    degenerate: Array  # () bool, every weight -inf/NaN at this step


class ParticleFilterResult(NamedTuple):
    """Result of `smc.particle_filter`.

    Attributes:
        log_likelihood: () log p^(y_0:T-1); -inf if the filter failed.
        particles: (T, N, *state_shape), or (N, *state_shape) with history=False.
        log_weights: (T, N) normalised, or (N,) with history=False.
        ancestors: (T, N) ancestors[t] indexes particles[t-1]; or (N,) final only.
        ess: (T,) effective sample size after reweighting, per step.
        resampled: (T,) bool, resampled before step t.
        log_likelihood_increments: (T,) log p^(y_t | y_0:t-1).
        failed: () bool, some step had no finite weight (see `failed_at`).
        failed_at: () int32, first step with no finite weight, -1 if none.
    """

    log_likelihood: Array  # () log p^(y_0:T-1); -inf if the filter failed
    particles: Array  # (T, N, *state_shape), or (N, *state_shape) with history=False
    log_weights: Array  # (T, N) normalised, or (N,) with history=False
    ancestors: Array  # (T, N) ancestors[t] indexes particles[t-1]; or (N,) final only
    ess: Array  # (T,)
    resampled: Array  # (T,) bool
    log_likelihood_increments: Array  # (T,)
    failed: Array  # () bool
    failed_at: Array  # () int32, first step with no finite weight, -1 if none

    def mean(self, fn: Callable[[Array], PyTree] | None = None) -> PyTree:
        """Weighted particle average of `fn(x)` (default x) at every stored step."""
        fn = (lambda x: x) if fn is None else fn
        w = jnp.exp(self.log_weights)

        def one(parts, wt):
            vals = jax.vmap(fn)(parts)
            return jax.tree.map(lambda v: jnp.tensordot(wt, v, axes=(0, 0)), vals)

        if self.log_weights.ndim == 1:
            return one(self.particles, w)
        return jax.vmap(one)(self.particles, w)


def init(
    key: PRNGKey,
    model: StateSpaceModel,
    params: PyTree,
    y0: Array,
    num_particles: int,
    *,
    proposal: Proposal | None = None,
    sharding: jax.sharding.NamedSharding | None = None,
) -> tuple[ParticleFilterState, ParticleFilterInfo]:
    """Draw x_0 (from the model's initial law or `proposal.initial`) and weight it by y_0."""
    if proposal is None:
        x0 = ssm_model.sample_initial(key, model, params, num_particles)
        incr = jnp.zeros((num_particles,), x0.dtype)
    else:
        q0 = proposal.initial(params, y0)
        x0 = q0.sample(key, (num_particles,))
        incr = ssm_model.initial_log_prob(model, params, x0) - jax.vmap(q0.log_prob)(x0)
    x0 = sharding_mod.constrain(x0, sharding)
    incr = incr + ssm_model.observation_log_prob(model, params, x0, y0, 0)
    dtype = jnp.result_type(x0.dtype, incr.dtype)
    lw_prev = jnp.full((num_particles,), -jnp.log(num_particles), dtype)
    lw, acc, degenerate, first, ess, inc, bad = propagation.reweight_state(
        lw_prev,
        incr.astype(dtype),
        accumulate.init(jnp.zeros((), dtype)),
        jnp.zeros((), bool),
        jnp.full((), -1, jnp.int32),
        0,
    )
    state = ParticleFilterState(x0, sharding_mod.constrain(lw, sharding), acc, degenerate, first)
    info = ParticleFilterInfo(
        jnp.arange(num_particles, dtype=jnp.int32), ess, jnp.zeros((), bool), inc, bad
    )
    return state, info


def step(
    key: PRNGKey,
    state: ParticleFilterState,
    model: StateSpaceModel,
    params: PyTree,
    y: Array,
    t: Array,
    *,
    proposal: Proposal | None = None,
    resampling: str | resampling_mod.Resampler | None = None,
    ess_threshold: float = 0.5,
    sharding: jax.sharding.NamedSharding | None = None,
    resampling_scheme: str | resampling_mod.Resampler | None = None,
) -> tuple[ParticleFilterState, ParticleFilterInfo]:
    """One filter step at time t >= 1: (maybe) resample, propagate, reweight.

    `resampling` (default "systematic") is a scheme name or a `Resampler`;
    `resampling_scheme` is its deprecated spelling.
    """
    resampling = _deprecation.renamed(
        "particle_filter.step", "resampling_scheme", "resampling",
        resampling_scheme, resampling, "systematic",
    )  # fmt: skip
    resampler = resampling_mod.get(resampling, argname="resampling")
    k_res, k_move = jax.random.split(key)
    # Sharded: resample from all-gathered weights, replicated on every device (one all-gather
    # of N weights instead of collectives at every level of the tree-shaped cumulative sums).
    ancestors, lw_prev, do_resample = _replicated(
        resample_when(k_res, _replicated(state.log_weights, sharding), resampler, ess_threshold),
        sharding,
    )
    ancestors = sharding_mod.constrain(ancestors, sharding)
    x_prev = jnp.take(state.particles, ancestors, axis=0)
    x = sharding_mod.constrain(
        propagation.sample_proposal(k_move, model, params, proposal, x_prev, y, t), sharding
    )
    incr = propagation.incremental_log_weights(model, params, proposal, x_prev, x, y, t).astype(
        lw_prev.dtype
    )
    lw, acc, degenerate, first, ess, inc, bad = propagation.reweight_state(
        lw_prev, incr, state.log_likelihood, state.degenerate, state.first_failure, t
    )
    new_state = ParticleFilterState(x, sharding_mod.constrain(lw, sharding), acc, degenerate, first)
    return new_state, ParticleFilterInfo(ancestors, ess, do_resample, inc, bad)


def _replicated(tree, sharding):
    """Inside `jit`: every leaf whole on every device of `sharding`'s mesh; no-op when None."""
    if sharding is None:
        return tree
    whole = jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec())
    return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, whole), tree)
