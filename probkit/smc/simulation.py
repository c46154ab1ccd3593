"""Forward filtering, backward simulation (FFBS; Godsill, Doucet & West 2004).

Draws M trajectories approximately from p(x_0:T-1 | y_0:T-1) out of one particle filter run
with history: b_T-1 ~ Cat(ω_T-1), then b_t ~ Λ_t(b_t+1, ·) ∝ ω_t^j m(ξ_t^j, ξ_t+1^{b_t+1})
for t = T-2, ..., 0, all M paths at once. The backward draws go through
`smc.backward.sample`, so the kernel is a choice: "hybrid" (default, exact draws, O(M) per
step in practice), "exact" (O(M N) per step, chunked), "rejection". The kernels that start from
the forward ancestor ("mcmc", "bounded") are PaRIS-only: in FFBS the rows are chosen by the
backward pass, and only with resampling at every step is a chosen particle's ancestor a draw
from Λ, which a filter result does not record.

Cost O(M T) with the accept–reject kinds, O(M N T) exact; memory O(M T) for the paths plus the
filter's O(N T) history.
"""

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from probkit.core import validate
from probkit.core.types import Array, PRNGKey, PyTree
from probkit.smc import backward as backward_mod
from probkit.smc import filtering
from probkit.ssm.model import StateSpaceModel

__all__ = ["FFBSResult", "backward_simulation", "ffbs"]


class FFBSResult(NamedTuple):
    """Paths drawn by backward simulation (`ffbs`, `backward_simulation`).

    Attributes:
        paths: (M, T, *state_shape) trajectories, each a draw from the particle approximation
            of the joint smoothing distribution.
        indices: (M, T) int32 particle index of each path at each t.
        trials: (T,) mean proposals per backward draw (0 at t = T-1).
        fallbacks: (T,) int32 draws sent to the exact kernel after the trial budget.
        bound_violated: () bool: log m exceeded `transition_log_bound` (draws biased).
        failed: () bool: the filter failed, or some row had no finite weight times density.
    """

    paths: Array
    indices: Array
    trials: Array
    fallbacks: Array
    bound_violated: Array
    failed: Array


@partial(jax.jit, static_argnames=("model", "num_paths", "kernel"))
def _simulate(key, model, params, particles, log_weights, num_paths, kernel):
    T = particles.shape[0]
    k_last, k_rest = jax.random.split(key)
    last = backward_mod.draw_from_rows(k_last, log_weights[-1][None], num_paths)[0][0]

    def body(b_next, inp):
        k, t = inp  # draws b_t given b_t+1, t = T-2 ... 0
        x_next = jnp.take(particles[t + 1], b_next, axis=0)
        J, info = backward_mod.sample(
            k, kernel, model, params, log_weights[t], particles[t], x_next, t + 1, 1
        )
        b = J[:, 0]
        return b, (b, info)

    ts = jnp.arange(T - 2, -1, -1, dtype=jnp.int32)
    _, (idx, infos) = jax.lax.scan(body, last, (jax.random.split(k_rest, T - 1), ts))
    indices = jnp.concatenate([idx[::-1], last[None]], axis=0)  # (T, M)
    paths = jax.vmap(lambda p, i: jnp.take(p, i, axis=0))(particles, indices)  # (T, M, ...)
    dtype = log_weights.dtype
    trials = jnp.concatenate([infos.trials[::-1], jnp.zeros((1,), dtype)])
    fallbacks = jnp.concatenate([infos.fallbacks[::-1], jnp.zeros((1,), jnp.int32)])
    degenerate = jnp.any(infos.degenerate_rows > 0) | ~jnp.any(jnp.isfinite(log_weights[-1]))
    return FFBSResult(
        jnp.moveaxis(paths, 0, 1),
        indices.T,
        trials,
        fallbacks,
        jnp.any(infos.bound_violated),
        degenerate,
    )


