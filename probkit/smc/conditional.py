"""Conditional SMC (particle Gibbs) with backward or ancestor sampling.

One iteration maps a reference path ζ_0:T-1 to a new path ζ' and leaves the smoothing
distribution p(x_0:T-1 | y_0:T-1) invariant (Andrieu, Doucet & Holenstein 2010):

1. run a particle filter with the reference pinned at index 0 — ξ_t^0 = ζ_t for every t — and
   the other N-1 particles resampled *conditionally* on the reference's ancestor, with the
   conditional version of the chosen scheme (`probkit.core.resampling`: multinomial, and
   systematic/stratified/residual in their randomly-rotated or size-biased forms, whose
   marginal law of each ancestor is Cat(ω) as the invariance argument requires);
2. draw the new path,
   * `sampler="backward"` (Whiteley 2010): b_T-1 ~ Cat(ω_T-1), then
     b_t ~ Λ_t(b_t+1, ·) ∝ ω_t^j m(ξ_t^j, ξ_t+1^{b_t+1}) going backwards;
   * `sampler="ancestor"` (Lindsten, Jordan & Schön 2014): during the forward pass the
     reference's ancestor is redrawn ∝ ω_t-1^j m(ξ_t-1^j, ζ_t); the new path is the genealogy of
     b_T-1 ~ Cat(ω_T-1).

Resampling happens at every step (the conditional construction here assumes it; ESS-triggered
resampling is not offered). A guided `proposal` may drive the forward pass; backward and
ancestor weights always use the model's transition m. Cost O(N T) per iteration, memory
O(N T).

The pure pieces `init(path)`, `step(key, state, model, params, ys, num_particles, ...)` and
`kernel(model, ys, num_particles, ...)` (which closes over the static choices and returns
`step(key, state, params)`) make it a Gibbs block: alternate it with any MCMC step on the
parameters (see `docs/paris_ppg.md` for NUTS within particle Gibbs).
"""

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from probkit.core import accumulate, errors, progress, validate
from probkit.core import resampling as resampling_mod
from probkit.core.inference_data import to_inference_data as _to_idata
from probkit.core.types import Array, PRNGKey, PyTree
from probkit.smc import _deprecation, filtering, propagation
from probkit.smc import backward as backward_mod
from probkit.smc._checks import check_path, check_setup
from probkit.smc.config import SMCConfig
from probkit.ssm import model as ssm_model
from probkit.ssm.model import StateSpaceModel

__all__ = [
    "SAMPLERS",
    "CSMCInfo",
    "CSMCKernel",
    "CSMCResult",
    "CSMCState",
    "conditional_init",
    "conditional_step",
    "csmc",
    "init",
    "kernel",
    "step",
]

SAMPLERS = ("backward", "ancestor")
"""Path samplers of conditional SMC: backward sampling or ancestor tracing."""


class CSMCState(NamedTuple):
    """State of a conditional-SMC chain: the reference path.

    Attributes:
        path: (T, *state_shape) the reference path ζ.
    """

    path: Array  # (T, *state_shape) the reference path ζ


class CSMCInfo(NamedTuple):
    """Diagnostics of one conditional-SMC step.

    Attributes:
        ess: (T,) ESS of the conditional filter.
        log_likelihood: () log Ẑ of the conditional filter (a diagnostic, not unbiased).
        moved: (T,) bool, the new path differs from the reference at t.
        degenerate: () bool, some step had no finite weight.
    """

    ess: Array  # (T,) ESS of the conditional filter
    log_likelihood: Array  # () log Ẑ of the conditional filter (a diagnostic, not unbiased)
    moved: Array  # (T,) bool, the new path differs from the reference at t
    degenerate: Array  # () bool, some step had no finite weight


class CSMCResult(NamedTuple):
    """Result of `smc.csmc`: the path after each iteration and the stacked infos.

    Attributes:
        paths: (num_iterations, T, *state_shape) the path after each iteration.
        info: stacked over iterations.
    """

    paths: Array  # (num_iterations, T, *state_shape) the path after each iteration
    info: CSMCInfo  # stacked over iterations

    @property
    def failed(self) -> Array:
        """() bool: some iteration's conditional filter had no finite weight."""
        return jnp.any(self.info.degenerate)

    @property
    def failed_at(self) -> Array:
        """() int32: the first such iteration, -1 if none."""
        return errors.first_failure(self.info.degenerate)

    def to_inference_data(self, name: str = "x"):
        """ArviZ `InferenceData`: the paths as one chain, `posterior[name]` `(1, draws, T, ...)`."""
        return _to_idata(
            {name: self.paths[None]},
            sample_stats={"filter_log_likelihood": self.info.log_likelihood[None]},
        )


