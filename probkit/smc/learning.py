"""Parameter learning with smoothed additive functionals: MLE and Markov score climbing.

`fit_mle` climbs the log-likelihood with stochastic-approximation steps whose direction is the
score by Fisher's identity,

    ∇ℓ(θ) = E_θ[ ∇ log χ_θ(X_0) g_θ(y_0|X_0) + Σ_t ∇ log m_θ(X_t-1, X_t) g_θ(y_t|X_t) | y ],

an additive functional of `jax.grad` of the log-densities (`smc.score_functional`), estimated
at the current θ by one PPG iteration (`estimator="ppg"`; the frozen path is carried from one
θ to the next, as in Cardoso et al. 2023) or by a fresh PaRIS run (`estimator="paris"`, the
baseline whose O(1/N) bias does not vanish along the iterations). Nothing is differentiated
through resampling.

`fit_msc` is Markov score climbing (Naesseth, Lindsten & Blei 2020) for a parametric Markov
proposal q_λ(x_t | x_t-1, y_t): it minimises the inclusive KL(p(x_0:T-1 | y) ‖ q_λ) with the
same loop, the functional being ∇_λ log q_λ, and q_λ drives the conditional SMC it learns from.

Updates (per observation, so learning rates do not depend on T): with the score estimate H_k,

    Robbins–Monro (default):  θ_k+1 = θ_k + step_size · k^(-decay) · H_k / T,
    any optax optimiser:      updates from the gradient −H_k / T (optax minimises).

The returned `params` is the Polyak–Ruppert average of the iterates from `average_from`
(default: the second half), `last` the final iterate, and `trace` every iterate (ArviZ export:
`to_inference_data()`).
"""

import dataclasses
import weakref
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpyro.distributions as dist

from probkit.core import errors, progress, validate
from probkit.core import resampling as resampling_mod
from probkit.core.inference_data import optimization_trace
from probkit.core.types import Array, PRNGKey, PyTree
from probkit.smc import backward as backward_mod
from probkit.smc import filtering
from probkit.smc import gibbs as ppg_mod
from probkit.smc import smoothing as paris_mod
from probkit.smc._checks import check_setup
from probkit.smc.config import SMCConfig
from probkit.smc.functional import AdditiveFunctional, leaf_names, log_prob, score_functional
from probkit.ssm.model import StateSpaceModel

__all__ = [
    "FitInfo",
    "FitResult",
    "LoopSettings",
    "ParametricProposal",
    "fit_mle",
    "fit_msc",
    "loop_settings",
    "reparametrized",
]

ESTIMATORS = ("ppg", "paris")


class FitInfo(NamedTuple):
    """Per-step diagnostics of `fit_mle` / `fit_msc` (each field has a leading `num_steps` axis).

    Attributes:
        score_norm: (num_steps,) ‖H_k‖ / T.
        log_likelihood: (num_steps,) the forward filter's log Ẑ at θ_k (PaRIS: unbiased in Ẑ; PPG:
            the conditional filter's, a diagnostic).
        degenerate: (num_steps,) bool, some step had no finite weight.
        nonfinite: (num_steps,) bool, the score was NaN/inf (the step was skipped).
    """

    score_norm: Array  # (num_steps,) ‖H_k‖ / T
    log_likelihood: Array  # (num_steps,) the forward filter's log Ẑ at θ_k (PaRIS: unbiased in
    #                        Ẑ; PPG: the conditional filter's, a diagnostic)
    degenerate: Array  # (num_steps,) bool
    nonfinite: Array  # (num_steps,) bool, the score was NaN/inf (the step was skipped)


class FitResult(NamedTuple):
    """Result of `smc.fit_mle` / `smc.fit_msc`.

    Attributes:
        params: Polyak–Ruppert average of trace[average_from:] (optimised space).
        last: the final iterate.
        model_params: parametrization(params): the model's parameters.
        trace: every iterate, leaves (num_steps, ...).
        scores: the score estimates per observation H_k / T, leaves (num_steps, ...).
        info: per-step diagnostics (`FitInfo`).
        failed: () bool, some step had degenerate weights or a non-finite score.
    """

    params: PyTree  # Polyak–Ruppert average of trace[average_from:] (optimised space)
    last: PyTree  # the final iterate
    model_params: PyTree  # parametrization(params): the model's parameters
    trace: PyTree  # every iterate, leaves (num_steps, ...)
    scores: PyTree  # the score estimates per observation H_k / T, leaves (num_steps, ...)
    info: FitInfo
    failed: Array  # () bool, some step had degenerate weights or a non-finite score

    @property
    def failed_at(self) -> Array:
        """() int32: the first step with degenerate weights or a non-finite score, -1 if none."""
        return errors.first_failure(self.info.degenerate | self.info.nonfinite)

    def to_inference_data(self):
        """ArviZ `InferenceData` with one group, `optimization_trace` (dim `iteration`): every
        iterate, the score norms and the filter log-likelihoods. The iterates of a stochastic
        optimiser are not posterior draws, so there is no `posterior` group."""
        values = dict(leaf_names(self.trace))
        values["score_norm"] = self.info.score_norm
        values["filter_log_likelihood"] = self.info.log_likelihood
        return optimization_trace(values)