def backward_simulation(
    key: PRNGKey,
    model: StateSpaceModel,
    params: PyTree,
    filtered: filtering.ParticleFilterResult,
    num_paths: int,
    *,
    backward: "str | backward_mod.BackwardKernel" = "hybrid",
) -> FFBSResult:
    """`num_paths` trajectories by backward simulation from a filter run with `history=True`.

    Args:
        key: PRNG key.
        model: the state-space model the filter ran (its transition gives Λ).
        params: its parameters.
        filtered: `smc.particle_filter(..., history=True)` output: particles `(T, N, ...)`,
            log-weights `(T, N)`.
        num_paths: M >= 1 trajectories.
        backward: "hybrid" (default), "exact", "rejection" or a `smc.backward.BackwardKernel`
            of those kinds; accept–reject kinds need `model.transition_log_bound`.

    Returns:
        `FFBSResult` with `.paths` `(M, T, *state_shape)` and `.failed`.

    Examples:
        >>> from probkit import ssm
        >>> model, params = ssm.linear_gaussian(F=0.9, Q=1.0, H=1.0, R=1.0, m0=0.0, P0=1.0)
        >>> _, ys = ssm.simulate(jax.random.key(0), model, params, 10)  # (T, dy)
        >>> filt = smc.particle_filter(jax.random.key(1), model, params, ys, 128, history=True)
        >>> res = smc.backward_simulation(jax.random.key(2), model, params, filt, 32)
        >>> res.paths.shape, res.indices.shape, bool(res.failed)  # (M, T, dx), (M, T)
        ((32, 10, 1), (32, 10), False)
    """
    validate.key("key", key)
    if not isinstance(model, StateSpaceModel):
        raise TypeError(f"model must be a probkit.ssm.StateSpaceModel, got {type(model).__name__}")
    if not isinstance(filtered, filtering.ParticleFilterResult):
        raise TypeError(
            f"filtered must be a smc.ParticleFilterResult, got {type(filtered).__name__}"
        )
    lw = jnp.asarray(filtered.log_weights)
    if lw.ndim != 2 or filtered.particles.ndim < 2 or filtered.particles.shape[:2] != lw.shape:
        raise ValueError(
            "filtered must come from smc.particle_filter(..., history=True): log_weights of "
            f"shape (T, N) and particles (T, N, ...), got {lw.shape} and "
            f"{filtered.particles.shape}"
        )
    if lw.shape[0] < 2:
        raise ValueError(f"filtered must cover T >= 2 steps, got T = {lw.shape[0]}")
    num_paths = validate.positive_int("num_paths", num_paths)
    kernel = backward_mod.check(backward, model, allow_mcmc=False)
    res = _simulate(key, model, params, filtered.particles, lw, num_paths, kernel)
    return res._replace(failed=res.failed | filtered.failed)


def ffbs(
    key: PRNGKey,
    model: StateSpaceModel,
    params: PyTree,
    ys: Array,
    num_particles: int,
    num_paths: int,
    *,
    backward: "str | backward_mod.BackwardKernel" = "hybrid",
    proposal: filtering.Proposal | None = None,
    resampling: str = "systematic",
    ess_threshold: float = 0.5,
) -> FFBSResult:
    """A particle filter with history, then `backward_simulation` of `num_paths` trajectories.

    Args:
        key: PRNG key.
        model: the state-space model.
        params: its parameters.
        ys: `(T, *obs_shape)` observations, T >= 2.
        num_particles: N >= 2 filter particles.
        num_paths: M >= 1 trajectories.
        backward: as in `smc.paris` (per-draw-exact kinds only).
        proposal: as in `smc.paris`.
        resampling: as in `smc.paris`.
        ess_threshold: as in `smc.paris`.

    Returns:
        `FFBSResult`; `result.paths.mean(0)` estimates the smoothing means E[x_t | y_0:T-1].

    Examples:
        >>> from probkit import ssm
        >>> model, params = ssm.linear_gaussian(F=0.9, Q=1.0, H=1.0, R=1.0, m0=0.0, P0=1.0)
        >>> _, ys = ssm.simulate(jax.random.key(0), model, params, 10)  # (T, dy)
        >>> res = smc.ffbs(jax.random.key(1), model, params, ys, 256, 64)
        >>> exact = ssm.rts_smoother(params, ys).means  # (T, dx) Kalman/RTS smoothing means
        >>> bool(jnp.abs(res.paths.mean(0) - exact).max() < 0.5)  # Monte Carlo, M = 64 paths
        True
    """
    validate.key("key", key)
    backward_mod.check(backward, model, allow_mcmc=False)
    validate.positive_int("num_paths", num_paths)
    k_filter, k_back = jax.random.split(key)
    filtered = filtering.particle_filter(
        k_filter,
        model,
        params,
        ys,
        num_particles,
        proposal=proposal,
        resampling=resampling,
        ess_threshold=ess_threshold,
        history=True,
    )
    return backward_simulation(k_back, model, params, filtered, num_paths, backward=backward)