class CSMCKernel(NamedTuple):
    """`init(path) -> CSMCState`; the pure `step(key, state, params) -> (CSMCState, CSMCInfo)`.

    Attributes:
        init: `init(path) -> CSMCState`.
        step: `step(key, state, params) -> (CSMCState, CSMCInfo)`.
    """

    init: Callable[[Array], CSMCState]
    step: Callable[[PRNGKey, CSMCState, PyTree], tuple[CSMCState, CSMCInfo]]


# --- the conditional particle filter --------------------------------------------------------


def conditional_init(
    key: PRNGKey,
    model: StateSpaceModel,
    params: PyTree,
    y0: Array,
    num_particles: int,
    reference0: Array | None,
    *,
    proposal: filtering.Proposal | None = None,
    pinned: "bool | Array" = True,
) -> tuple[filtering.ParticleFilterState, filtering.ParticleFilterInfo]:
    """Particles at t = 0 with ξ_0^0 = `reference0` (unconditional when None or not `pinned`)."""
    if proposal is None:
        x0 = ssm_model.sample_initial(key, model, params, num_particles)
    else:
        x0 = proposal.initial(params, y0).sample(key, (num_particles,))
    if reference0 is not None and pinned is not False:
        x0 = x0.at[0].set(jnp.where(pinned, reference0, x0[0]))
    incr = ssm_model.observation_log_prob(model, params, x0, y0, 0)
    if proposal is not None:
        q0 = proposal.initial(params, y0)
        incr = incr + ssm_model.initial_log_prob(model, params, x0) - jax.vmap(q0.log_prob)(x0)
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
    ident = jnp.arange(num_particles, dtype=jnp.int32)
    info = filtering.ParticleFilterInfo(ident, ess, jnp.zeros((), bool), inc, bad)
    return filtering.ParticleFilterState(x0, lw, acc, degenerate, first), info


def conditional_step(
    key: PRNGKey,
    state: filtering.ParticleFilterState,
    model: StateSpaceModel,
    params: PyTree,
    y: Array,
    t,
    reference_t: Array | None,
    *,
    resampling: "str | resampling_mod.Resampler | None" = None,
    proposal: filtering.Proposal | None = None,
    ancestor_sampling: bool = False,
    pinned: "bool | Array" = True,
    resampler: "resampling_mod.Resampler | None" = None,
) -> tuple[filtering.ParticleFilterState, filtering.ParticleFilterInfo]:
    """One conditional filter step at t >= 1 (resampling every step): `(state, info)`.

    With `reference_t` None (or `pinned` false) this is an ordinary step with the scheme's
    unconditional resampler. Otherwise ancestors[0] is 0 (the reference's previous position)
    or, with `ancestor_sampling`, drawn ∝ ω_t-1^j m(ξ_t-1^j, ζ_t); the others follow the
    scheme's conditional law, and ξ_t^0 = ζ_t. `pinned` may be a traced bool, so that one
    compiled loop serves both an unconditional first pass and conditional iterations.
    `resampling` (default "systematic") is a scheme name or `Resampler`; `resampler` is its
    deprecated spelling.
    """
    resampling = _deprecation.renamed(
        "conditional_step", "resampler", "resampling", resampler, resampling, "systematic"
    )
    resampler = resampling_mod.get(resampling)
    k_anc, k_res, k_move = jax.random.split(key, 3)
    n = state.log_weights.shape[0]
    lw_prev = state.log_weights

    def unconditional(_):
        return resampler.resample(k_res, lw_prev, n)

    def conditional(_):
        if ancestor_sampling:
            lm = backward_mod.row_log_probs(model, params, state.particles, reference_t[None], t)
            ref_ancestor = backward_mod.draw_from_rows(k_anc, lw_prev[None] + lm, 1)[0][0, 0]
        else:
            ref_ancestor = jnp.zeros((), jnp.int32)
        return resampler.conditional(k_res, lw_prev, ref_ancestor)

    if reference_t is None or pinned is False:
        ancestors = unconditional(None)
    elif pinned is True:
        ancestors = conditional(None)
    else:
        ancestors = jax.lax.cond(pinned, conditional, unconditional, None)
    x_prev = jnp.take(state.particles, ancestors, axis=0)
    x = propagation.sample_proposal(k_move, model, params, proposal, x_prev, y, t)
    if reference_t is not None and pinned is not False:
        x = x.at[0].set(jnp.where(pinned, reference_t, x[0]))
    incr = propagation.incremental_log_weights(model, params, proposal, x_prev, x, y, t)
    uniform = jnp.full_like(lw_prev, -jnp.log(n))
    lw, acc, degenerate, first, ess, inc, bad = propagation.reweight_state(
        uniform,
        incr.astype(lw_prev.dtype),
        state.log_likelihood,
        state.degenerate,
        state.first_failure,
        t,
    )
    info = filtering.ParticleFilterInfo(ancestors, ess, jnp.ones((), bool), inc, bad)
    return filtering.ParticleFilterState(x, lw, acc, degenerate, first), info


