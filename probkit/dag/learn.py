"""CoLiDE (EV, NV) and DAGMA: linear DAG learning by path following.

`colide(X, variant="ev" | "nv")` learns the weighted adjacency W of a linear SEM X = X W + E
together with the noise scale(s) (Saboksayr, Mateos & Tepper, "CoLiDE: Concomitant Linear DAG
Estimation", ICLR 2024); `dagma(X)` is the least-squares baseline with the same acyclicity
function and schedule (Bello, Aragam & Ravikumar, "DAGMA", NeurIPS 2022). Both run the one
on-device solver of `probkit.dag.path`; cost O(d^3) per iteration (three d x d matrix
products), at most (T - 1) warm_iter + max_iter iterations.

Batching: pass `X` with a leading batch axis `(b, n, d)` (many datasets) and/or a `(b,)` array
of `lambda1` (a regularisation path); all b problems run in one compiled, vmapped call.
"""

from collections.abc import Iterable, Sequence
from functools import partial
from typing import NamedTuple, TypeAlias

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from probkit.core import sharding as sharding_mod
from probkit.core import validate
from probkit.core.precision import exact_products
from probkit.core.types import Array, ArrayLike
from probkit.dag import graph, path, scores

__all__ = ["DagResult", "EdgeSet", "colide", "dagma"]

EdgeSet: TypeAlias = ArrayLike | Iterable[tuple[int, int]] | nx.DiGraph | None
"""Edges i -> j as a `(d, d)` boolean array, an iterable of `(i, j)` pairs, or a DiGraph."""

# Noise-scale floor relative to the data's column standard deviations (see `colide`).
_SIGMA_MIN_REL = 1e-3


class DagResult(NamedTuple):
    """Result of `colide` / `dagma`; with a batch, every field has a leading batch axis.

    Attributes:
        weights: (d, d) unthresholded W; W[i, j] is the weight of edge i -> j.
        adjacency: (d, d) bool, thresholded and guaranteed acyclic.
        noise_scale: () EV; (d,) NV; (d,) plug-in residual std for DAGMA.
        objective_trace: (T, K) objective every `checkpoint` iterations (NaN-padded).
        converged: () bool, the last stage met the tolerance, no failure.
        info: per-stage iterations, restarts, s, stop reasons (`PathInfo`).
    """

    weights: Array  # (d, d) unthresholded W; W[i, j] is the weight of edge i -> j
    adjacency: Array  # (d, d) bool, thresholded and guaranteed acyclic
    noise_scale: Array  # () EV; (d,) NV; (d,) plug-in residual std for DAGMA
    objective_trace: Array  # (T, K) objective every `checkpoint` iterations (NaN-padded)
    converged: Array  # () bool, the last stage met the tolerance, no failure
    info: path.PathInfo  # per-stage iterations, restarts, s, stop reasons

    def to_networkx(
        self, index: int | None = None, node_names: Sequence | None = None
    ) -> nx.DiGraph:
        """The learned DAG as a `networkx.DiGraph` with edge attribute `"weight"`.

        Args:
            index: which problem of a batched result (required when batched).
            node_names: optional d labels for the nodes (default 0..d-1).
        """
        adj, w = np.asarray(self.adjacency), np.asarray(self.weights)
        if adj.ndim == 3:
            if index is None:
                raise ValueError(f"this result holds a batch of {adj.shape[0]} graphs; pass index=")
            adj, w = adj[index], w[index]
        elif index is not None:
            raise ValueError("index= is only for batched results")
        return graph.to_networkx(adj, w, node_names)


