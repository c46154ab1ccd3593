"""Particle-based rapid incremental smoother (PaRIS; Olsson & Westerborn 2017).

Online estimate of E[h(X_0:t) | y_0:t] at every t for an additive functional
h = initial(x_0) + Σ_s increment(x_{s-1}, x_s, s) (`smc.AdditiveFunctional`). Each particle
ξ_t^i carries a statistic τ_t^i ≈ E[h(X_0:t) | X_t = ξ_t^i, y_0:t]:

    τ_0^i = initial(ξ_0^i),
    τ_t^i = K⁻¹ Σ_k [ τ_{t-1}^{J^{i,k}} + increment(ξ_{t-1}^{J^{i,k}}, ξ_t^i, t) ],
    J^{i,k} ~ Λ_{t-1}(i, ·) ∝ ω_{t-1}^j m(ξ_{t-1}^j, ξ_t^i)           (K = num_backward draws),

and the estimate at t is Σ_i ω_t^i τ_t^i / Ω_t. The forward pass is `smc.particle_filter`'s
step (bootstrap or guided, ESS-triggered resampling), so the log-likelihood comes for free.
Cost O(N K T) with the accept–reject or hybrid backward kernel, O(N² T) with the exact one;
memory O(N) — nothing is stored over time except the (T, *h_shape) online estimates.

The estimator is self-normalised, hence biased by O(1/N) (`smc.ppg` removes that bias).
K = 1 degenerates like path-space smoothing; K >= 2 keeps the variance linear in T.

Accuracy over long T: τ is stored relative to the current estimate (a compensated sum), so a
float32 run over 10^4 steps keeps the estimate's relative error near float32 resolution.
"""

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from probkit.core import accumulate, errors, progress, validate
from probkit.core import resampling as resampling_mod
from probkit.core import sharding as sharding_mod
from probkit.core.errors import all_finite
from probkit.core.types import Array, PRNGKey, PyTree
from probkit.smc import backward as backward_mod
from probkit.smc import filtering
from probkit.smc._checks import check_setup
from probkit.smc.config import SMCConfig
from probkit.smc.functional import (
    AdditiveFunctional,
    check_functional,
    evaluate_increment,
    evaluate_initial,
)
from probkit.ssm.model import StateSpaceModel

__all__ = [
    "ParisInfo",
    "ParisResult",
    "ParisState",
    "centre_statistics",
    "init",
    "paris",
    "run_unchecked",
    "step",
    "update_statistics",
    "weighted_mean",
]


class ParisState(NamedTuple):
    """State of PaRIS between steps (`paris.init` / `.step`).

    Attributes:
        filter: particles (N, *state_shape), log-weights (N,), ...
        statistics: τ_t^i minus the current estimate, leaves (N, *h_shape).
        estimate: Σ_i W_t^i τ_t^i, compensated, leaves (*h_shape).
        nonfinite: () bool: the functional gave NaN/inf at some step.
    """

    filter: filtering.ParticleFilterState  # particles (N, *state_shape), log-weights (N,), ...
    statistics: PyTree  # τ_t^i minus the current estimate, leaves (N, *h_shape)
    estimate: accumulate.Sum  # Σ_i W_t^i τ_t^i, compensated, leaves (*h_shape)
    nonfinite: Array  # () bool: the functional gave NaN/inf at some step


class ParisInfo(NamedTuple):
    """What one PaRIS step did (stacked over t in `ParisResult.info`).

    Attributes:
        ess: () ESS after reweighting.
        resampled: () bool, the particles were resampled before this step.
        log_likelihood_increment: () log p^(y_t | y_0:t-1).
        degenerate: () bool, every weight -inf/NaN at this step.
        backward_trials: () mean proposals per backward draw (1 for exact).
        backward_fallbacks: () int32 draws sent to the exact kernel.
        bound_violated: () bool, log m exceeded transition_log_bound.
        nonfinite: () bool, the estimate became NaN/inf at this step.
    """

    ess: Array  # () ESS after reweighting
    resampled: Array  # () bool
    log_likelihood_increment: Array  # ()
    degenerate: Array  # () bool, every weight -inf/NaN at this step
    backward_trials: Array  # () mean proposals per backward draw (1 for exact)
    backward_fallbacks: Array  # () int32 draws sent to the exact kernel
    bound_violated: Array  # () bool, log m exceeded transition_log_bound
    nonfinite: Array  # () bool, the estimate became NaN/inf at this step


