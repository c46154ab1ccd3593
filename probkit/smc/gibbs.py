"""Parisian particle Gibbs (PPG; Cardoso, Janati El Idrissi, Le Corff, Moulines & Olsson 2023).

PaRIS driven by conditional SMC. The chain's state is a frozen path ζ = ζ_0:T-1. Iteration ℓ:

1. run the conditional particle filter of `smc.csmc` with ζ pinned at index 0 (conditional
   resampling of the chosen scheme at every step);
2. at every t draw K backward indices J_t^{i,k} ~ Λ_t(i, ·) ∝ ω_t-1^j m(ξ_t-1^j, ξ_t^i) for
   **every** particle i — the frozen one included — and update the PaRIS statistics τ_t^i;
3. the iteration's estimate is Π^ℓ(h) = Σ_i ω_T-1^i τ_T-1^i / Ω_T-1 (all N statistics: an
   implicit Rao–Blackwellisation, not one path);
4. the next frozen path re-uses the PaRIS draws: b_T-1 ~ Cat(ω_T-1), then b_t-1 = J_t^{b_t, U_t}
   with U_t uniform on {1..K}, and ζ' = (ξ_t^{b_t})_t. No extra backward pass is needed.

The roll-out estimator averages Π^ℓ over ℓ = k0+1..k (`burn_in` = k0). One iteration costs one
PaRIS pass (O(N K T) with the hybrid backward kernel) plus O(T) for the path; the chain starts
from the trace-back of one unconditional PaRIS pass (`init`), or from a path you pass.

**Why the frozen particle's backward indices are drawn like everyone else's.** Two facts make
the scheme valid, and both need J_t^{0,k} ~ Λ_t(0, ·) i.i.d., exactly as for the other
particles — none of the frozen particle's K indices is pinned to the frozen index at t-1:

* *The path chain is particle Gibbs with backward sampling.* Given the whole particle system X
  (positions and weights at all t), the arrays J_t for different t are independent, and b_t is
  a function of b_T-1, U and J_T-1..J_t+1 only. So, given X and b_t, J_t^{b_t, U_t} has law
  Λ_t(b_t, ·): the path ζ' has exactly the conditional law of backward sampling, whatever
  particle b_t is (the frozen one included). ζ ↦ ζ' is therefore the PG-BS kernel (Whiteley
  2010; Chopin & Singh 2015 for the conditional resampling schemes), which leaves the smoothing
  distribution φ = p(x_0:T-1 | y_0:T-1) invariant and is uniformly ergodic.
* *Each Π^ℓ is unbiased at stationarity.* If ζ ~ φ, the conditional filter's particle system
  (read up to a relabelling of particles, to which Π and the law of ζ' are insensitive) has law
  ψ(X)·Ẑ(X)/Z, where ψ is the unconditional filter with the same scheme and Ẑ its likelihood
  estimate (Andrieu, Doucet & Holenstein 2010). Because the J's are drawn given X exactly as in
  unconditional PaRIS, E_φ[Π] = E_ψ[Ẑ Π]/Z, and Ẑ Π = ∏_{t<T-1}(Ω_t/N) · N⁻¹ Σ_i ω_T-1^i τ_T-1^i
  is the *unnormalised* PaRIS estimator, unbiased for Z φ(h) (induction on t with
  E[τ_t^i | ξ_t^i, past] = Σ_j Λ_t-1(i, j)(τ_t-1^j + h̃_t(ξ_t-1^j, ξ_t^i)) and unbiased
  resampling). Hence E[Π^ℓ] = φ(h) at stationarity, and the roll-out's bias is bounded by the
  chain's distance to stationarity after k0 iterations, which decays geometrically in k0.

Pinning one of the frozen particle's indices to its own past would change the law of the J's
given X, break the identity E_φ[Π] = E_ψ[Ẑ Π]/Z, and bias Π towards h(ζ) (by O(1/N) per
iteration). It would not be needed for the path either: the second fact already uses the
frozen particle's unpinned draws.
"""

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from probkit.core import accumulate, errors, progress, validate
from probkit.core import resampling as resampling_mod
from probkit.core.errors import all_finite
from probkit.core.inference_data import to_inference_data as _to_idata
from probkit.core.types import Array, PRNGKey, PyTree
from probkit.smc import _deprecation, filtering
from probkit.smc import backward as backward_mod
from probkit.smc import conditional as csmc_mod
from probkit.smc._checks import check_path, check_setup
from probkit.smc.config import SMCConfig
from probkit.smc.functional import (
    AdditiveFunctional,
    check_functional,
    evaluate_initial,
    leaf_names,
)
from probkit.smc.smoothing import centre_statistics, update_statistics
from probkit.ssm.model import StateSpaceModel