def colide(
    X: ArrayLike,
    variant: str = "ev",
    lambda1: float | ArrayLike = 0.05,
    *,
    w_threshold: float = 0.3,
    num_stages: int = 5,
    s: float | Sequence[float] = (1.0, 0.9, 0.8, 0.7, 0.6),
    mu_init: float = 1.0,
    mu_factor: float = 0.1,
    warm_iter: int = 30000,
    max_iter: int = 60000,
    lr: float = 3e-4,
    betas: tuple[float, float] = (0.99, 0.999),
    checkpoint: int = 1000,
    tol: float = 1e-6,
    sigma_min: float | None = None,
    inverse_tol: float = 0.1,
    patience: int = 5,
    exclude: EdgeSet = None,
    require: EdgeSet = None,
    progress_bar: bool = False,
    sharding=None,
) -> DagResult:
    """CoLiDE: learn a linear DAG and its noise scale(s) jointly.

    Minimises mu_k [S(W, sigma) + lambda1 |W|_1] + h(W, s_k) along the path k = 0..T-1 (see
    `probkit.dag.path`), with S the CoLiDE-EV or -NV score (`probkit.dag.scores`) and sigma
    updated in closed form after every Adam step.

    Args:
        X: `(n, d)` data, or `(b, n, d)` for b datasets fitted in one vmapped call. Columns are
            centred internally; they must be finite and not constant, n >= 2, d >= 2.
        variant: `"ev"` (one noise scale) or `"nv"` (one per node).
        lambda1: l1 weight >= 0, or a `(b,)` array (a lambda path, or one per dataset).
        w_threshold: |W| threshold for `adjacency` (raised further if needed for acyclicity).
        num_stages: T, the number of path-following stages.
        s: log-det parameter per stage (a shorter list repeats its last value), or a scalar.
        mu_init: mu_0; stage k uses mu_k = mu_init * mu_factor^k.
        mu_factor: ratio of successive mu_k.
        warm_iter: iteration budget of each stage but the last.
        max_iter: iteration budget of the last stage.
        lr: Adam learning rate (halved by the domain rules when needed).
        betas: Adam (beta1, beta2).
        checkpoint: iterations between convergence checks (and objective-trace entries).
        tol: a stage ends when the objective's relative change over a checkpoint is <= tol.
        sigma_min: lower bound on the noise scale(s). Default: 1e-3 times the smallest column
            standard deviation (EV) or times each column's standard deviation (NV).
        inverse_tol: residual tolerance ||I - (sI - W∘W) M|| of the inverse M that the solver
            maintains by Newton–Schulz steps instead of inverting at every iteration (see
            `probkit.dag.acyclicity`). The gradient then carries a relative error of at most
            about inverse_tol^2; smaller values cost more matrix products. Domain membership
            is certified exactly whatever the value. An iteration reuses the inverse without
            any matrix product while its residual is provably <= inverse_tol^2.
        patience: the last stage also ends (as converged) once the thresholded support
            {|W| > w_threshold} has not changed for this many consecutive checkpoints: the
            output no longer moves while the objective only jitters at the Adam step size
            (the `dagma` rule rarely fires there). 0: the objective rule only, as the `dagma`
            package. Inactive when tol = 0 (full budgets).
        exclude: edges forced absent: `(d, d)` bool array or iterable of `(i, j)` pairs (i -> j).
        require: edges forced present: never penalised, always in `adjacency`. They must form
            a DAG; a required set that closes a cycle is an error.
        progress_bar: show a tqdm bar driven from inside the compiled loop.
        sharding: split a batch of problems over devices: a `NamedSharding`
            (`probkit.core.sharding.batch_sharding`) or a `Mesh`; same answers as unsharded.
            Ignored for a single problem.

    Returns:
        `DagResult`. `noise_scale` is a scalar (EV) or `(d,)` (NV) standard deviation.

    Examples:
        >>> W = 1.5 * jnp.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]], float)  # 0 -> 1 -> 2
        >>> X = dag.simulate_linear_sem(jax.random.key(0), W, 500)  # (n, d)
        >>> res = dag.colide(
        ...     X, num_stages=2, warm_iter=2000, max_iter=4000, lr=0.01, checkpoint=500
        ... )  # small budget for the example; the defaults are the paper's
        >>> res.weights.shape, res.adjacency.astype(int).tolist()
        ((3, 3), [[0, 1, 0], [0, 0, 1], [0, 0, 0]])
    """
    validate.one_of("variant", variant, ("ev", "nv"))
    return _fit(X, variant, lambda1, locals())