class _History(NamedTuple):
    particles: Array  # (T, N, *state_shape)
    log_weights: Array  # (T, N)
    ancestors: Array  # (T, N) ancestors[t] indexes particles[t-1]; ancestors[0] = identity
    ess: Array  # (T,)
    log_likelihood: Array
    degenerate: Array


def _forward(
    key, model, params, ys, num_particles, reference, *, resampler, proposal, ancestor_sampling
) -> _History:
    T = ys.shape[0]
    k0, k_rest = jax.random.split(key)
    ref0 = None if reference is None else reference[0]
    state, info0 = conditional_init(
        k0, model, params, ys[0], num_particles, ref0, proposal=proposal
    )

    def body(st, inp):
        k, y, t, ref_t = inp
        st, info = conditional_step(
            k,
            st,
            model,
            params,
            y,
            t,
            ref_t,
            resampling=resampler,
            proposal=proposal,
            ancestor_sampling=ancestor_sampling,
        )
        return st, (st.particles, st.log_weights, info.ancestors, info.ess)

    keys = jax.random.split(k_rest, T - 1)
    ts = jnp.arange(1, T, dtype=jnp.int32)
    refs = None if reference is None else reference[1:]
    init_state = state
    state, (xs, lws, ancs, ess) = jax.lax.scan(body, state, (keys, ys[1:], ts, refs))

    def stack(first, rest):
        return jnp.concatenate([first[None], rest], axis=0)

    ident = jnp.arange(num_particles, dtype=jnp.int32)
    return _History(
        stack(init_state.particles, xs),
        stack(init_state.log_weights, lws),
        stack(ident, ancs),
        stack(info0.ess, ess),
        accumulate.value(state.log_likelihood),
        state.degenerate,
    )


def _last_index(key, log_weights):
    return backward_mod.draw_from_rows(key, log_weights[None], 1)[0][0, 0]


def _backward_path(key, model, params, hist: _History) -> Array:
    """b_T-1 ~ Cat(ω_T-1), then b_t ~ Λ_t(b_t+1, ·): the path ξ_t^{b_t}."""
    T = hist.log_weights.shape[0]
    k_last, k_rest = jax.random.split(key)
    b_last = _last_index(k_last, hist.log_weights[-1])
    x_last = hist.particles[-1, b_last]

    def body(x_next, inp):
        k, x_t, lw_t, t_next = inp
        lm = backward_mod.row_log_probs(model, params, x_t, x_next[None], t_next)
        b = backward_mod.draw_from_rows(k, lw_t[None] + lm, 1)[0][0, 0]
        return x_t[b], x_t[b]

    keys = jax.random.split(k_rest, T - 1)
    ts = jnp.arange(1, T, dtype=jnp.int32)
    _, xs = jax.lax.scan(
        body, x_last, (keys, hist.particles[:-1], hist.log_weights[:-1], ts), reverse=True
    )
    return jnp.concatenate([xs, x_last[None]], axis=0)