__all__ = [
    "PPGInfo",
    "PPGKernel",
    "PPGResult",
    "PPGState",
    "init",
    "kernel",
    "ppg",
    "step",
    "sweep",
]


class PPGState(NamedTuple):
    """State of a Parisian particle Gibbs chain: the frozen path.

    Attributes:
        path: (T, *state_shape) the frozen path ζ.
    """

    path: Array  # (T, *state_shape) the frozen path ζ


class PPGInfo(NamedTuple):
    """Diagnostics of one Parisian particle Gibbs iteration.

    Attributes:
        estimate: Π^ℓ(h), leaves (*h_shape).
        log_likelihood: () log Ẑ of the conditional filter (a diagnostic).
        ess: (T,) ESS of the conditional filter per step.
        backward_trials: () mean proposals per backward draw.
        backward_fallbacks: () int32 draws sent to the exact kernel.
        bound_violated: () bool, log m exceeded transition_log_bound (biased backward draws).
        degenerate: () bool, some step had no finite weight.
        nonfinite: () bool, the functional gave NaN/inf.
    """

    estimate: PyTree  # Π^ℓ(h), leaves (*h_shape)
    log_likelihood: Array  # () log Ẑ of the conditional filter (a diagnostic)
    ess: Array  # (T,)
    backward_trials: Array  # () mean proposals per backward draw
    backward_fallbacks: Array  # () int32 draws sent to the exact kernel
    bound_violated: Array  # () bool
    degenerate: Array  # () bool, some step had no finite weight
    nonfinite: Array  # () bool, the functional gave NaN/inf


class PPGResult(NamedTuple):
    """Result of `smc.ppg`: the roll-out estimate, every iterate and the final frozen path.

    Attributes:
        estimate: roll-out estimate: mean of iterates[burn_in:].
        iterates: Π^ℓ(h) for every iteration, leaves (num_iterations, *h_shape).
        path: (T, *state_shape) the final frozen path.
        paths: (num_iterations, T, *state_shape) with keep_paths=True.
        info: stacked over iterations.
        failed: () bool: degenerate weights or non-finite functional values.
        burn_in: () int32 k0: iterations left out of the roll-out estimate.
    """

    estimate: PyTree  # roll-out estimate: mean of iterates[burn_in:]
    iterates: PyTree  # Π^ℓ(h) for every iteration, leaves (num_iterations, *h_shape)
    path: Array  # (T, *state_shape) the final frozen path
    paths: Array | None  # (num_iterations, T, *state_shape) with keep_paths=True
    info: PPGInfo  # stacked over iterations
    failed: Array  # () bool: degenerate weights or non-finite functional values
    burn_in: Array  # () int32 k0: iterations left out of the roll-out estimate

    @property
    def failed_at(self) -> Array:
        """() int32: the first iteration with degenerate weights or non-finite values, -1."""
        return errors.first_failure(self.info.degenerate | self.info.nonfinite)

    def to_inference_data(self, name: str = "x"):
        """ArviZ `InferenceData`: the paths (`keep_paths=True`) and the iterates as one chain;
        the first `burn_in` iterations go to `warmup_posterior` / `warmup_sample_stats`."""
        k0 = int(self.burn_in)
        draws = {}
        if self.paths is not None:
            draws[name] = self.paths[None]
        for leaf_name, leaf in leaf_names(self.iterates, "estimate").items():
            draws[leaf_name] = leaf[None]
        stats = {"filter_log_likelihood": self.info.log_likelihood[None]}
        return _to_idata(
            {k: v[:, k0:] for k, v in draws.items()},
            sample_stats={k: v[:, k0:] for k, v in stats.items()},
            warmup_posterior={k: v[:, :k0] for k, v in draws.items()} if k0 else None,
            warmup_sample_stats={k: v[:, :k0] for k, v in stats.items()} if k0 else None,
        )


class PPGKernel(NamedTuple):
    """`init(key, params) -> PPGState`; the pure `step(key, state, params) -> (state, PPGInfo)`.

    Attributes:
        init: `init(key, params) -> PPGState`.
        step: `step(key, state, params) -> (PPGState, PPGInfo)`.
    """

    init: Callable[[PRNGKey, PyTree], PPGState]
    step: Callable[[PRNGKey, PPGState, PyTree], tuple[PPGState, PPGInfo]]