class ParisResult(NamedTuple):
    """Result of `smc.paris`: the smoothed estimate, its online values and diagnostics.

    Attributes:
        estimate: E[h(X_0:T-1) | y_0:T-1], leaves (*h_shape).
        online: E[h(X_0:t) | y_0:t] for every t, leaves (T, *h_shape).
        log_likelihood: () log p^(y_0:T-1); -inf if the filter failed.
        info: stacked over t, leaves (T,).
        failed: () bool: degenerate weights or a non-finite functional value.
        failed_at: () int32 first failing step, -1 if none.
    """

    estimate: PyTree  # E[h(X_0:T-1) | y_0:T-1], leaves (*h_shape)
    online: PyTree  # E[h(X_0:t) | y_0:t] for every t, leaves (T, *h_shape)
    log_likelihood: Array  # () log p^(y_0:T-1); -inf if the filter failed
    info: ParisInfo  # stacked over t, leaves (T,)
    failed: Array  # () bool: degenerate weights or a non-finite functional value
    failed_at: Array  # () int32 first failing step, -1 if none


def weighted_mean(log_weights: Array, values: PyTree) -> PyTree:
    """Σ_i exp(lw_i) v_i over the leading axis (log-weights normalised)."""
    w = jnp.exp(log_weights)
    return jax.tree.map(lambda v: jnp.tensordot(w.astype(v.dtype), v, axes=(0, 0)), values)


def centre_statistics(tau: PyTree, log_weights: Array):
    """(tau - c, c) with c the weighted mean of tau (leaves (N, ...)) under log_weights (N,)."""
    c = weighted_mean(log_weights, tau)
    return jax.tree.map(lambda v, m: v - m, tau, c), c


def update_statistics(
    key: PRNGKey,
    model: StateSpaceModel,
    params: PyTree,
    functional: AdditiveFunctional | None,
    statistics: PyTree,
    estimate: accumulate.Sum,
    x_prev: Array,
    log_weights_prev: Array,
    x: Array,
    log_weights: Array,
    y: Array,
    t,
    *,
    num_backward: int,
    backward: backward_mod.BackwardKernel,
    ancestors: Array | None = None,
):
    """The PaRIS update of the statistics from time t-1 to t (shared by PaRIS and PPG).

    Returns `(statistics, estimate, J, backward_info, finite)` where `J` `(N, K)` are the
    backward indices into `x_prev`. With `functional=None` only `J` is drawn. `ancestors`
    (the forward ancestors of `x`) are the starting points of the "mcmc" backward kernel.
    """
    J, binfo = backward_mod.sample(
        key,
        backward,
        model,
        params,
        log_weights_prev,
        x_prev,
        x,
        t,
        num_backward,
        start=ancestors,
    )
    if functional is None:
        return statistics, estimate, J, binfo, jnp.ones((), bool)
    n, k = J.shape
    flat = J.reshape(-1)
    incr = evaluate_increment(
        functional, jnp.take(x_prev, flat, axis=0), jnp.repeat(x, k, axis=0), t, params, y
    )

    def new_leaf(s, inc):
        gathered = jnp.take(s, flat, axis=0) + inc.astype(s.dtype)
        return jnp.mean(gathered.reshape(n, k, *gathered.shape[1:]), axis=1)

    tau_rel = jax.tree.map(new_leaf, statistics, incr)
    statistics, c = centre_statistics(tau_rel, log_weights)
    finite = all_finite(c)
    return statistics, accumulate.add(estimate, c), J, binfo, finite


def _check_mcmc(proposal, ess_threshold) -> None:
    """The "mcmc" backward kernel is exact only when every ancestor is a Λ draw."""
    if proposal is not None:
        raise ValueError(
            "backward='mcmc' needs the bootstrap forward pass (proposal=None): with a guided "
            "proposal a particle's ancestor is not a draw from the backward kernel"
        )
    if ess_threshold < 1.0:
        raise ValueError(
            "backward='mcmc' needs resampling at every step: pass ess_threshold=1.0 (got "
            f"{ess_threshold}); without resampling a particle's ancestor is itself, not a draw "
            "from the backward kernel"
        )