# --- the shared loop ------------------------------------------------------------------------


def _tree_norm(tree):
    return jnp.sqrt(sum(jnp.sum(jnp.square(v)) for v in jax.tree.leaves(tree)))


def _is_optax(opt) -> bool:
    return hasattr(opt, "init") and hasattr(opt, "update")


class _Loop(NamedTuple):
    theta: PyTree
    opt_state: PyTree
    path: Array | None


class LoopSettings(NamedTuple):
    """The stochastic-approximation settings of `fit_mle` / `fit_msc`, validated once by
    `loop_settings` (hashable: a static `jit` argument).

    Attributes:
        num_steps: stochastic-approximation steps.
        estimator: "ppg" or "paris".
        optimizer: an optax GradientTransformation, or None for Robbins–Monro steps.
        step_size: Robbins–Monro γ_0 in γ_k = step_size · k^(-decay).
        decay: the Robbins–Monro exponent, in (0, 1].
        average_from: first iterate of the Polyak–Ruppert average.
        progress_bar: show a tqdm bar.
    """

    num_steps: int
    estimator: str  # "ppg" or "paris"
    optimizer: object  # an optax GradientTransformation, or None for Robbins–Monro steps
    step_size: float
    decay: float
    average_from: int
    progress_bar: bool


def _run(key, model, params_of, ys, functional, theta0, config: SMCConfig, loop: LoopSettings):
    """SA loop: params_of(θ) are the smoother's params; the functional's value is shaped as θ.

    PaRIS runs resample at every step (`ess_threshold` 1) whatever `config` says, as the paper's
    score estimator does.
    """
    T = ys.shape[0]
    estimator, optimizer = loop.estimator, loop.optimizer
    k_init, k_loop = jax.random.split(key)
    if estimator == "ppg":
        _, path0, _ = ppg_mod.sweep(k_init, model, params_of(theta0), ys, None, None, config)
    else:
        path0 = None
    opt_state0 = optimizer.init(theta0) if optimizer is not None else None
    paris_config = config.replace(ess_threshold=1.0, sharding=None)

    def estimate(k, theta, path):
        params = params_of(theta)
        if estimator == "ppg":
            score, path, info = ppg_mod.sweep(k, model, params, ys, functional, path, config)
            return score, path, info.log_likelihood, info.degenerate, info.nonfinite
        res = paris_mod.run_unchecked(k, model, params, ys, functional, paris_config, False)
        return (
            res.estimate,
            None,
            res.log_likelihood,
            jnp.any(res.info.degenerate),
            jnp.any(res.info.nonfinite),
        )

    def body(carry: _Loop, inp):
        i, k = inp
        score, path, ll, degenerate, nonfinite = estimate(k, carry.theta, carry.path)
        g = jax.tree.map(lambda s: s / T, score)
        ok = ~nonfinite & jnp.isfinite(_tree_norm(g))
        g = jax.tree.map(lambda v: jnp.where(ok, v, jnp.zeros_like(v)), g)
        if optimizer is None:
            gamma = loop.step_size * jnp.power(i + 1.0, -loop.decay)
            theta = jax.tree.map(lambda th, v: th + gamma * v.astype(th.dtype), carry.theta, g)
            opt_state = None
        else:
            neg = jax.tree.map(lambda v: -v, g)
            updates, opt_state = optimizer.update(neg, carry.opt_state, carry.theta)
            theta = jax.tree.map(lambda th, u: th + u.astype(th.dtype), carry.theta, updates)
        info = FitInfo(_tree_norm(g), ll, degenerate, ~ok)
        return _Loop(theta, opt_state, path), (theta, g, info)

    steps = jnp.arange(loop.num_steps, dtype=jnp.int32)
    keys = jax.random.split(k_loop, loop.num_steps)
    final, (trace, scores, infos) = progress.scan(
        body,
        _Loop(theta0, opt_state0, path0),
        (steps, keys),
        enabled=loop.progress_bar,
        label=f"fit ({estimator})",
    )
    averaged = jax.tree.map(lambda v: jnp.mean(v[loop.average_from :], axis=0), trace)
    failed = jnp.any(infos.degenerate | infos.nonfinite)
    return averaged, final.theta, trace, scores, infos, failed