def sweep(
    key: PRNGKey,
    model: StateSpaceModel,
    params: PyTree,
    ys: Array,
    functional: AdditiveFunctional | None,
    reference: Array | None,
    config: SMCConfig,
    *,
    pinned: "bool | Array" = True,
) -> tuple[PyTree, Array, PPGInfo]:
    """One PaRIS pass, conditional on `reference` (unconditional when None or not `pinned`),
    with the particle count, schemes and proposal of `config` (`ess_threshold` is not used:
    the conditional filter resamples at every step).

    Returns `(estimate, path, info)`: Π(h) (None without a functional), the path traced back
    through the PaRIS backward draws, and the pass's diagnostics. `pinned` may be traced.
    """
    T = ys.shape[0]
    num_particles, num_backward = config.num_particles, config.num_backward
    proposal = config.proposal
    k0, k_scan, k_last, k_trace = jax.random.split(key, 4)
    ref0 = None if reference is None else reference[0]
    pf, info0 = csmc_mod.conditional_init(
        k0, model, params, ys[0], num_particles, ref0, proposal=proposal, pinned=pinned
    )
    if functional is None:
        stats, est, finite0 = None, None, jnp.ones((), bool)
    else:
        tau = evaluate_initial(functional, pf.particles, params, ys[0])
        stats, c = centre_statistics(tau, pf.log_weights)
        est, finite0 = accumulate.add(accumulate.init(c), c), all_finite(c)

    def body(carry, inp):
        st, s, e, ok = carry
        k, y, t, ref_t = inp
        k_f, k_b = jax.random.split(k)
        new, step_info = csmc_mod.conditional_step(
            k_f,
            st,
            model,
            params,
            y,
            t,
            ref_t,
            resampling=config.resampling,
            proposal=proposal,
            pinned=pinned,
        )
        s, e, J, binfo, finite = update_statistics(
            k_b,
            model,
            params,
            functional,
            s,
            e,
            st.particles,
            st.log_weights,
            new.particles,
            new.log_weights,
            y,
            t,
            num_backward=num_backward,
            backward=config.backward,
        )
        return (new, s, e, ok & finite), (new.particles, J, step_info.ess, binfo)

    keys = jax.random.split(k_scan, T - 1)
    ts = jnp.arange(1, T, dtype=jnp.int32)
    refs = None if reference is None else reference[1:]
    first = pf
    (pf, stats, est, finite), (xs, Js, ess, binfo) = jax.lax.scan(
        body, (pf, stats, est, finite0), (keys, ys[1:], ts, refs)
    )

    # Next path: b_T-1 ~ Cat(ω_T-1), b_t-1 = J_t[b_t, U_t].
    b_last = backward_mod.draw_from_rows(k_last, pf.log_weights[None], 1)[0][0, 0]
    picks = jax.random.randint(k_trace, (T - 1,), 0, num_backward)

    def trace(b, inp):
        x_t, J_t, u = inp
        return J_t[b, u], x_t[b]

    b0, path_rest = jax.lax.scan(trace, b_last, (xs, Js, picks), reverse=True)
    path = jnp.concatenate([first.particles[b0][None], path_rest], axis=0)

    estimate = None if functional is None else accumulate.value(est)
    dtype = pf.log_weights.dtype
    info = PPGInfo(
        estimate,
        accumulate.value(pf.log_likelihood),
        jnp.concatenate([info0.ess[None], ess]),
        jnp.mean(binfo.trials) if T > 1 else jnp.ones((), dtype),
        jnp.sum(binfo.fallbacks).astype(jnp.int32),
        jnp.any(binfo.bound_violated),
        pf.degenerate,
        ~finite,
    )
    return estimate, path, info


def init(
    key: PRNGKey,
    model: StateSpaceModel,
    params: PyTree,
    ys: Array,
    num_particles: int,
    *,
    num_backward: int = 2,
    backward: "str | backward_mod.BackwardKernel" = "hybrid",
    resampling: "str | resampling_mod.Resampler" = "systematic",
    proposal: filtering.Proposal | None = None,
) -> PPGState:
    """ζ[0]: the trace-back of one unconditional PaRIS pass.

    The pre-0.2 order `(key, params, model, ...)` still works for one release, with a
    DeprecationWarning.
    """
    model, params = _deprecation.model_params("ppg.init", model, params)
    config = SMCConfig(
        num_particles=num_particles,
        resampling=resampling,
        proposal=proposal,
        num_backward=num_backward,
        backward=backward,
    )
    _, path, _ = sweep(key, model, params, ys, None, None, config)
    return PPGState(path)


