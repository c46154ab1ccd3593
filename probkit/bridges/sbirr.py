"""Multi-marginal Schroedinger bridges with iterative reference refinement (SBIRR).

Snapshots mu_0..mu_K at times t_0 < ... < t_K and a reference dX = b_theta dt + sigma dW
(Shen, Berlinghieri & Broderick, AISTATS 2025). Coordinate descent on KL(P || Q_theta):
  1. bridge: with theta fixed, the multi-marginal SB splits into pairwise SBs on [t_k, t_k+1]
     (a Markov reference); each is a Sinkhorn coupling on the reference-transition cost plus
     bridges (`probkit.bridges.lna`: exact for linear references);
  2. refine: theta <- argmax of the reference's Euler-Maruyama log-likelihood of the bridged
     paths (damped Newton, warm-started), i.e. the Girsanov KL projection.
Stops when the largest relative change of theta is below `tol`, or, with held-out snapshots,
when the held-out fit (debiased Sinkhorn W2 estimate) has not improved for `patience` rounds.
The whole loop is one compiled function (`lax.scan` with a done flag); the bridge noise uses
common random numbers across rounds so the iteration can settle.
"""

import itertools
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from probkit.bridges.exact import wasserstein2
from probkit.bridges.lna import bridge_interval
from probkit.bridges.references import Reference
from probkit.bridges.sinkhorn import sinkhorn_unchecked, squared_euclidean
from probkit.core import errors, inference_data, progress, validate
from probkit.core.types import Array, PRNGKey

__all__ = ["FitInfo", "FitResult", "Snapshots", "prepare", "bridge_step", "refine", "fit"]


class Snapshots(NamedTuple):
    """Snapshots padded to one array (`prepare`), with weights that are zero on the padding.

    Attributes:
        points: (K + 1, n, d) padded snapshots.
        weights: (K + 1, n) uniform over each snapshot's real points, 0 on padding.
        times: (K + 1,) snapshot times, strictly increasing.
    """

    points: Array  # (K + 1, n, d) padded snapshots
    weights: Array  # (K + 1, n) uniform over each snapshot's real points, 0 on padding
    times: Array  # (K + 1,)


class FitInfo(NamedTuple):
    """Diagnostics of one refinement round of `bridges.fit` (stacked over rounds in
    `FitResult.info`).

    Attributes:
        delta: () largest relative change of theta in this round.
        loss: () negative log-likelihood per increment after refinement.
        sinkhorn_error: (K,) marginal error of each interval's coupling.
        sinkhorn_converged: (K,) bool, each interval's Sinkhorn met its threshold.
        holdout: () summed held-out W2^2 estimate of this round's bridges (nan: none).
        active: () bool, whether the round ran (False after the stop).
    """

    delta: Array  # () largest relative change of theta in this round
    loss: Array  # () negative log-likelihood per increment after refinement
    sinkhorn_error: Array  # (K,) marginal error of each interval's coupling
    sinkhorn_converged: Array  # (K,) bool
    holdout: Array  # () summed held-out W2^2 estimate of this round's bridges (nan: none)
    active: Array  # () bool, whether the round ran (False after the stop)


class FitResult(NamedTuple):
    """Result of `bridges.fit`: the learned reference, the glued bridges and the per-round trace.

    Attributes:
        theta: learned parameters (natural scale).
        trajectories: (n_0, K N + 1, d) glued bridges from the first snapshot's points.
        times: (K N + 1,) time grid of the trajectories.
        trace: name -> (max_iterations + 1, *shape) theta used by each round's bridges.
        info: stacked over rounds.
        num_iterations: () rounds of bridging done.
        converged: () bool, stopped by the rule rather than by max_iterations.
        failed: () bool, a non-finite theta, coupling or likelihood.
        heldout_w2: exact W2 at the held-out times (host, at the end).
    """

    theta: dict  # learned parameters (natural scale)
    trajectories: Array  # (n_0, K N + 1, d) glued bridges from the first snapshot's points
    times: Array  # (K N + 1,) time grid of the trajectories
    trace: dict  # name -> (max_iterations + 1, *shape) theta used by each round's bridges
    info: FitInfo  # stacked over rounds
    num_iterations: Array  # () rounds of bridging done
    converged: Array  # () bool, stopped by the rule rather than by max_iterations
    failed: Array  # () bool, a non-finite theta, coupling or likelihood
    heldout_w2: np.ndarray | None = None  # exact W2 at the held-out times (host, at the end)

    def to_inference_data(self):
        """ArviZ `InferenceData` with the theta iterates in group `optimization_trace`."""
        n = int(self.num_iterations)
        return inference_data.optimization_trace({k: v[:n] for k, v in self.trace.items()})