def _ancestral_path(key, hist: _History) -> Array:
    """The genealogy of b_T-1 ~ Cat(ω_T-1)."""
    b_last = _last_index(key, hist.log_weights[-1])

    def body(b, inp):
        anc_t, x_t = inp  # anc_t indexes t-1
        return anc_t[b], x_t[b]

    _, xs = jax.lax.scan(body, b_last, (hist.ancestors, hist.particles), reverse=True)
    return xs


# --- the kernel -------------------------------------------------------------------------------


def init(path: Array) -> CSMCState:
    """The chain's state from a reference path `(T, *state_shape)`."""
    return CSMCState(jnp.asarray(path))


def step(
    key: PRNGKey,
    state: CSMCState,
    model: StateSpaceModel,
    params: PyTree,
    ys: Array,
    num_particles: int,
    *,
    sampler: str = "backward",
    resampling: "str | resampling_mod.Resampler" = "systematic",
    proposal: filtering.Proposal | None = None,
) -> tuple[CSMCState, CSMCInfo]:
    """One conditional-SMC iteration: a new path given the reference `state.path`.

    The pre-0.2 order `(key, state, params, model, ...)` still works for one release, with a
    DeprecationWarning.
    """
    model, params = _deprecation.model_params("csmc.step", model, params)
    validate.one_of("sampler", sampler, SAMPLERS)
    resampler = resampling_mod.get(resampling)
    k_fwd, k_path = jax.random.split(key)
    hist = _forward(
        k_fwd,
        model,
        params,
        ys,
        num_particles,
        state.path,
        resampler=resampler,
        proposal=proposal,
        ancestor_sampling=sampler == "ancestor",
    )
    if sampler == "backward":
        path = _backward_path(k_path, model, params, hist)
    else:
        path = _ancestral_path(k_path, hist)
    moved = jnp.any((path != state.path).reshape(path.shape[0], -1), axis=1)
    info = CSMCInfo(hist.ess, hist.log_likelihood, moved, hist.degenerate)
    return CSMCState(path), info


def initial_path(
    key: PRNGKey,
    model: StateSpaceModel,
    params: PyTree,
    ys: Array,
    num_particles: int,
    *,
    resampling: "str | resampling_mod.Resampler" = "systematic",
    proposal: filtering.Proposal | None = None,
) -> Array:
    """A starting path: one unconditional filter with backward sampling (a draw from FFBS).

    Validates its arguments, then runs one compiled program (cached per model and settings).
    """
    ys, _, scheme = check_setup(
        key, model, params, ys, num_particles, proposal=proposal, resampling=resampling
    )
    config = SMCConfig(num_particles=num_particles, resampling=scheme, proposal=proposal)
    return _initial_path(key, model, params, ys, config)


def kernel(
    model: StateSpaceModel,
    ys: Array,
    num_particles: int,
    *,
    sampler: str = "backward",
    resampling: "str | resampling_mod.Resampler" = "systematic",
    proposal: filtering.Proposal | None = None,
) -> CSMCKernel:
    """`CSMCKernel(init, step)` with `step(key, state, params) -> (state, info)`.

    Validates the static choices once; the returned `step` is pure and can be jitted, vmapped
    over chains, or alternated with a parameter update in a Gibbs sweep.
    """
    if not isinstance(model, StateSpaceModel):
        raise TypeError(f"model must be a probkit.ssm.StateSpaceModel, got {type(model).__name__}")
    validate.positive_int("num_particles", num_particles, minimum=2)
    validate.one_of("sampler", sampler, SAMPLERS)
    resampler = resampling_mod.get(resampling)
    ys = validate.observations("ys", ys)
    num_steps = ys.shape[0]

    def init_fn(path):
        path = validate.finite("path", path)
        if path.ndim < 1 or path.shape[0] != num_steps:
            raise ValueError(
                f"path must have shape (T, *state_shape) with T = {num_steps} (the length of ys),"
                f" got shape {tuple(path.shape)}"
            )
        return init(path)

    def step_fn(key, state, params):
        # Shapes are known even under jit: a wrong state_shape fails here, not inside lax.scan.
        x0 = jax.eval_shape(lambda k: model.initial(params).sample(k), jax.random.key(0))
        if tuple(state.path.shape) != (num_steps, *x0.shape):
            raise ValueError(
                f"state.path must have shape {(num_steps, *x0.shape)} (T, *state_shape), got "
                f"{tuple(state.path.shape)}"
            )
        return step(
            key,
            state,
            model,
            params,
            ys,
            num_particles,
            sampler=sampler,
            resampling=resampler,
            proposal=proposal,
        )

    return CSMCKernel(init_fn, step_fn)