def loop_settings(
    num_steps, estimator, optimizer, step_size, decay, average_from, progress_bar
) -> LoopSettings:
    """Validated `LoopSettings` (errors name the argument)."""
    num_steps = validate.positive_int("num_steps", num_steps)
    validate.one_of("estimator", estimator, ESTIMATORS)
    if optimizer is not None and not _is_optax(optimizer):
        raise TypeError(
            "optimizer must be an optax GradientTransformation (with init/update) or None for "
            f"Robbins–Monro steps, got {type(optimizer).__name__}"
        )
    step_size = validate.positive_float("step_size", step_size)
    decay = validate.probability("decay", decay, open_low=True)
    average_from = num_steps // 2 if average_from is None else average_from
    if (
        isinstance(average_from, bool)
        or not isinstance(average_from, int)
        or not (0 <= average_from < num_steps)
    ):
        raise ValueError(
            f"average_from must be an integer in [0, {num_steps}), got {average_from!r}"
        )
    return LoopSettings(
        num_steps, estimator, optimizer, step_size, decay, average_from, bool(progress_bar)
    )


def _float_tree(name, tree):
    leaves = jax.tree.leaves(tree)
    if not leaves:
        raise ValueError(f"{name} has no array leaves to optimise")
    for leaf in leaves:
        if not jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.floating):
            raise TypeError(
                f"{name} must be a pytree of float arrays, got a {jnp.asarray(leaf).dtype} leaf"
            )
    validate.finite_tree(name, tree)
    return jax.tree.map(jnp.asarray, tree)


# --- MLE --------------------------------------------------------------------------------------


_REPARAMETRIZED: "weakref.WeakKeyDictionary[StateSpaceModel, dict]" = weakref.WeakKeyDictionary()


def reparametrized(model: StateSpaceModel, parametrization: Callable | None) -> StateSpaceModel:
    """`model` on the optimised variable u, i.e. with params `parametrization(u)` (cached)."""
    if parametrization is None:
        return model
    per_model = _REPARAMETRIZED.setdefault(model, {})
    if parametrization in per_model:
        return per_model[parametrization]
    fn, bound = parametrization, model.transition_log_bound
    out = StateSpaceModel(
        initial=lambda u: model.initial(fn(u)),
        transition=lambda u, x_prev, t: model.transition(fn(u), x_prev, t),
        observation=lambda u, x, t: model.observation(fn(u), x, t),
        transition_log_bound=None if bound is None else (lambda u: bound(fn(u))),
        vectorized=model.vectorized,
        name=f"{model.name} (reparametrized)",
    )
    per_model[parametrization] = out
    return out


@partial(jax.jit, static_argnames=("model", "parametrization", "config", "loop"))
def _fit_mle(key, model, theta0, ys, parametrization, config, loop):
    model_u = reparametrized(model, parametrization)
    averaged, last, trace, scores, infos, failed = _run(
        key, model_u, lambda u: u, ys, score_functional(model_u), theta0, config, loop
    )
    model_params = averaged if parametrization is None else parametrization(averaged)
    return FitResult(averaged, last, model_params, trace, scores, infos, failed)