def prepare(snapshots: Sequence, times, *, name: str = "snapshots") -> Snapshots:
    """Validate and pad snapshots (list of (n_k, d)) and their strictly increasing times.

    Examples:
        >>> data = bridges.prepare([np.zeros((3, 2)), np.ones((5, 2))], [0.0, 1.0])
        >>> data.points.shape, data.weights.tolist()[0]  # padded to (K + 1, max n_k, d)
        ((2, 5, 2), [0.3333333432674408, 0.3333333432674408, 0.3333333432674408, 0.0, 0.0])
    """
    if isinstance(snapshots, (np.ndarray, jax.Array)) and np.ndim(snapshots) == 3:
        snapshots = list(snapshots)
    if not isinstance(snapshots, Sequence) or isinstance(snapshots, (str, bytes)):
        raise TypeError(f"{name} must be a list of (n_k, d) arrays")
    if len(snapshots) < 2:
        raise ValueError(f"{name} must hold at least two snapshots, got {len(snapshots)}")
    arrs = []
    for k, s in enumerate(snapshots):
        s = validate.finite(f"{name}[{k}]", validate.array(f"{name}[{k}]", s, ndim=2))
        if s.shape[0] < 1:
            raise ValueError(f"{name}[{k}] is empty")
        arrs.append(np.asarray(s))
    dims = {a.shape[1] for a in arrs}
    if len(dims) > 1:
        raise ValueError(f"{name} must share one dimension d, got {[a.shape for a in arrs]}")
    times = np.asarray(validate.finite("times", validate.array("times", times, ndim=1)), float)
    if times.shape[0] != len(arrs):
        raise ValueError(f"times must have one entry per snapshot ({len(arrs)}), got {times.shape}")
    if not np.all(np.diff(times) > 0):
        raise ValueError(f"times must be strictly increasing (no repeats), got {times}")
    n = max(a.shape[0] for a in arrs)
    dtype = jnp.result_type(float)
    pts = np.stack([np.concatenate([a, np.repeat(a[:1], n - a.shape[0], 0)]) for a in arrs])
    w = np.stack([np.r_[np.full(a.shape[0], 1.0 / a.shape[0]), np.zeros(n - a.shape[0])]
                  for a in arrs])  # fmt: skip
    return Snapshots(jnp.asarray(pts, dtype), jnp.asarray(w, dtype), jnp.asarray(times, dtype))


def bridge_step(key: PRNGKey, reference: Reference, theta, data: Snapshots, init,
                epsilon_start=None, drift_scale=1.0, *,
                num_steps: int, bridges_per_particle: int = 1, threshold: float = 1e-4,
                max_iterations: int = 2000):  # fmt: skip
    """Bridge every interval at theta: (paths (K, n, M, N+1, d), targets (K, n, M), ot, times).

    `init` = (f, g), each (K, n): Sinkhorn warm starts; `epsilon_start` (K,) or None: the
    couplings' epsilon-scaling start (their epsilon is 1). `times` (K, N + 1): the paths' grid.

    Examples:
        >>> data = bridges.prepare([np.zeros((4, 1)), np.ones((4, 1))], [0.0, 1.0])  # K = 1, n = 4
        >>> zeros = jnp.zeros((1, 4))  # Sinkhorn warm starts (K, n)
        >>> step = jax.jit(bridges.bridge_step, static_argnames=("reference", "num_steps"))
        >>> paths, targets, ot, times = step(
        ...     jax.random.key(0), bridges.brownian(0.5), {}, data, (zeros, zeros), num_steps=5
        ... )
        >>> paths.shape, targets.shape, times.shape  # (K, n, M, N + 1, d), (K, n, M), (K, N + 1)
        ((1, 4, 1, 6, 1), (1, 4, 1), (1, 6))
    """
    K = data.points.shape[0] - 1
    keys = jax.random.split(key, K)
    t0, h = data.times[:-1], jnp.diff(data.times)

    eps0 = jnp.ones(K, data.points.dtype) if epsilon_start is None else epsilon_start

    def one(k, x0, x1, w0, w1, t0_, h_, f, g, e0):
        return bridge_interval(
            k, reference, theta, x0, x1, w0, w1, t0_, h_, (f, g), e0, drift_scale,
            num_steps=num_steps,
            bridges_per_particle=bridges_per_particle, threshold=threshold,
            max_iterations=max_iterations,
        )  # fmt: skip

    paths, targets, ot = jax.vmap(one)(
        keys, data.points[:-1], data.points[1:], data.weights[:-1], data.weights[1:], t0, h,
        init[0], init[1], eps0,
    )  # fmt: skip
    grid = t0[:, None] + h[:, None] * jnp.linspace(0.0, 1.0, num_steps + 1)[None]
    return paths, targets, ot, grid