def dagma(
    X: ArrayLike,
    lambda1: float | ArrayLike = 0.05,
    *,
    w_threshold: float = 0.3,
    num_stages: int = 5,
    s: float | Sequence[float] = (1.0, 0.9, 0.8, 0.7, 0.6),
    mu_init: float = 1.0,
    mu_factor: float = 0.1,
    warm_iter: int = 30000,
    max_iter: int = 60000,
    lr: float = 3e-4,
    betas: tuple[float, float] = (0.99, 0.999),
    checkpoint: int = 1000,
    tol: float = 1e-6,
    inverse_tol: float = 0.1,
    patience: int = 5,
    exclude: EdgeSet = None,
    require: EdgeSet = None,
    progress_bar: bool = False,
    sharding=None,
) -> DagResult:
    """DAGMA with the least-squares score 1/2 ||X - X W||_F^2 / n (same solver as `colide`).

    Arguments as in `colide` (there is no noise scale in the score). The defaults are the
    `dagma` package's `DagmaLinear.fit` defaults, with `lambda1=0.05`, except that the last
    stage also stops on a stable support (`patience=5`; `patience=0` is the package's rule).
    `noise_scale` holds the plug-in residual standard deviations sqrt(r_j) at the learned W
    (not part of the score).

    Examples:
        >>> W = 1.5 * jnp.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]], float)  # 0 -> 1 -> 2
        >>> X = dag.simulate_linear_sem(jax.random.key(0), W, 500)  # (n, d)
        >>> res = dag.dagma(
        ...     X, num_stages=2, warm_iter=2000, max_iter=4000, lr=0.01, checkpoint=500
        ... )
        >>> res.adjacency.astype(int).tolist(), res.noise_scale.shape  # (d,) residual std
        ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], (3,))
    """
    return _fit(X, "l2", lambda1, dict(locals(), sigma_min=None))


def _check_options(o: dict) -> dict:
    out = {}
    out["w_threshold"] = validate.positive_float("w_threshold", o["w_threshold"], allow_zero=True)
    out["num_stages"] = validate.positive_int("num_stages", o["num_stages"])
    out["warm_iter"] = validate.positive_int("warm_iter", o["warm_iter"])
    out["max_iter"] = validate.positive_int("max_iter", o["max_iter"])
    out["checkpoint"] = validate.positive_int("checkpoint", o["checkpoint"])
    out["mu_init"] = validate.positive_float("mu_init", o["mu_init"])
    out["mu_factor"] = validate.positive_float("mu_factor", o["mu_factor"])
    out["lr"] = validate.positive_float("lr", o["lr"])
    out["tol"] = validate.positive_float("tol", o["tol"], allow_zero=True)
    out["inverse_tol"] = validate.positive_float("inverse_tol", o["inverse_tol"])
    out["patience"] = validate.positive_int("patience", o["patience"], minimum=0)
    betas = tuple(o["betas"])
    if len(betas) != 2 or not all(0.0 <= float(b) < 1.0 for b in betas):
        raise ValueError(f"betas must be two numbers in [0, 1), got {o['betas']!r}")
    out["betas"] = betas
    s = np.atleast_1d(np.asarray(o["s"], dtype=float))
    if s.ndim != 1 or s.size == 0 or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"s must be a positive number or a non-empty list of them, got {o['s']!r}")
    out["s"] = o["s"]
    if o["sigma_min"] is not None:
        out["sigma_min"] = validate.positive_float("sigma_min", o["sigma_min"])
    else:
        out["sigma_min"] = None
    return out


def _check_data(X: ArrayLike) -> Array:
    X = validate.array("X", X, ndim=(2, 3), dtype_kind="fiu")
    if np.dtype(X.dtype).kind in "iu":
        X = X.astype(jnp.result_type(float))
    n, d = X.shape[-2:]
    if n < 2:
        raise ValueError(f"X must have at least 2 samples (rows), got {n}")
    if d < 2:
        raise ValueError(f"X must have at least 2 variables (columns), got {d}")
    X = validate.finite("X", X)
    if validate.is_concrete(X):
        big = float(jnp.max(jnp.abs(X)))
        if big**2 > float(np.finfo(X.dtype).max) / 16:
            raise ValueError(
                f"X has entries up to {big:.3g}, too large for {X.dtype} second moments; "
                "rescale the columns or enable float64"
            )
        std = np.asarray(jnp.std(X, axis=-2))
        scale = np.maximum(np.asarray(jnp.max(jnp.abs(X), axis=-2)), np.finfo(std.dtype).tiny)
        const = std <= 1e3 * np.finfo(std.dtype).eps * scale
        if np.any(const):
            where = np.argwhere(const)
            cols = sorted({int(c[-1]) for c in where})
            raise ValueError(
                f"X has constant column(s) {cols[:10]}{'...' if len(cols) > 10 else ''}: a "
                "constant variable has zero variance and no noise scale; drop it"
            )
    return X