def init(
    key: PRNGKey,
    model: StateSpaceModel,
    params: PyTree,
    y0: Array,
    functional: AdditiveFunctional,
    num_particles: int,
    *,
    proposal: filtering.Proposal | None = None,
    sharding: jax.sharding.NamedSharding | None = None,
) -> tuple[ParisState, ParisInfo]:
    """Particles at t = 0 (a filter `init`) and τ_0^i = functional.initial(ξ_0^i)."""
    pf_state, pf_info = filtering.init(
        key, model, params, y0, num_particles, proposal=proposal, sharding=sharding
    )
    tau = evaluate_initial(functional, pf_state.particles, params, y0)
    stats, c = centre_statistics(tau, pf_state.log_weights)
    stats = sharding_mod.constrain(stats, sharding)
    finite = all_finite(c)
    dtype = pf_state.log_weights.dtype
    state = ParisState(pf_state, stats, accumulate.add(accumulate.init(c), c), ~finite)
    info = ParisInfo(
        pf_info.ess,
        pf_info.resampled,
        pf_info.log_likelihood_increment,
        pf_info.degenerate,
        jnp.zeros((), dtype),
        jnp.zeros((), jnp.int32),
        jnp.zeros((), bool),
        ~finite,
    )
    return state, info


def step(
    key: PRNGKey,
    state: ParisState,
    model: StateSpaceModel,
    params: PyTree,
    y: Array,
    t,
    functional: AdditiveFunctional,
    *,
    num_backward: int = 2,
    backward: "str | backward_mod.BackwardKernel" = "hybrid",
    proposal: filtering.Proposal | None = None,
    resampling: "str | resampling_mod.Resampler" = "systematic",
    ess_threshold: float = 0.5,
    sharding: jax.sharding.NamedSharding | None = None,
) -> tuple[ParisState, ParisInfo]:
    """One PaRIS update at time t >= 1: a filter step, K backward draws per particle, τ update."""
    kernel = backward_mod.get(backward)
    if kernel.method == "mcmc":
        _check_mcmc(proposal, ess_threshold)
    # The filter step gets `key` itself, so the forward pass is `smc.particle_filter`'s with the
    # same key; the backward draws use an independent stream folded from it.
    k_back = jax.random.fold_in(key, 1)
    prev = state.filter
    pf_state, pf_info = filtering.step(
        key,
        prev,
        model,
        params,
        y,
        t,
        proposal=proposal,
        resampling=resampling,
        ess_threshold=ess_threshold,
        sharding=sharding,
    )
    stats, estimate, _, binfo, finite = update_statistics(
        k_back,
        model,
        params,
        functional,
        state.statistics,
        state.estimate,
        prev.particles,
        prev.log_weights,
        pf_state.particles,
        pf_state.log_weights,
        y,
        t,
        num_backward=num_backward,
        backward=kernel,
        ancestors=pf_info.ancestors if kernel.needs_ancestors else None,
    )
    stats = sharding_mod.constrain(stats, sharding)
    new_state = ParisState(pf_state, stats, estimate, state.nonfinite | ~finite)
    info = ParisInfo(
        pf_info.ess,
        pf_info.resampled,
        pf_info.log_likelihood_increment,
        pf_info.degenerate,
        binfo.trials,
        binfo.fallbacks,
        binfo.bound_violated,
        ~finite,
    )
    return new_state, info


@partial(jax.jit, static_argnames=("model", "functional", "config", "progress_bar"))
def run_unchecked(key, model, params, ys, functional, config: SMCConfig, progress_bar: bool):
    """`paris` without argument checks, its options in a validated `SMCConfig`: for callers that
    validated them once (`paris`, `fit_mle`, `fit_msc`) and may run PaRIS inside their own
    compiled loop."""
    T = ys.shape[0]
    k0, k_rest = jax.random.split(key)
    state, info0 = init(
        k0,
        model,
        params,
        ys[0],
        functional,
        config.num_particles,
        proposal=config.proposal,
        sharding=config.sharding,
    )
    estimate0 = accumulate.value(state.estimate)

    def body(st, inp):
        k, y, t = inp
        st, info = step(
            k,
            st,
            model,
            params,
            y,
            t,
            functional,
            num_backward=config.num_backward,
            backward=config.backward,
            proposal=config.proposal,
            resampling=config.resampling,
            ess_threshold=config.ess_threshold,
            sharding=config.sharding,
        )
        return st, (info, accumulate.value(st.estimate))

    keys = jax.random.split(k_rest, T - 1)
    ts = jnp.arange(1, T, dtype=jnp.int32)
    state, (infos, online) = progress.scan(
        body, state, (keys, ys[1:], ts), length=T - 1, enabled=progress_bar, label="PaRIS"
    )

    def stack(first, rest):
        return jnp.concatenate([jnp.asarray(first)[None], rest], axis=0)

    infos = jax.tree.map(stack, info0, infos)
    online = jax.tree.map(stack, estimate0, online)
    bad = infos.degenerate | infos.nonfinite
    failed, failed_at = jnp.any(bad), errors.first_failure(bad)
    ll = accumulate.value(state.filter.log_likelihood)
    ll = jnp.where(state.filter.degenerate, -jnp.inf, ll)
    estimate = jax.tree.map(lambda o: o[-1], online)
    return ParisResult(estimate, online, ll, infos, failed, failed_at)