def _neg_loglik(reference, theta, paths, weights, grid):
    """Mean over increments of the Euler-Maruyama -log p_theta(x_{j+1} | x_j) (Girsanov), up to
    a constant, weighted by the source weights."""
    dt = grid[:, 1] - grid[:, 0]  # (K,)
    drift = jax.vmap(jax.vmap(jax.vmap(reference.drift, (None, 0, 0)), (None, 0, None)),
                     (None, 0, None))  # fmt: skip

    def interval(p, w, g, dt_):
        x0, x1 = p[..., :-1, :], p[..., 1:, :]  # (n, M, N, d)
        b = drift(theta, x0, g[:-1])
        lp = -0.5 * jnp.sum((x1 - x0 - b * dt_) ** 2, -1) / (reference.sigma**2 * dt_)
        return jnp.sum(w[:, None, None] * lp) / (lp.shape[1] * lp.shape[2])

    return -jnp.mean(jax.vmap(interval)(paths, weights, grid, dt))


def refine(reference: Reference, theta, paths, weights, grid, *, num_steps: int = 15):
    """theta maximising the reference likelihood of `paths`: (theta, loss).

    Damped Newton (Levenberg-Marquardt) on the unconstrained parameters from `theta`; the
    parameters are few, so the Hessian is cheap and the (near-quadratic) loss converges in a
    few steps.

    Examples:
        >>> def b(theta, x, t):  # x (d,) -> (d,)
        ...     return -theta["k"] * x
        >>> ref = bridges.drift(b, {"k": 1.0}, sigma=0.5, positive=("k",))
        >>> x0 = jax.random.normal(jax.random.key(0), (200, 1)) * 0.35
        >>> paths = bridges.simulate(jax.random.key(1), ref, {"k": 2.0}, x0, 0.0, 1.0, 50)
        >>> theta, loss = bridges.refine(
        ...     ref, {"k": 1.0}, paths[None, :, None], jnp.full((1, 200), 1 / 200),
        ...     jnp.linspace(0.0, 1.0, 51)[None],
        ... )  # paths (K, n, M, N + 1, d), weights (K, n), grid (K, N + 1)
        >>> bool(abs(float(theta["k"]) - 2.0) < 0.6)  # the k that simulated the paths
        True
    """
    flat, unravel = jax.flatten_util.ravel_pytree(reference.to_unconstrained(theta))

    def loss(v):
        return _neg_loglik(reference, reference.from_unconstrained(unravel(v)), paths, weights,
                           grid)  # fmt: skip

    grad, hess = jax.grad(loss), jax.hessian(loss)
    eye = jnp.eye(flat.shape[0], dtype=flat.dtype)

    def step(carry, _):
        v, lam, f = carry
        g, H = grad(v), hess(v)
        H = 0.5 * (H + H.T)
        scale = jnp.abs(jnp.diag(H)) + 1e-8
        v_new = v - jnp.linalg.solve(H + lam * jnp.diag(scale), g)
        f_new = loss(v_new)
        ok = jnp.isfinite(f_new) & (f_new <= f) & jnp.all(jnp.isfinite(v_new))
        v, f = jnp.where(ok, v_new, v), jnp.where(ok, f_new, f)
        lam = jnp.clip(jnp.where(ok, lam * 0.2, lam * 10.0), 1e-9, 1e9)
        return (v, lam, f), None

    del eye
    (v, _, f), _ = jax.lax.scan(step, (flat, jnp.asarray(1e-3, flat.dtype), loss(flat)), None,
                                length=num_steps)  # fmt: skip
    return reference.from_unconstrained(unravel(v)), f