def _check_lambda(lambda1, batch: int | None) -> tuple[Array, int | None]:
    lam = validate.finite("lambda1", lambda1)
    if lam.ndim > 1:
        raise ValueError(f"lambda1 must be a scalar or a 1-D array, got shape {lam.shape}")
    if validate.is_concrete(lam) and bool(jnp.any(lam < 0)):
        raise ValueError("lambda1 must be >= 0")
    if lam.ndim == 1:
        if batch is not None and lam.shape[0] != batch:
            raise ValueError(f"lambda1 has {lam.shape[0]} values but X holds {batch} datasets")
        return lam, lam.shape[0]
    return lam, batch


def _fit(X, variant: str, lambda1, options: dict) -> DagResult:
    o = _check_options(options)
    sharding = sharding_mod.resolve(options["sharding"])
    X = _check_data(X)
    batch = X.shape[0] if X.ndim == 3 else None
    lam, batch = _check_lambda(lambda1, batch)
    d = X.shape[-1]
    excluded, required = graph.check_prior_knowledge(options["exclude"], options["require"], d)
    dtype = X.dtype
    mu, s = path.schedule(o["num_stages"], o["s"], o["mu_init"], o["mu_factor"])
    hyper = path.Hyperparameters(
        mu=jnp.asarray(mu, dtype),
        s=jnp.asarray(s, dtype),
        lr=jnp.asarray(o["lr"], dtype),
        beta1=jnp.asarray(o["betas"][0], dtype),
        beta2=jnp.asarray(o["betas"][1], dtype),
        tol=jnp.asarray(o["tol"], dtype),
        warm_iter=jnp.asarray(o["warm_iter"], jnp.int32),
        max_iter=jnp.asarray(o["max_iter"], jnp.int32),
        checkpoint=jnp.asarray(o["checkpoint"], jnp.int32),
        inverse_tol=jnp.asarray(o["inverse_tol"], dtype),
        patience=jnp.asarray(o["patience"], jnp.int32),
        support_threshold=jnp.asarray(o["w_threshold"], dtype),
    )
    longest = max(o["warm_iter"], o["max_iter"]) if o["num_stages"] > 1 else o["max_iter"]
    config = path.PathConfig(o["num_stages"], -(-longest // o["checkpoint"]))
    fixed = _Fixed(
        variant=scores.variant_code(variant),
        excluded=jnp.asarray(excluded),
        required=jnp.asarray(required),
        sigma_min=jnp.asarray(-1.0 if o["sigma_min"] is None else o["sigma_min"], dtype),
        threshold=jnp.asarray(o["w_threshold"], dtype),
    )
    total = (o["num_stages"] - 1) * o["warm_iter"] + o["max_iter"]
    with _Progress(total, variant, batch, enabled=bool(options["progress_bar"])):
        if batch is None:
            out = _solve(X, lam.astype(dtype), fixed, hyper, config)
        else:
            Xb = X if X.ndim == 3 else jnp.broadcast_to(X, (batch, *X.shape))
            lamb = jnp.broadcast_to(lam.astype(dtype), (batch,))
            out = _solve_batch(Xb, lamb, fixed, hyper, config, sharding)
        out = jax.block_until_ready(out)
    W, adjacency, sigma, resid_std, trace, converged, info = out
    if variant == "ev":
        noise = sigma[..., 0]
    elif variant == "nv":
        noise = sigma
    else:
        noise = resid_std
    return DagResult(W, adjacency, noise, trace, converged, info)


class _Fixed(NamedTuple):
    """Arguments shared by every problem of a batch."""

    variant: Array  # () int32
    excluded: Array  # (d, d) bool
    required: Array  # (d, d) bool
    sigma_min: Array  # () user floor, or -1 for the relative default
    threshold: Array  # () w_threshold


def _prepare(X, lambda1, fixed: _Fixed) -> path.Problem:
    n, d = X.shape
    Xc = X - jnp.mean(X, axis=0, keepdims=True)
    cov = Xc.T @ Xc / n
    std = jnp.sqrt(jnp.diagonal(cov))
    free = ~fixed.excluded & ~jnp.eye(d, dtype=bool)
    user = fixed.sigma_min > 0
    # EV: one scale, floor relative to the smallest column sd, started at that sd (as CoLiDE);
    # NV: one scale per node, floor relative to its column sd, started at that sd.
    ev_floor = jnp.full((d,), jnp.where(user, fixed.sigma_min, _SIGMA_MIN_REL * jnp.min(std)))
    nv_floor = jnp.where(user, fixed.sigma_min, _SIGMA_MIN_REL * std)
    ev_init = jnp.maximum(jnp.min(std), ev_floor)
    nv_init = jnp.maximum(std, nv_floor)
    ones = jnp.ones((d,), X.dtype)
    floor = jnp.where(fixed.variant == 1, ev_floor, jnp.where(fixed.variant == 2, nv_floor, ones))
    init = jnp.where(fixed.variant == 1, ev_init, jnp.where(fixed.variant == 2, nv_init, ones))
    penalized = (free & ~fixed.required).astype(X.dtype)
    return path.Problem(
        fixed.variant, cov, lambda1, free, penalized, floor.astype(X.dtype), init.astype(X.dtype)
    )


@exact_products  # TF32 products break the certified inverse on GPUs (core.precision)
def _fit_one(X, lambda1, fixed: _Fixed, hyper, config):
    problem = _prepare(X, lambda1, fixed)
    state = path.run(problem, hyper, config, _Progress.report)
    W = jnp.where(problem.free, state.W, 0.0)
    adjacency = graph.threshold_to_dag(W, fixed.threshold, fixed.required, fixed.excluded)
    _, r = scores.residual_moments(W, problem.cov)
    info = path.info(state)
    # Report non-finite numbers (e.g. data so large that cov overflows) as a failure.
    finite = jnp.all(jnp.isfinite(state.W)) & jnp.all(jnp.isfinite(state.sigma))
    info = info._replace(failed=info.failed | ~finite)
    converged = (
        (state.status == path.FINISHED)
        & (info.stop_reason[config.num_stages - 1] == path.STOP_CONVERGED)
        & ~info.failed
    )
    return W, adjacency, state.sigma, jnp.sqrt(r), state.trace, converged, info


@partial(jax.jit, static_argnames=("config",))
def _solve(X, lambda1, fixed, hyper, config):
    return _fit_one(X, lambda1, fixed, hyper, config)


@partial(jax.jit, static_argnames=("config", "sharding"))
def _solve_batch(X, lambda1, fixed, hyper, config, sharding=None):
    one = partial(_fit_one, config=config)  # each device runs its own block's loop
    return sharding_mod.shard_vmap(one, sharding, in_axes=(0, 0, None, None))(
        X, lambda1, fixed, hyper
    )


class _Progress:
    """Host side of the progress bar; the compiled loop reports after every chunk.

    The compiled program always calls the fixed function `_Progress.report` after each chunk
    of `checkpoint` iterations; it updates the bar opened by the innermost active
    `with _Progress(...)` block and returns at once when there is none, so the bar needs no
    program of its own.
    """

    active = None

    def __init__(self, total: int, variant: str, batch: int | None, enabled: bool):
        self.enabled = enabled
        self.total = total
        self.label = f"{variant} path" + ("" if batch is None else f" (batch of {batch})")
        self.bar = None

    def __enter__(self):
        if self.enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, desc=self.label, leave=True)
            self.previous, _Progress.active = _Progress.active, self
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            if exc[0] is None and self.bar.n < self.total:  # stages stopped early: done
                self.bar.total = self.bar.n
                self.bar.refresh()
            self.bar.close()
            _Progress.active = self.previous

    @staticmethod
    def report(total_iters, stage):
        me = _Progress.active
        if me is None or me.bar is None:
            return
        done = min(int(np.max(total_iters)), me.total)
        if done > me.bar.n:
            me.bar.update(done - me.bar.n)
        me.bar.set_postfix(stage=int(np.max(stage)), refresh=False)