def paris(
    key: PRNGKey,
    model: StateSpaceModel,
    params: PyTree,
    ys: Array,
    functional: AdditiveFunctional,
    num_particles: int,
    *,
    num_backward: int = 2,
    backward: "str | backward_mod.BackwardKernel" = "hybrid",
    proposal: filtering.Proposal | None = None,
    resampling: "str | resampling_mod.Resampler" = "systematic",
    ess_threshold: float = 0.5,
    sharding: jax.sharding.NamedSharding | None = None,
    progress_bar: bool = False,
) -> ParisResult:
    """Smoothed additive functional E[h(X_0:T-1) | y_0:T-1] by PaRIS, online at every t.

    Args:
        key: PRNG key.
        model: the state-space model.
        params: its parameters (a pytree).
        ys: `(T, *obs_shape)` observations (NaN = missing).
        functional: an `AdditiveFunctional`; its values may be any pytree of arrays.
        num_particles: N >= 2.
        num_backward: K >= 1 backward draws per particle (2 is the usual choice).
        backward: "hybrid" (default), "exact", "rejection", or "mcmc" (the fastest: a
            Metropolis–Hastings move from each particle's ancestor; needs ess_threshold=1.0 and
            the bootstrap filter), or a `smc.backward.BackwardKernel`.
            Accept–reject kinds need `model.transition_log_bound`.
        proposal: a `smc.Proposal` for a guided forward pass (backward draws always use m).
        resampling: resampling scheme of the forward pass.
        ess_threshold: resample when ESS < ess_threshold·N (1.0: every step).
        sharding: split the particle axis over devices (`probkit.core.sharding`).
        progress_bar: tqdm bar driven from inside the compiled loop.

    Returns:
        `ParisResult` with `.estimate`, `.online` (every t), `.log_likelihood`, per-step `.info`
        and the `.failed` flag (degenerate weights or non-finite functional values).

    Raises:
        TypeError, ValueError: naming the offending argument (e.g. `num_backward` < 1,
            `backward="rejection"` for a model without `transition_log_bound`, or a functional
            that returns NaN/inf at draws from the model).

    Examples:
        >>> from probkit import ssm
        >>> model, params = ssm.linear_gaussian(F=0.9, Q=1.0, H=1.0, R=1.0, m0=0.0, P0=1.0)
        >>> _, ys = ssm.simulate(jax.random.key(0), model, params, 10)  # (T, dy)
        >>> h = smc.AdditiveFunctional(initial=lambda x0: x0, increment=lambda xp, x, t: x)
        >>> res = smc.paris(jax.random.key(1), model, params, ys, h, 256)  # E[Σ_t X_t | y]
        >>> res.estimate.shape, res.online.shape, bool(res.failed)  # (dx,), (T, dx)
        ((1,), (10, 1), False)
        >>> exact = ssm.rts_smoother(params, ys).means.sum(0)  # Kalman/RTS answer
        >>> bool(jnp.abs(res.estimate - exact)[0] < 1.0)
        True
    """
    ys, kernel, scheme = check_setup(
        key,
        model,
        params,
        ys,
        num_particles,
        num_backward=num_backward,
        backward=backward,
        proposal=proposal,
        resampling=resampling,
        allow_mcmc=True,
    )
    ess_threshold = validate.probability("ess_threshold", ess_threshold)
    if kernel.method == "mcmc":
        _check_mcmc(proposal, ess_threshold)
    check_functional(functional, model, params, ys, key)
    config = SMCConfig(
        num_particles=num_particles,
        resampling=scheme,
        ess_threshold=ess_threshold,
        proposal=proposal,
        num_backward=num_backward,
        backward=kernel,
        sharding=sharding,
    )
    return run_unchecked(key, model, params, ys, functional, config, bool(progress_bar))


# blackjax-style access to the kernel pieces: smc.paris.init / .step.
paris.init = init
paris.step = step