def fit_mle(
    key: PRNGKey,
    model: StateSpaceModel,
    params0: PyTree,
    ys: Array,
    *,
    num_particles: int = 100,
    num_steps: int = 500,
    estimator: str = "ppg",
    num_backward: int = 2,
    backward: "str | backward_mod.BackwardKernel" = "hybrid",
    resampling: "str | resampling_mod.Resampler" = "systematic",
    proposal: filtering.Proposal | None = None,
    optimizer=None,
    step_size: float = 0.1,
    decay: float = 0.5,
    parametrization: Callable[[PyTree], PyTree] | None = None,
    average_from: int | None = None,
    progress_bar: bool = False,
) -> FitResult:
    """Maximum-likelihood parameters by stochastic approximation with PPG (or PaRIS) scores.

    Args:
        key: PRNG key.
        model: the state-space model.
        params0: starting point of the optimised variable: the model's params, or u with
            `parametrization(u)` the model's params (e.g. log-scales). A pytree of floats.
        ys: `(T, *obs_shape)` observations (NaN = missing).
        num_particles: N per PPG iteration / PaRIS run.
        num_steps: stochastic-approximation steps (one PPG iteration or PaRIS run each).
        estimator: "ppg" (the frozen path carried across steps) or "paris" (fresh each step).
        num_backward: K backward draws per particle, as in `smc.ppg` / `smc.paris`.
        backward: the backward kernel, as in `smc.ppg`.
        resampling: the resampling scheme (conditional for PPG), as in `smc.ppg`.
        proposal: an optional guided proposal for the forward pass.
        optimizer (optax.GradientTransformation | None): an optax optimiser; None for
            Robbins–Monro steps.
        step_size: Robbins–Monro γ_0 in γ_k = step_size · k^(-decay) (ignored with optax).
        decay: the Robbins–Monro exponent, in (0, 1] (0.5 in the paper's theory).
        parametrization: u ↦ model params; gradients are taken with respect to u.
        average_from: first iterate of the Polyak–Ruppert average (default num_steps // 2).
        progress_bar: tqdm bar driven from inside the compiled loop.

    Returns:
        `FitResult` (`.params`, `.last`, `.model_params`, `.trace`, `.scores`, `.info`).

    Examples:
        >>> from probkit import ssm
        >>> model, params = ssm.linear_gaussian(F=0.9, Q=1.0, H=1.0, R=1.0, m0=0.0, P0=1.0)
        >>> _, ys = ssm.simulate(jax.random.key(0), model, params, 10)  # (T, dy)
        >>> to_params = lambda u: params._replace(F=u["rho"] * jnp.eye(1))  # learn F only
        >>> fit = smc.fit_mle(
        ...     jax.random.key(1), model, {"rho": jnp.array(0.5)}, ys, num_particles=16,
        ...     num_steps=20, parametrization=to_params,
        ... )
        >>> fit.trace["rho"].shape, fit.model_params.F.shape, bool(fit.failed)
        ((20,), (1, 1), False)
    """
    theta0 = _float_tree("params0", params0)
    validate.callable_("parametrization", parametrization, allow_none=True)
    model_params0 = theta0 if parametrization is None else parametrization(theta0)
    ys, kern, scheme = check_setup(
        key,
        model,
        model_params0,
        ys,
        num_particles,
        num_backward=num_backward,
        backward=backward,
        proposal=proposal,
        resampling=resampling,
    )
    loop = loop_settings(
        num_steps, estimator, optimizer, step_size, decay, average_from, progress_bar
    )
    config = SMCConfig(
        num_particles=num_particles,
        resampling=scheme,
        proposal=proposal,
        num_backward=num_backward,
        backward=kern,
    )
    return _fit_mle(key, model, theta0, ys, parametrization, config, loop)


# --- Markov score climbing ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class ParametricProposal:
    """A Markov proposal q_λ for `fit_msc`, as numpyro distributions for one particle.

    Attributes:
        initial: `(lam, params, y0) -> Distribution` of x_0.
        transition: `(lam, params, x_prev, y, t) -> Distribution` of x_t.
    """

    initial: Callable[[PyTree, PyTree, Array], dist.Distribution]
    transition: Callable[[PyTree, PyTree, Array, Array, Array], dist.Distribution]

    def __post_init__(self):
        if not callable(self.initial) or not callable(self.transition):
            raise TypeError("ParametricProposal.initial and .transition must be callable")


class _Combined(NamedTuple):
    model: StateSpaceModel
    proposal: filtering.Proposal
    functional: AdditiveFunctional


_COMBINED: "weakref.WeakKeyDictionary[StateSpaceModel, dict]" = weakref.WeakKeyDictionary()