@partial(jax.jit, static_argnames=("model", "config", "num_iterations", "sampler", "progress_bar"))
def _csmc(key, model, params, ys, path, config, num_iterations, sampler, progress_bar):
    def body(state, k):
        state, info = step(
            k,
            state,
            model,
            params,
            ys,
            config.num_particles,
            sampler=sampler,
            resampling=config.resampling,
            proposal=config.proposal,
        )
        return state, (state.path, info)

    keys = jax.random.split(key, num_iterations)
    _, (paths, infos) = progress.scan(
        body, CSMCState(path), keys, enabled=progress_bar, label="conditional SMC"
    )
    return CSMCResult(paths, infos)


def csmc(
    key: PRNGKey,
    model: StateSpaceModel,
    params: PyTree,
    ys: Array,
    path: Array | None,
    num_particles: int,
    num_iterations: int,
    *,
    sampler: str = "backward",
    resampling: "str | resampling_mod.Resampler" = "systematic",
    proposal: filtering.Proposal | None = None,
    progress_bar: bool = False,
) -> CSMCResult:
    """Run `num_iterations` conditional-SMC iterations from `path` (a particle Gibbs chain).

    Args:
        key: PRNG key.
        model: the state-space model.
        params: its parameters (a pytree).
        ys: `(T, *obs_shape)` observations.
        path: `(T, *state_shape)` starting reference path, or None for a draw from one
            unconditional filter with backward sampling.
        num_particles: N >= 2 (the reference included).
        num_iterations: number of iterations (paths returned).
        sampler: "backward" (backward sampling) or "ancestor" (ancestor sampling).
        resampling: "systematic" (default), "stratified", "multinomial" or "residual" — each in
            its conditional form.
        proposal: optional guided proposal for the forward pass.
        progress_bar: tqdm bar driven from inside the compiled loop.

    Returns:
        `CSMCResult` with `.paths` `(num_iterations, T, *state_shape)` and stacked `.info`;
        `.to_inference_data()` exports the paths to ArviZ.

    Examples:
        >>> from probkit import ssm
        >>> model, params = ssm.linear_gaussian(F=0.9, Q=1.0, H=1.0, R=1.0, m0=0.0, P0=1.0)
        >>> _, ys = ssm.simulate(jax.random.key(0), model, params, 10)  # (T, dy)
        >>> res = smc.csmc(jax.random.key(1), model, params, ys, None, 16, 5)  # N=16, 5 sweeps
        >>> res.paths.shape, bool(res.failed)  # (num_iterations, T, dx)
        ((5, 10, 1), False)
    """
    ys, _, scheme = check_setup(
        key, model, params, ys, num_particles, proposal=proposal, resampling=resampling
    )
    validate.positive_int("num_iterations", num_iterations)
    validate.one_of("sampler", sampler, SAMPLERS)
    config = SMCConfig(num_particles=num_particles, resampling=scheme, proposal=proposal)
    if path is None:
        k_init, key = jax.random.split(key)
        path = _initial_path(k_init, model, params, ys, config)
    else:
        path = check_path("path", path, model, params, ys, key)
    return _csmc(key, model, params, ys, path, config, num_iterations, sampler, bool(progress_bar))


@partial(jax.jit, static_argnames=("model", "config"))
def _initial_path(key, model, params, ys, config):
    hist = _forward(
        key,
        model,
        params,
        ys,
        config.num_particles,
        None,
        resampler=resampling_mod.get(config.resampling),
        proposal=config.proposal,
        ancestor_sampling=False,
    )
    return _backward_path(jax.random.fold_in(key, 1), model, params, hist)


# blackjax-style access to the kernel pieces: smc.csmc.init / .step / .kernel.
csmc.init = init
csmc.step = step
csmc.kernel = kernel
csmc.initial_path = initial_path
