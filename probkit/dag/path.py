"""Path-following solver shared by CoLiDE (EV, NV) and DAGMA (l2), entirely on device.

For stages k = 0..T-1 it minimises, from the previous stage's solution,

    F_k(W, sigma) = mu_k [ S(W, sigma) + lambda1 ||W||_1 ] + h(W, s_k),

with mu_k = mu_init * mu_factor^k, h the log-det acyclicity function (`probkit.dag.acyclicity`)
and S the score (`probkit.dag.scores`). Each iteration is one Adam step on W (lr, betas; bias
corrected) followed by the closed-form noise update (block coordinate descent, as in CoLiDE;
for l2 there is no sigma). Every `checkpoint` iterations the objective is recorded and the
stage stops when its relative change since the previous checkpoint is <= tol (the change is
computed from differences, see `_objective_change`), or after `warm_iter` iterations
(`max_iter` in the last stage).

The iterate must stay in the M-matrix domain rho(W∘W) < s_k. The rules of the reference code:

- if the stage's starting point is outside the domain, or an Adam step leaves it while
  s_k <= 0.9: restart the stage from its starting point with s_k + 0.1 and half the learning
  rate (both cumulative over restarts of the stage);
- otherwise (s_k > 0.9): undo the step and retry it with half the learning rate (kept for the
  rest of the stage); if the rate falls below 1e-16 the stage ends at the current point.

After every accepted step the iterate is certified inside the domain (`acyclicity`), so the
returned W always satisfies rho(W∘W) < s of the last stage.

Layout of the compiled program: a `while_loop` over chunks of `checkpoint` iterations; inside,
a `while_loop` of single iterations that stops early when the stage ends or must restart; at a
chunk end, the convergence check and the stage transitions are elementwise selects. Nothing
returns to Python between iterations, and under `vmap` (many datasets or many lambda1 in one
call) each problem keeps its own stage, step size and restart count.

`init`, `step` and `advance` are the pure pieces; `run` is the loop.

Status codes of `PathState.status` (int32): `RUNNING` 0, `STAGE_DONE` 1, `RESTART` 2,
`FINISHED` 3, `FAILED` 4, `BEGIN` 5 (stage 0 not started yet; `advance` starts it). Why a stage
stopped (`PathState.stop`, `PathInfo.stop_reason`): `STOP_NONE` -1 (running),
`STOP_CONVERGED` 0, `STOP_MAX_ITER` 1, `STOP_LR_UNDERFLOW` 2.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from probkit.core.types import Array
from probkit.dag import acyclicity, scores

__all__ = [
    "FAILED",
    "FINISHED",
    "RESTART",
    "RUNNING",
    "STAGE_DONE",
    "STOP_CONVERGED",
    "STOP_LR_UNDERFLOW",
    "STOP_MAX_ITER",
    "Hyperparameters",
    "PathConfig",
    "PathInfo",
    "PathState",
    "Problem",
    "StepInfo",
    "advance",
    "info",
    "init",
    "objective",
    "objective_grad",
    "run",
    "schedule",
    "step",
]

# status codes (BEGIN: stage 0 not started yet; `advance` starts it)
RUNNING, STAGE_DONE, RESTART, FINISHED, FAILED, BEGIN = 0, 1, 2, 3, 4, 5
# why a stage stopped
STOP_NONE, STOP_CONVERGED, STOP_MAX_ITER, STOP_LR_UNDERFLOW = -1, 0, 1, 2

# s <= 0.9 decides between restarting and backtracking; the tolerance makes 0.8 + 0.1 count as
# 0.9 in every float precision (the float64 reference code gets 0.9000000000000001 there).
_S_RESTART = 0.9 + 1e-6
_LR_FLOOR = 1e-16
_ADAM_EPS = 1e-8


class PathConfig(NamedTuple):
    """Static configuration: array shapes only (one compiled program per value).

    Everything else (variant, budgets, schedule) is data, so one program serves CoLiDE-EV,
    CoLiDE-NV and DAGMA at any budgets with the same `trace_length`.

    Attributes:
        num_stages: T, the number of stages of the mu schedule.
        trace_length: K >= ceil(max(warm_iter, max_iter) / checkpoint).
        max_restarts: per stage; beyond it the fit is flagged failed.
    """

    num_stages: int = 5  # T
    trace_length: int = 60  # K >= ceil(max(warm_iter, max_iter) / checkpoint)
    max_restarts: int = 30  # per stage; beyond it the fit is flagged failed


class Problem(NamedTuple):
    """One learning problem (a pytree; batch it with `vmap`).

    Attributes:
        variant: () int32 score code: 0 l2 (DAGMA), 1 ev, 2 nv (`scores.variant_code`).
        cov: (d, d) X^T X / n of centred data.
        lambda1: () l1 weight.
        free: (d, d) bool, entries of W that may be nonzero.
        penalized: (d, d) float 0/1, entries carrying the l1 penalty (free, not required).
        sigma_min: (d,) lower bound on the noise scale(s).
        sigma_init: (d,) initial noise scale(s).
    """

    variant: Array  # () int32 score code: 0 l2 (DAGMA), 1 ev, 2 nv (`scores.variant_code`)
    cov: Array  # (d, d) X^T X / n of centred data
    lambda1: Array  # () l1 weight
    free: Array  # (d, d) bool, entries of W that may be nonzero
    penalized: Array  # (d, d) float 0/1, entries carrying the l1 penalty (free, not required)
    sigma_min: Array  # (d,) lower bound on the noise scale(s)
    sigma_init: Array  # (d,) initial noise scale(s)


class Hyperparameters(NamedTuple):
    """Numbers of the schedule (traced: changing them does not recompile).

    Attributes:
        mu: (T,) mu_k.
        s: (T,) s_k.
        lr: () Adam learning rate at the start of each stage.
        beta1: () Adam first-moment decay.
        beta2: () Adam second-moment decay.
        tol: () relative objective change that ends a stage.
        warm_iter: () int32 iteration budget of stages 0..T-2.
        max_iter: () int32 iteration budget of the last stage.
        checkpoint: () int32 iterations between convergence checks.
        inverse_tol: () residual tolerance of the maintained inverse (see `acyclicity`).
        patience: () int32, in the last stage: checkpoints of unchanged support that end it
            (0: off, the `dagma` package's rule alone).
        support_threshold: () |W| above which an entry counts as an edge for `patience`.
    """

    mu: Array  # (T,) mu_k
    s: Array  # (T,) s_k
    lr: Array  # () Adam learning rate at the start of each stage
    beta1: Array  # ()
    beta2: Array  # ()
    tol: Array  # () relative objective change that ends a stage
    warm_iter: Array  # () int32 iteration budget of stages 0..T-2
    max_iter: Array  # () int32 iteration budget of the last stage
    checkpoint: Array  # () int32 iterations between convergence checks
    inverse_tol: Array  # () residual tolerance of the maintained inverse (see `acyclicity`)
    patience: Array  # () int32 last stage: checkpoints of unchanged support that end it (0 off)
    support_threshold: Array  # () |W| above which an entry counts as an edge for `patience`


class PathState(NamedTuple):
    """Carry of the path-following loop (internal; exposed for the engine's tests and tools).

    Attributes:
        W: (d, d) iterate.
        sigma: (d,) noise scale(s) at W (all equal for EV, ones for l2).
        G: (d, d) cov (I - W), shared by the gradient and the sigma update.
        M: (d, d) (s I - W∘W)^{-1}, certified.
        adam_m: (d, d) Adam first moment.
        adam_v: (d, d) Adam second moment.
        it: () int32, iterations taken in this stage attempt.
        lr: () current learning rate.
        stage: () int32 current stage.
        s: () s of this stage (raised by restarts).
        stage_lr: () learning rate this attempt started with.
        W_start: (d, d) point the stage (re)starts from.
        sigma_start: (d,) noise scale(s) the stage (re)starts from.
        obj_prev: () objective at the previous checkpoint (1e16 before the first).
        W_check: (d, d) W at the previous checkpoint (stage start before the first).
        G_check: (d, d) cov (I - W_check).
        sigma_check: (d,) noise scale(s) at the previous checkpoint.
        gradh_check: (d, d) grad h at W_check.
        status: () int32 RUNNING / STAGE_DONE / RESTART / FINISHED / FAILED.
        stop: () int32 why the current stage stopped (STOP_*).
        trace: (T, K) objective at each checkpoint of each stage (NaN = none).
        stage_iters: (T,) int32 iterations of each stage's final attempt.
        stage_restarts: (T,) int32 restarts of each stage.
        stage_s: (T,) s each stage ended with.
        stage_stop: (T,) int32 STOP_* of each stage.
        total_iters: () int32, all iterations including restarted attempts.
        rebuilds: () int32, iterations where the inverse was rebuilt from scratch.
        support_stopped: () bool, the last stage ended on `patience`.
        support: (d, d) bool, {|W| > support_threshold} at the previous checkpoint.
        stable: () int32, consecutive checkpoints of the last stage with that support.
    """

    W: Array  # (d, d) iterate
    sigma: Array  # (d,) noise scale(s) at W (all equal for EV, ones for l2)
    G: Array  # (d, d) cov (I - W), shared by the gradient and the sigma update
    M: Array  # (d, d) (s I - W∘W)^{-1}, certified
    adam_m: Array  # (d, d)
    adam_v: Array  # (d, d)
    it: Array  # () int32, iterations taken in this stage attempt
    lr: Array  # () current learning rate
    stage: Array  # () int32
    s: Array  # () s of this stage (raised by restarts)
    stage_lr: Array  # () learning rate this attempt started with
    W_start: Array  # (d, d) point the stage (re)starts from
    sigma_start: Array  # (d,)
    obj_prev: Array  # () objective at the previous checkpoint (1e16 before the first)
    W_check: Array  # (d, d) W at the previous checkpoint (stage start before the first)
    G_check: Array  # (d, d) cov (I - W_check)
    sigma_check: Array  # (d,)
    gradh_check: Array  # (d, d) grad h at W_check
    status: Array  # () int32 RUNNING / STAGE_DONE / RESTART / FINISHED / FAILED
    stop: Array  # () int32 why the current stage stopped (STOP_*)
    trace: Array  # (T, K) objective at each checkpoint of each stage (NaN = none)
    stage_iters: Array  # (T,) int32 iterations of each stage's final attempt
    stage_restarts: Array  # (T,) int32
    stage_s: Array  # (T,) s each stage ended with
    stage_stop: Array  # (T,) int32 STOP_* of each stage
    total_iters: Array  # () int32, all iterations including restarted attempts
    rebuilds: Array  # () int32, iterations where the inverse was rebuilt from scratch
    support_stopped: Array  # () bool, the last stage ended on `patience`
    support: Array  # (d, d) bool, {|W| > support_threshold} at the previous checkpoint
    stable: Array  # () int32, consecutive checkpoints of the last stage with that support


class StepInfo(NamedTuple):
    """What one Adam step of the path-following engine did.

    Attributes:
        accepted: () bool, the step stayed in the domain (after any backtracking).
        halvings: () int32, learning-rate halvings of this step.
        rebuilt: () bool, the inverse had to be rebuilt.
    """

    accepted: Array  # () bool, the step stayed in the domain (after any backtracking)
    halvings: Array  # () int32, learning-rate halvings of this step
    rebuilt: Array  # () bool, the inverse had to be rebuilt


class PathInfo(NamedTuple):
    """Per-stage diagnostics of one path-following run.

    Attributes:
        iterations: (T,) int32 per stage (final attempt).
        restarts: (T,) int32 per stage.
        s: (T,) final s per stage.
        stop_reason: (T,) int32: 0 converged (tol, or in the last stage `patience`
            checkpoints of unchanged support), 1 iteration budget, 2 lr < 1e-16.
        total_iterations: () int32, including restarted attempts.
        rebuilds: () int32, inverse rebuilt from scratch (diagnostic).
        support_stop: () bool, the last stage ended on an unchanged support (`patience`).
        failed: () bool, more than max_restarts restarts in a stage (or, from `colide` / `dagma`,
            non-finite numbers).
    """

    iterations: Array  # (T,) int32 per stage (final attempt)
    restarts: Array  # (T,) int32 per stage
    s: Array  # (T,) final s per stage
    stop_reason: Array  # (T,) int32: 0 converged (tol, or in the last stage `patience`
    #                     checkpoints of unchanged support), 1 iteration budget, 2 lr < 1e-16
    total_iterations: Array  # () int32, including restarted attempts
    rebuilds: Array  # () int32, inverse rebuilt from scratch (diagnostic)
    support_stop: Array  # () bool, the last stage ended on an unchanged support (`patience`)
    failed: Array  # () bool, more than max_restarts restarts in a stage (or, from `colide` /
    #                `dagma`, non-finite numbers)


def objective(W: Array, sigma: Array, problem: Problem, mu: Array, s: Array) -> Array:
    """F(W, sigma) = mu [S(W, sigma) + lambda1 |W|_1 (penalised entries)] + h(W, s)."""
    _, r = scores.residual_moments(W, problem.cov)
    h = acyclicity.log_det_acyclicity_value(W, s)
    l1 = jnp.sum(jnp.abs(W) * problem.penalized)
    return mu * (scores.score_from_moments(problem.variant, r, sigma) + problem.lambda1 * l1) + h


def objective_grad(
    W: Array, sigma: Array, G: Array, M: Array, problem: Problem, mu: Array
) -> Array:
    """Gradient in W of `objective`, with G = cov (I - W) and M = (s I - W∘W)^{-1} given.

    mu [-G diag(1/sigma) + lambda1 sign(W)] + 2 W ∘ M^T, zero on entries that are not free
    (sign(0) = 0 is the subgradient the reference code uses). For l2, sigma = 1.
    """
    grad = mu * (-G / sigma[None, :] + problem.lambda1 * problem.penalized * jnp.sign(W))
    return jnp.where(problem.free, grad + 2.0 * W * M.T, 0.0)


def _objective_change(state: PathState, problem: Problem, mu: Array) -> Array:
    """F(W) - F(W_check) computed from differences, accurate to O(|W - W_check|) rounding.

    Evaluating F twice and subtracting loses the 1e-6 relative tolerance to rounding in
    float32 when cov has large entries (the residual variances are small differences of large
    numbers). Here the score change is exact algebra on cov (I - W):
    r_j - r_check_j = -sum_k dW_kj (G + G_check)_kj, the l1 change is elementwise, and the
    change of h (same s within a stage) is the trapezoid rule along dW, whose O(|dW|^3) error
    is far below the tolerance once the stage is near convergence.
    """
    dW = state.W - state.W_check
    dr = -jnp.sum(dW * (state.G + state.G_check), axis=-2)
    # Also right for l2, where sigma = sigma_check = 1.
    D_check = jnp.eye(dW.shape[-1], dtype=dW.dtype) - state.W_check
    r_check = jnp.sum(D_check * state.G_check, axis=-2)
    sig, sig_c = state.sigma, state.sigma_check
    dscore = 0.5 * jnp.sum(dr / sig + r_check * (1.0 / sig - 1.0 / sig_c) + (sig - sig_c))
    dl1 = jnp.sum(problem.penalized * (jnp.abs(state.W) - jnp.abs(state.W_check)))
    dh = 0.5 * jnp.sum((2.0 * state.W * state.M.T + state.gradh_check) * dW)
    return mu * (dscore + problem.lambda1 * dl1) + dh


def _stage_budget(hyper: Hyperparameters, config: PathConfig, stage):
    return jnp.where(stage == config.num_stages - 1, hyper.max_iter, hyper.warm_iter)


def _begin_stage(
    state: PathState,
    problem: Problem,
    hyper: Hyperparameters,
    config: PathConfig,
    stage,
    W0,
    sigma0,
    s,
    lr,
    restarts,
) -> PathState:
    """Fresh attempt of `stage` from (W0, sigma0); raises s / halves lr while W0 is outside."""
    dtype = W0.dtype
    A0 = W0 * W0

    def again(c):
        _, _, n, inv, first = c
        return first | (~inv.ok & (n <= config.max_restarts))

    def attempt(c):
        s, lr, n, _, first = c
        s = jnp.where(first, s, s + 0.1)
        lr = jnp.where(first, lr, 0.5 * lr)
        n = jnp.where(first, n, n + 1)
        return s, lr, n, acyclicity.neumann_inverse(A0, s, hyper.inverse_tol), jnp.zeros((), bool)

    placeholder = acyclicity.DomainInverse(A0, jnp.zeros((), bool), jnp.zeros((), bool))
    s, lr, restarts, inv, _ = jax.lax.while_loop(
        again, attempt, (s, lr, restarts, placeholder, jnp.ones((), bool))
    )
    G, _ = scores.residual_moments(W0, problem.cov)
    zeros = jnp.zeros_like(W0)
    return state._replace(
        W=W0,
        sigma=sigma0,
        G=G,
        M=inv.inverse,
        support=jnp.abs(W0) > hyper.support_threshold,
        stable=jnp.zeros((), jnp.int32),
        adam_m=zeros,
        adam_v=zeros,
        it=jnp.zeros((), jnp.int32),
        lr=lr,
        stage=stage,
        s=s,
        stage_lr=lr,
        W_start=W0,
        sigma_start=sigma0,
        obj_prev=jnp.asarray(1e16, dtype),
        W_check=W0,
        G_check=G,
        sigma_check=sigma0,
        gradh_check=2.0 * W0 * inv.inverse.T,
        status=jnp.where(inv.ok, RUNNING, FAILED).astype(jnp.int32),
        stop=jnp.asarray(STOP_NONE, jnp.int32),
        trace=state.trace.at[stage].set(jnp.nan),
        stage_restarts=state.stage_restarts.at[stage].set(restarts),
        stage_s=state.stage_s.at[stage].set(s),
    )


def _pending(problem: Problem, hyper: Hyperparameters, config: PathConfig) -> PathState:
    """State before stage 0 (status BEGIN): W = 0, sigma = `problem.sigma_init`."""
    d = problem.cov.shape[-1]
    dtype = problem.cov.dtype
    T, K = config.num_stages, config.trace_length
    W0 = jnp.zeros((d, d), dtype)
    zero_i = jnp.zeros((), jnp.int32)
    return PathState(
        W=W0,
        sigma=problem.sigma_init,
        G=problem.cov,
        M=jnp.eye(d, dtype=dtype),
        adam_m=W0,
        adam_v=W0,
        it=zero_i,
        lr=hyper.lr,
        stage=zero_i,
        s=hyper.s[0],
        stage_lr=hyper.lr,
        W_start=W0,
        sigma_start=problem.sigma_init,
        obj_prev=jnp.asarray(1e16, dtype),
        W_check=W0,
        G_check=problem.cov,
        sigma_check=problem.sigma_init,
        gradh_check=W0,
        status=jnp.asarray(BEGIN, jnp.int32),
        stop=jnp.asarray(STOP_NONE, jnp.int32),
        trace=jnp.full((T, K), jnp.nan, dtype),
        stage_iters=jnp.zeros((T,), jnp.int32),
        stage_restarts=jnp.zeros((T,), jnp.int32),
        stage_s=hyper.s.astype(dtype),
        stage_stop=jnp.full((T,), STOP_NONE, jnp.int32),
        total_iters=zero_i,
        rebuilds=zero_i,
        support_stopped=jnp.zeros((), bool),
        support=jnp.zeros((d, d), bool),
        stable=zero_i,
    )


def init(problem: Problem, hyper: Hyperparameters, config: PathConfig) -> PathState:
    """State at the start of stage 0 (W = 0, sigma = `problem.sigma_init`), ready for `step`."""
    return advance(_pending(problem, hyper, config), problem, hyper, config)


def step(
    state: PathState, problem: Problem, hyper: Hyperparameters, config: PathConfig
) -> tuple[PathState, StepInfo]:
    """One Adam step on W, the domain rules, then the closed-form noise update.

    Expects `state.status == RUNNING`; sets it to RESTART or STAGE_DONE when a rule says so
    (W is then left at the last point inside the domain).
    """
    W, M = state.W, state.M
    grad = objective_grad(W, state.sigma, state.G, M, problem, hyper.mu[state.stage])
    it = state.it + 1
    t = it.astype(W.dtype)
    adam_m = hyper.beta1 * state.adam_m + (1 - hyper.beta1) * grad
    adam_v = hyper.beta2 * state.adam_v + (1 - hyper.beta2) * grad * grad
    direction = (adam_m / (1 - hyper.beta1**t)) / (
        jnp.sqrt(adam_v / (1 - hyper.beta2**t)) + _ADAM_EPS
    )

    backtrack = state.s > _S_RESTART
    W_new = W - state.lr * direction
    inv = acyclicity.refresh_inverse(W_new * W_new, state.s, M, hyper.inverse_tol)

    def again(c):
        lr, _, inv, _ = c
        return ~inv.ok & backtrack & (lr > _LR_FLOOR)

    def retry(c):
        lr, _, _, n = c
        lr = 0.5 * lr
        W_try = W - lr * direction
        inv = acyclicity.refresh_inverse(W_try * W_try, state.s, M, hyper.inverse_tol)
        return lr, W_try, inv, n + 1

    lr, W_new, inv, halvings = jax.lax.while_loop(
        again, retry, (state.lr, W_new, inv, jnp.zeros((), jnp.int32))
    )
    accepted = inv.ok
    underflow = ~accepted & backtrack
    status = jnp.where(accepted, RUNNING, jnp.where(underflow, STAGE_DONE, RESTART))
    W_out = jnp.where(accepted, W_new, W)
    G, r = scores.residual_moments(W_out, problem.cov)
    sigma = scores.noise_update(problem.variant, r, problem.sigma_min)
    new = state._replace(
        W=W_out,
        sigma=sigma,
        G=G,
        M=jnp.where(accepted, inv.inverse, M),
        adam_m=adam_m,
        adam_v=adam_v,
        it=it,
        lr=lr,
        status=status.astype(jnp.int32),
        stop=jnp.where(underflow, STOP_LR_UNDERFLOW, state.stop).astype(jnp.int32),
        total_iters=state.total_iters + 1,
        rebuilds=state.rebuilds + inv.rebuilt,
    )
    return new, StepInfo(accepted, halvings, inv.rebuilt)


def _fast_steps(state: PathState, problem: Problem, hyper: Hyperparameters, end) -> PathState:
    """`step` repeated while its common case holds, as a loop without nested control flow.

    The common case: the step stays in the domain and one Newton–Schulz step refreshes the
    inverse (`acyclicity.refresh_inverse_fast`). The loop stops *before* committing a step
    that is not the common case (the caller then runs the general `step`), or at `end`.
    Nested `while_loop`s in a loop body cost more than the O(d^3) arithmetic on CPU at
    d <= 100, so this loop is where the iterations run.
    """
    mu = hyper.mu[state.stage]
    b1, b2, lr, s = hyper.beta1, hyper.beta2, state.lr, state.s

    def cond(c):
        return c[-1] & (c[-2] < end)

    def body(c):
        W, sigma, G, M, m, v, it, _ = c
        grad = objective_grad(W, sigma, G, M, problem, mu)
        it1 = it + 1
        t = it1.astype(W.dtype)
        m1 = b1 * m + (1 - b1) * grad
        v1 = b2 * v + (1 - b2) * grad * grad
        direction = (m1 / (1 - b1**t)) / (jnp.sqrt(v1 / (1 - b2**t)) + _ADAM_EPS)
        W1 = W - lr * direction
        M1, ok = acyclicity.refresh_inverse_fast(W1 * W1, s, M, hyper.inverse_tol)
        D1 = jnp.eye(W.shape[-1], dtype=W.dtype) - W1
        G1 = problem.cov @ D1
        # r_j = sum_k D_kj G_kj as a product with ones (a reduction is a slower kernel on CPU)
        r = jnp.ones(W.shape[-1], W.dtype) @ (D1 * G1)
        sigma1 = scores.noise_update(problem.variant, r, problem.sigma_min)
        new = (W1, sigma1, G1, M1, m1, v1, it1)
        old = (W, sigma, G, M, m, v, it)
        return (*(jnp.where(ok, a, b) for a, b in zip(new, old, strict=True)), ok)

    start = (state.W, state.sigma, state.G, state.M, state.adam_m, state.adam_v, state.it)
    W, sigma, G, M, m, v, it, _ = jax.lax.while_loop(cond, body, (*start, state.status == RUNNING))
    return state._replace(
        W=W,
        sigma=sigma,
        G=G,
        M=M,
        adam_m=m,
        adam_v=v,
        it=it,
        total_iters=state.total_iters + (it - state.it),
    )


def _select(pred, a: PathState, b: PathState) -> PathState:
    return jax.tree.map(lambda x, y: jnp.where(pred, x, y), a, b)


def advance(
    state: PathState, problem: Problem, hyper: Hyperparameters, config: PathConfig
) -> PathState:
    """Chunk end: convergence check at a checkpoint, then stage transitions and restarts."""
    T = config.num_stages
    budget = _stage_budget(hyper, config, state.stage)
    at_check = state.status == RUNNING
    mu = hyper.mu[state.stage]
    obj = objective(state.W, state.sigma, problem, mu, state.s)
    slot = jnp.clip(
        (state.it + hyper.checkpoint - 1) // hyper.checkpoint - 1, 0, config.trace_length - 1
    )
    trace = jnp.where(at_check, state.trace.at[state.stage, slot].set(obj), state.trace)
    change = _objective_change(state, problem, mu)
    # As in the reference, the first checkpoint of an attempt compares against "infinity".
    converged = (state.it > hyper.checkpoint) & (jnp.abs(change / state.obj_prev) <= hyper.tol)
    # Last stage: the output is the thresholded support; once it has not changed for
    # `patience` checkpoints the stage has converged for that purpose (off when tol = 0).
    is_last = state.stage == T - 1
    support = jnp.abs(state.W) > hyper.support_threshold
    same = jnp.all(support == state.support)
    stable = jnp.where(at_check & is_last, jnp.where(same, state.stable + 1, 0), state.stable)
    support_done = is_last & (hyper.patience > 0) & (hyper.tol > 0) & (stable >= hyper.patience)
    support_stopped = at_check & support_done & ~converged
    converged = converged | support_done
    exhausted = state.it >= budget
    done_now = at_check & (converged | exhausted)
    stop = jnp.where(done_now, jnp.where(converged, STOP_CONVERGED, STOP_MAX_ITER), state.stop)
    status = jnp.where(done_now, STAGE_DONE, state.status)
    state = state._replace(
        trace=trace,
        obj_prev=jnp.where(at_check, obj, state.obj_prev),
        W_check=jnp.where(at_check, state.W, state.W_check),
        G_check=jnp.where(at_check, state.G, state.G_check),
        sigma_check=jnp.where(at_check, state.sigma, state.sigma_check),
        gradh_check=jnp.where(at_check, 2.0 * state.W * state.M.T, state.gradh_check),
        status=status.astype(jnp.int32),
        stop=stop.astype(jnp.int32),
        support=jnp.where(at_check, support, state.support),
        stable=stable.astype(jnp.int32),
        support_stopped=state.support_stopped | support_stopped,
    )

    stage_done = state.status == STAGE_DONE
    restart = state.status == RESTART
    # Record the stage that just ended (or the attempt that is being restarted).
    state = state._replace(
        stage_iters=state.stage_iters.at[state.stage].set(
            jnp.where(stage_done | restart, state.it, state.stage_iters[state.stage])
        ),
        stage_stop=state.stage_stop.at[state.stage].set(
            jnp.where(stage_done, state.stop, state.stage_stop[state.stage])
        ),
        stage_s=state.stage_s.at[state.stage].set(state.s),
    )
    last = state.stage == T - 1
    finished = stage_done & last
    go_next = stage_done & ~last
    fresh = go_next | (state.status == BEGIN)
    next_stage = jnp.minimum(state.stage + 1, T - 1)
    stage = jnp.where(go_next, next_stage, state.stage)
    W0 = jnp.where(fresh, state.W, state.W_start)
    sigma0 = jnp.where(fresh, state.sigma, state.sigma_start)
    s0 = jnp.where(fresh, hyper.s[stage].astype(state.s.dtype), state.s + 0.1)
    lr0 = jnp.where(fresh, hyper.lr.astype(state.lr.dtype), 0.5 * state.stage_lr)
    restarts0 = jnp.where(fresh, 0, state.stage_restarts[state.stage] + 1)
    begun = _begin_stage(state, problem, hyper, config, stage, W0, sigma0, s0, lr0, restarts0)
    too_many = restart & (restarts0 > config.max_restarts)
    state = _select(fresh | (restart & ~too_many), begun, state)
    status = jnp.where(finished, FINISHED, jnp.where(too_many, FAILED, state.status))
    return state._replace(status=status.astype(jnp.int32))


def _chunk(
    state: PathState, problem: Problem, hyper: Hyperparameters, config: PathConfig
) -> PathState:
    budget = _stage_budget(hyper, config, state.stage)
    end = jnp.minimum((state.it // hyper.checkpoint + 1) * hyper.checkpoint, budget)

    def keep_going(s):
        return (s.status == RUNNING) & (s.it < end)

    def general_step(c):
        return step(c[0], problem, hyper, config)[0], jnp.zeros((), bool)

    def body(s):
        s = _fast_steps(s, problem, hyper, end)
        # The fast loop stopped before `end`: one general step (slow inverse refresh,
        # backtracking, restart), in a loop of at most one trip so that it costs nothing
        # otherwise (also under vmap, unless some member needs it).
        return jax.lax.while_loop(lambda c: c[1], general_step, (s, keep_going(s)))[0]

    state = jax.lax.while_loop(keep_going, body, state)
    return advance(state, problem, hyper, config)


def run(
    problem: Problem, hyper: Hyperparameters, config: PathConfig, progress: Callable | None = None
) -> PathState:
    """Run all stages; returns the final state (`status` FINISHED, or FAILED).

    `progress`, if given, is called on the host as `progress(total_iters, stage)` after every
    chunk (via `jax.debug.callback`, so from inside the compiled loop).
    """
    state = _pending(problem, hyper, config)

    def body(s):
        s = _chunk(s, problem, hyper, config)
        if progress is not None:
            jax.debug.callback(progress, s.total_iters, s.stage, ordered=False)
        return s

    return jax.lax.while_loop(lambda s: (s.status != FINISHED) & (s.status != FAILED), body, state)


def info(state: PathState) -> PathInfo:
    """Diagnostics of a finished run."""
    return PathInfo(
        iterations=state.stage_iters,
        restarts=state.stage_restarts,
        s=state.stage_s,
        stop_reason=state.stage_stop,
        total_iterations=state.total_iters,
        rebuilds=state.rebuilds,
        support_stop=state.support_stopped,
        failed=state.status == FAILED,
    )


def schedule(num_stages: int, s, mu_init: float, mu_factor: float) -> tuple[np.ndarray, np.ndarray]:
    """(mu, s) arrays of length T; a short `s` list is extended with its last value (as DAGMA)."""
    s_list = [float(s)] * num_stages if np.ndim(s) == 0 else [float(v) for v in s]
    if len(s_list) < num_stages:
        s_list = s_list + [s_list[-1]] * (num_stages - len(s_list))
    mu = mu_init * mu_factor ** np.arange(num_stages, dtype=float)
    return mu, np.asarray(s_list[:num_stages])