def _glue(paths, targets, n_steps):
    """(n, K N + 1, d) trajectories by chaining each interval's first bridge through targets."""
    K, n = targets.shape[:2]
    idx = jnp.arange(n)
    pieces = []
    for k in range(K):  # K is static and small
        seg = paths[k, idx, 0]
        pieces.append(seg if k == K - 1 else seg[:, :n_steps])
        idx = targets[k, idx, 0]
    return jnp.concatenate(pieces, axis=1)


def _divergence(x, wx, y, wy, eps):
    def ot(a, p, b, q):
        return sinkhorn_unchecked(
            a, b, squared_euclidean(p, q), eps, jnp.zeros_like(a), None, 1e-5, 500
        ).cost

    return ot(wx, x, wy, y) - 0.5 * (ot(wx, x, wx, x) + ot(wy, y, wy, y))


def _rel_change(new, old):
    d = [jnp.max(jnp.abs(new[k] - old[k]) / (jnp.abs(old[k]) + 1e-2)) for k in new]
    return jnp.max(jnp.stack(d)) if d else jnp.asarray(0.0)


def fit(
    key: PRNGKey,
    snapshots: Sequence,
    times,
    reference: Reference,
    *,
    theta0: Mapping | None = None,
    held_out: tuple[Sequence, Sequence] | None = None,
    num_steps: int = 50,
    max_iterations: int = 10,
    tol: float = 1e-3,
    patience: int = 2,
    bridges_per_particle: int = 1,
    refine_steps: int = 15,
    sinkhorn_threshold: float = 1e-4,
    sinkhorn_iterations: int = 2000,
    brownian_first: bool = True,
    progress_bar: bool = False,
) -> FitResult:
    """Fit trajectories and the reference's parameters to snapshots (list of (n_k, d) arrays).

    Args:
        key: PRNG key (bridge draws; reused every round as common random numbers).
        snapshots: observed clouds, a list of (n_k, d) arrays.
        times: their strictly increasing times (K + 1,).
        reference: a `Reference` (`brownian`, `ou`, `lotka_volterra`, `repressilator`, `drift`).
        theta0: starting values of the learned parameters (default: the reference's).
        held_out: optional (snapshots, times) inside [t_0, t_K] for the stopping rule and the
            exact held-out W2 in `heldout_w2`; times are matched to the nearest grid point.
        num_steps: Euler/bridge steps N per interval (dt = (t_k+1 - t_k) / N).
        max_iterations: most refinement rounds (a Brownian reference has none).
        tol: stop when max_i |dtheta_i| / (|theta_i| + 0.01) < tol.
        patience: with held-out data, stop after this many rounds without improvement and
            return the last round's theta and trajectories (`info.holdout` has every round's
            score).
        bridges_per_particle: bridges M drawn per source point for the refinement.
        refine_steps: damped Newton iterations per refinement.
        brownian_first: bridge the first round under the Brownian reference with the same
            sigma (as SBIRR does), so a poor theta0 cannot steer the first couplings.
        progress_bar: tqdm bar over rounds, driven from inside the compiled loop.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> snaps = [rng.normal(size=(8, 1)), rng.normal(size=(8, 1)) + 1.0]  # (n_k, d) each
        >>> ref = bridges.brownian(0.5)
        >>> res = bridges.fit(jax.random.key(0), snaps, [0.0, 1.0], ref, num_steps=5)
        >>> res.trajectories.shape, res.times.shape, bool(res.failed)  # (n_0, K N + 1, d)
        ((8, 6, 1), (6,), False)
    """
    if not isinstance(reference, Reference):
        raise TypeError(f"reference must be a bridges.Reference, got {type(reference).__name__}")
    data = prepare(snapshots, times)
    d = data.points.shape[-1]
    num_steps = validate.positive_int("num_steps", num_steps)
    max_iterations = validate.positive_int("max_iterations", max_iterations, minimum=0)
    tol = validate.positive_float("tol", tol)
    patience = validate.positive_int("patience", patience)
    bridges_per_particle = validate.positive_int("bridges_per_particle", bridges_per_particle)
    refine_steps = validate.positive_int("refine_steps", refine_steps)
    validate.positive_float("sinkhorn_threshold", sinkhorn_threshold)
    validate.positive_int("sinkhorn_iterations", sinkhorn_iterations)
    theta = reference.init_theta(d, data.points.dtype)
    if theta0 is not None:
        unknown = set(theta0) - set(theta)
        if unknown:
            raise ValueError(f"theta0 names {sorted(unknown)}, not learned by {reference.name!r}")
        validate.finite_tree("theta0", dict(theta0))
        theta |= {k: jnp.asarray(v, data.points.dtype).reshape(theta[k].shape)
                  for k, v in theta0.items()}  # fmt: skip
    if not theta:
        max_iterations = 0
    hold, hold_idx, hold_eps, hold_raw = None, None, None, None
    grid_np = _grid(np.asarray(data.times), num_steps)
    if held_out is not None:
        hold = prepare(held_out[0], held_out[1], name="held_out snapshots") if len(
            held_out[0]) > 1 else _single(held_out)  # fmt: skip
        if hold.points.shape[-1] != d:
            raise ValueError(f"held_out snapshots must be {d}-dimensional")
        ht = np.asarray(hold.times)
        if ht.min() < grid_np[0] or ht.max() > grid_np[-1]:
            raise ValueError("held_out times must lie within [times[0], times[-1]]")
        hold_idx = jnp.asarray(np.abs(grid_np[None, :] - ht[:, None]).argmin(1))
        pts = np.asarray(hold.points)
        spread = np.mean([((p - p.mean(0)) ** 2).sum(1).mean() for p in pts])
        hold_eps = jnp.asarray(max(0.05 * spread, 1e-6), data.points.dtype)
        hold_raw = (list(held_out[0]), ht)
    cfg = dict(num_steps=num_steps, bridges_per_particle=bridges_per_particle,
               threshold=sinkhorn_threshold, max_iterations=sinkhorn_iterations)  # fmt: skip
    out = _fit(key, reference, theta, data, hold, hold_idx, hold_eps, _cfg_key(cfg),
               max_iterations, tol, patience, refine_steps, progress_bar,
               bool(brownian_first))  # fmt: skip
    theta_hat, traj, trace, info, n_it, conv, failed = out
    w2 = None
    if hold_raw is not None:
        idx = np.asarray(hold_idx)
        tr = np.asarray(traj)
        w2 = np.array([wasserstein2(tr[:, i], np.asarray(z)) for i, z in zip(idx, hold_raw[0])])
    traj = traj[: np.asarray(snapshots[0]).shape[0]]
    return FitResult(theta_hat, traj, jnp.asarray(grid_np, data.points.dtype), trace, info,
                     n_it, conv, failed, w2)  # fmt: skip