def step(
    key: PRNGKey,
    state: PPGState,
    model: StateSpaceModel,
    params: PyTree,
    ys: Array,
    functional: AdditiveFunctional,
    num_particles: int,
    *,
    num_backward: int = 2,
    backward: "str | backward_mod.BackwardKernel" = "hybrid",
    resampling: "str | resampling_mod.Resampler" = "systematic",
    proposal: filtering.Proposal | None = None,
) -> tuple[PPGState, PPGInfo]:
    """One PPG iteration: `(state, info)` with the iteration's estimate in `info.estimate`.

    The pre-0.2 order `(key, state, params, model, ...)` still works for one release, with a
    DeprecationWarning.
    """
    model, params = _deprecation.model_params("ppg.step", model, params)
    config = SMCConfig(
        num_particles=num_particles,
        resampling=resampling,
        proposal=proposal,
        num_backward=num_backward,
        backward=backward,
    )
    _, path, info = sweep(key, model, params, ys, functional, state.path, config)
    return PPGState(path), info


def kernel(
    model: StateSpaceModel,
    ys: Array,
    functional: AdditiveFunctional,
    num_particles: int,
    *,
    num_backward: int = 2,
    backward: "str | backward_mod.BackwardKernel" = "hybrid",
    resampling: "str | resampling_mod.Resampler" = "systematic",
    proposal: filtering.Proposal | None = None,
) -> PPGKernel:
    """`PPGKernel(init, step)`: `init(key, params)` and the pure `step(key, state, params)`.

    The static choices are validated once here; `step` can be jitted, vmapped over chains, or
    interleaved with parameter updates (that is what `smc.fit_mle` does).
    """
    if not isinstance(model, StateSpaceModel):
        raise TypeError(f"model must be a probkit.ssm.StateSpaceModel, got {type(model).__name__}")
    if not isinstance(functional, AdditiveFunctional):
        raise TypeError(
            f"functional must be a probkit.smc.AdditiveFunctional, got {type(functional).__name__}"
        )
    config = SMCConfig(
        num_particles=num_particles,
        resampling=resampling,
        proposal=proposal,
        num_backward=num_backward,
        backward=backward_mod.check(backward, model),
    )
    ys = validate.observations("ys", ys)

    def init_fn(key, params):
        return PPGState(sweep(key, model, params, ys, None, None, config)[1])

    def step_fn(key, state, params):
        _, path, info = sweep(key, model, params, ys, functional, state.path, config)
        return PPGState(path), info

    return PPGKernel(init_fn, step_fn)


@partial(
    jax.jit,
    static_argnames=(
        "model",
        "functional",
        "config",
        "num_iterations",
        "burn_in",
        "keep_paths",
        "progress_bar",
    ),
)
def _ppg(
    key,
    model,
    params,
    ys,
    functional,
    path,
    config,
    num_iterations,
    burn_in,
    keep_paths,
    progress_bar,
    conditional=True,
):
    # Without a starting path, an extra first iteration is the unconditional PaRIS pass giving
    # ζ[0]; the same compiled sweep serves it, with `pinned` false, and its estimate is dropped.
    extra = 1 if path is None else 0
    if path is None:
        shape = jax.eval_shape(lambda k: model.initial(params).sample(k), key)
        path = jnp.zeros((ys.shape[0], *shape.shape), shape.dtype)

    def body(ref, inp):
        i, k = inp
        _, new, info = sweep(
            k, model, params, ys, functional, ref, config, pinned=(i >= extra) & conditional
        )
        return new, (info, new if keep_paths else None)

    keys = jax.random.split(key, num_iterations + extra)
    steps = jnp.arange(num_iterations + extra, dtype=jnp.int32)
    last, (infos, paths) = progress.scan(
        body, path, (steps, keys), enabled=progress_bar, label="PPG"
    )
    infos = jax.tree.map(lambda v: v[extra:], infos)
    paths = None if paths is None else paths[extra:]
    estimate = jax.tree.map(lambda v: jnp.mean(v[burn_in:], axis=0), infos.estimate)
    failed = jnp.any(infos.degenerate | infos.nonfinite)
    return PPGResult(
        estimate, infos.estimate, last, paths, infos, failed, jnp.asarray(burn_in, jnp.int32)
    )