def _combined(model: StateSpaceModel, q: ParametricProposal) -> _Combined:
    """The model and proposal on params (θ, λ), and the functional ∇_λ log q_λ (cached)."""
    per_model = _COMBINED.setdefault(model, {})
    if q in per_model:
        return per_model[q]
    bound = model.transition_log_bound
    wrapped = StateSpaceModel(
        initial=lambda p: model.initial(p[0]),
        transition=lambda p, x_prev, t: model.transition(p[0], x_prev, t),
        observation=lambda p, x, t: model.observation(p[0], x, t),
        transition_log_bound=None if bound is None else (lambda p: bound(p[0])),
        vectorized=model.vectorized,
        name=f"{model.name} with proposal parameters",
    )
    proposal = filtering.Proposal(
        initial=lambda p, y0: q.initial(p[1], p[0], y0),
        transition=lambda p, x_prev, y, t: q.transition(p[1], p[0], x_prev, y, t),
    )

    # Forward mode, as in `smc.score_functional`: parameter-only work is differentiated once.
    def initial(x0, ctx):
        theta, lam = ctx.params
        return jax.jacfwd(lambda l: log_prob(q.initial(l, theta, ctx.y), x0))(lam)

    def increment(x_prev, x, t, ctx):
        theta, lam = ctx.params
        return jax.jacfwd(lambda l: log_prob(q.transition(l, theta, x_prev, ctx.y, t), x))(lam)

    functional = AdditiveFunctional(
        initial, increment, with_context=True, name="score of the proposal (MSC)"
    )
    out = _Combined(wrapped, proposal, functional)
    per_model[q] = out
    return out


@partial(jax.jit, static_argnames=("model", "proposal", "config", "loop"))
def _fit_msc(key, model, params, proposal, lam0, ys, config, loop):
    comb = _combined(model, proposal)
    config = config.replace(proposal=comb.proposal)
    averaged, last, trace, scores, infos, failed = _run(
        key, comb.model, lambda lam: (params, lam), ys, comb.functional, lam0, config, loop
    )
    return FitResult(averaged, last, averaged, trace, scores, infos, failed)


def fit_msc(
    key: PRNGKey,
    model: StateSpaceModel,
    params: PyTree,
    ys: Array,
    proposal: ParametricProposal,
    proposal_params0: PyTree,
    *,
    num_particles: int = 100,
    num_steps: int = 500,
    estimator: str = "ppg",
    num_backward: int = 2,
    backward: "str | backward_mod.BackwardKernel" = "hybrid",
    resampling: "str | resampling_mod.Resampler" = "systematic",
    optimizer=None,
    step_size: float = 0.1,
    decay: float = 0.5,
    average_from: int | None = None,
    progress_bar: bool = False,
) -> FitResult:
    """Markov score climbing: λ minimising KL(p(x_0:T-1 | y) ‖ q_λ), with q_λ driving the CSMC.

    The score E_p[∇_λ log q_λ(X_0:T-1)] is the additive functional ∇_λ log q_λ(x_0 | y_0) +
    Σ_t ∇_λ log q_λ(x_t | x_t-1, y_t), estimated by PPG whose forward pass uses q_λ (so the
    sampler improves as λ does). `estimator="paris"` gives the biased baseline. Arguments and
    result as in `fit_mle`, with `proposal_params0` the starting λ; `params` stay fixed.

    Examples:
        >>> import numpyro.distributions as dist
        >>> from probkit import ssm
        >>> model, params = ssm.linear_gaussian(F=0.9, Q=1.0, H=1.0, R=1.0, m0=0.0, P0=1.0)
        >>> _, ys = ssm.simulate(jax.random.key(0), model, params, 10)  # (T, dy)
        >>> q = smc.ParametricProposal(  # q_0 = N(m0, 1), q_t = N(a x_t-1 + b y_t, 1)
        ...     initial=lambda lam, p, y0: dist.Normal(lam["m0"], 1.0).expand([1]).to_event(1),
        ...     transition=lambda lam, p, x_prev, y, t: dist.Normal(
        ...         lam["a"] * x_prev + lam["b"] * y, 1.0).to_event(1),
        ... )
        >>> lam0 = {"m0": jnp.array(0.0), "a": jnp.array(0.5), "b": jnp.array(0.5)}
        >>> fit = smc.fit_msc(
        ...     jax.random.key(1), model, params, ys, q, lam0, num_particles=16, num_steps=20
        ... )
        >>> fit.trace["a"].shape, bool(fit.failed)
        ((20,), False)
    """
    if not isinstance(proposal, ParametricProposal):
        raise TypeError(
            f"proposal must be a probkit.smc.ParametricProposal, got {type(proposal).__name__}"
        )
    lam0 = _float_tree("proposal_params0", proposal_params0)
    ys, kern, scheme = check_setup(
        key,
        model,
        params,
        ys,
        num_particles,
        num_backward=num_backward,
        backward=backward,
        resampling=resampling,
    )
    loop = loop_settings(
        num_steps, estimator, optimizer, step_size, decay, average_from, progress_bar
    )
    config = SMCConfig(
        num_particles=num_particles, resampling=scheme, num_backward=num_backward, backward=kern
    )
    return _fit_msc(key, model, params, proposal, lam0, ys, config, loop)