def _single(held_out):
    pts = validate.finite("held_out snapshots[0]", validate.array(
        "held_out snapshots[0]", held_out[0][0], ndim=2))  # fmt: skip
    t = np.asarray(held_out[1], float).reshape(-1)
    if t.shape != (1,):
        raise ValueError("held_out times must have one entry per held-out snapshot")
    n = pts.shape[0]
    return Snapshots(pts[None], jnp.full((1, n), 1.0 / n, pts.dtype), jnp.asarray(t, pts.dtype))


def _grid(times, num_steps):
    parts = [np.linspace(a, b, num_steps + 1)[:-1] for a, b in itertools.pairwise(times)]
    return np.concatenate([*parts, times[-1:]])


def _cfg_key(cfg):
    return tuple(sorted(cfg.items()))


@jax.jit(static_argnames=("reference", "cfg", "max_iterations", "refine_steps", "progress_bar",
                          "patience", "brownian_first"))  # fmt: skip
def _fit(key, reference, theta, data, hold, hold_idx, hold_eps, cfg, max_iterations, tol,
         patience, refine_steps, progress_bar, brownian_first):  # fmt: skip
    cfg = dict(cfg)
    K, n, d = data.points.shape[0] - 1, data.points.shape[1], data.points.shape[2]
    N = cfg["num_steps"]
    dtype = data.points.dtype
    zeros = jnp.zeros((K, n), dtype)

    def bridge(theta, init, eps0, scale):
        paths, targets, ot, grid = bridge_step(key, reference, theta, data, init, eps0, scale,
                                               **cfg)  # fmt: skip
        traj = _glue(paths, targets, N)
        if hold is None:
            score = jnp.asarray(jnp.nan, dtype)
        else:
            w0 = data.weights[0]
            score = jnp.sum(jax.vmap(lambda i, y, wy: _divergence(traj[:, i], w0, y, wy, hold_eps))(
                hold_idx, hold.points, hold.weights))  # fmt: skip
        return paths, grid, ot, traj, score

    # carry: theta, warm starts, done (rule fired), finished, last (theta, traj) and best
    # held-out (score, round), failed
    def body(carry, r):
        theta, init, done, finished, best, failed = carry

        def run(_):
            eps0 = jnp.where(r == 0, 1e4, 1.0) * jnp.ones(K, dtype)
            scale = jnp.where((r == 0) & brownian_first & (max_iterations > 0), 0.0, 1.0)
            paths, grid, ot, traj, score = bridge(theta, init, eps0, scale.astype(dtype))
            # round 0 with a Brownian start bridges without theta: not a candidate answer
            improved = (score < best[2]) & (scale > 0)
            new_best = (theta, traj, jnp.where(improved, score, best[2]),
                        jnp.where(improved, r, best[3]))  # fmt: skip
            if max_iterations > 0:
                theta_new, loss = refine(reference, theta, paths, data.weights[:-1], grid,
                                         num_steps=refine_steps)  # fmt: skip
            else:
                theta_new, loss = theta, jnp.asarray(0.0, dtype)
            bad = ot.failed.any() | ~jnp.isfinite(loss) | ~errors.all_finite(theta_new)
            delta = _rel_change(theta_new, theta)
            stale = (hold is not None) & (r - new_best[3] >= patience)
            stop = done | (r >= max_iterations) | bad
            new_done = jnp.where(stop, done, (delta < tol) | stale)
            theta_next = jax.tree.map(lambda a, b: jnp.where(stop, b, a), theta_new, theta)
            info = FitInfo(jnp.where(stop, 0.0, delta).astype(dtype), loss, ot.error,
                           ot.converged, score, jnp.asarray(True))  # fmt: skip
            return (theta_next, (ot.f, ot.g), new_done, stop, new_best, failed | bad), (info, theta)

        def skip(_):
            info = FitInfo(jnp.zeros((), dtype), jnp.asarray(jnp.nan, dtype),
                           jnp.zeros(K, dtype), jnp.zeros(K, bool), jnp.asarray(jnp.nan, dtype),
                           jnp.asarray(False))  # fmt: skip
            return carry, (info, theta)

        return jax.lax.cond(finished, skip, run, None)

    traj0 = jnp.zeros((n, K * N + 1, d), dtype)
    best = (theta, traj0, jnp.asarray(jnp.inf, dtype), jnp.int32(0))
    carry = (theta, (zeros, zeros), jnp.asarray(False), jnp.asarray(False), best,
             jnp.asarray(False))  # fmt: skip
    carry, (info, trace) = progress.scan(
        body, carry, jnp.arange(max_iterations + 1, dtype=jnp.int32), enabled=progress_bar,
        label="bridges.fit")  # fmt: skip
    _, _, done, _, best, failed = carry
    n_it = jnp.sum(info.active)
    converged = done & ~failed
    # the last round's theta and trajectories: when the rule stops the loop, that round's
    # bridges used the final theta
    return best[0], best[1], trace, info, n_it, converged, failed