def ppg(
    key: PRNGKey,
    model: StateSpaceModel,
    params: PyTree,
    ys: Array,
    functional: AdditiveFunctional,
    num_particles: int,
    num_iterations: int,
    *,
    num_backward: int = 2,
    burn_in: int | None = None,
    backward: "str | backward_mod.BackwardKernel" = "hybrid",
    resampling: "str | resampling_mod.Resampler" = "systematic",
    proposal: filtering.Proposal | None = None,
    path: Array | None = None,
    keep_paths: bool = False,
    conditional: bool = True,
    progress_bar: bool = False,
) -> PPGResult:
    """Roll-out PPG estimate of E[h(X_0:T-1) | y_0:T-1]. See `init`/`step`/`kernel`, and the
    module docstring for why the frozen particle's backward indices are drawn unpinned.

    Args:
        key: PRNG key.
        model: the state-space model.
        params: its parameters (a pytree).
        ys: `(T, *obs_shape)` observations (NaN = missing).
        functional: an `AdditiveFunctional`.
        num_particles: N >= 2 (the frozen particle included).
        num_iterations: k >= 1 PPG iterations.
        num_backward: K >= 1 backward draws per particle.
        burn_in: k0, iterations left out of the roll-out average (default k // 10).
        backward: "hybrid" (default), "exact" or "rejection", or a `BackwardKernel`.
        resampling: the conditional resampling scheme (see `smc.csmc`).
        proposal: optional guided proposal for the forward pass.
        path: `(T, *state_shape)` starting frozen path; default: trace back one PaRIS pass.
        keep_paths: also return every iteration's path (for ArviZ; memory k·T·dx).
        conditional: False runs the same number of *independent* PaRIS passes instead (no
            frozen path): the equal-cost PaRIS baseline of the paper, from the same compiled
            program (the flag is traced, not static).
        progress_bar: tqdm bar driven from inside the compiled loop.

    Returns:
        `PPGResult` with `.estimate` (roll-out), `.iterates`, `.path`, `.info`, `.failed`.

    Examples:
        >>> from probkit import ssm
        >>> model, params = ssm.linear_gaussian(F=0.9, Q=1.0, H=1.0, R=1.0, m0=0.0, P0=1.0)
        >>> _, ys = ssm.simulate(jax.random.key(0), model, params, 10)  # (T, dy)
        >>> h = smc.AdditiveFunctional(initial=lambda x0: x0, increment=lambda xp, x, t: x)
        >>> res = smc.ppg(jax.random.key(1), model, params, ys, h, 16, 50)  # N = 16, k = 50
        >>> res.estimate.shape, res.iterates.shape, res.path.shape, bool(res.failed)
        ((1,), (50, 1), (10, 1), False)
        >>> exact = ssm.rts_smoother(params, ys).means.sum(0)
        >>> bool(jnp.abs(res.estimate - exact)[0] < 1.0)
        True
    """
    ys, kern, scheme = check_setup(
        key,
        model,
        params,
        ys,
        num_particles,
        num_backward=num_backward,
        backward=backward,
        proposal=proposal,
        resampling=resampling,
    )
    validate.positive_int("num_iterations", num_iterations)
    burn_in = num_iterations // 10 if burn_in is None else burn_in
    if (
        isinstance(burn_in, bool)
        or not isinstance(burn_in, int)
        or not 0 <= burn_in < num_iterations
    ):
        raise ValueError(
            f"burn_in must be an integer in [0, num_iterations) = [0, {num_iterations}), "
            f"got {burn_in!r}"
        )
    check_functional(functional, model, params, ys, key)
    if path is not None:
        path = check_path("path", path, model, params, ys, key)
    return _ppg(
        key,
        model,
        params,
        ys,
        functional,
        path,
        SMCConfig(
            num_particles=num_particles,
            resampling=scheme,
            proposal=proposal,
            num_backward=num_backward,
            backward=kern,
        ),
        num_iterations,
        burn_in,
        bool(keep_paths),
        bool(progress_bar),
        jnp.asarray(bool(conditional)),
    )


# blackjax-style access to the kernel pieces: smc.ppg.init / .step / .kernel.
ppg.init = init
ppg.step = step
ppg.kernel = kernel
