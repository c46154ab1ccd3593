"""Schroedinger bridges: fit times (OU, Lotka-Volterra, repressilator) and Sinkhorn throughput.

(a) `bridges.fit` wall time, cold (first call: tracing + compilation + run, what a user waits
    for) and warm (median of repeats, compiled): a 2-D OU fit (9 snapshots x 100, A learned),
    the Lotka-Volterra fit and the repressilator fit of examples/bridges.py (paper settings).
    Targets (issue #16): linear/OU fit < 5 s, full repressilator fit < 60 s on the CPU (the
    SBIRR notebook: 277 s per outer iteration, 2,772 s for 10).
(b) Sinkhorn on the same problems (2-D Gaussian clouds, squared Euclidean cost, epsilon 0.05,
    L1 marginal error <= 1e-3, float32 for the JAX solvers): probkit, ott-jax 0.6 (log domain,
    default settings otherwise) and POT (`sinkhorn_log`, NumPy float64); one problem of size n,
    and a batch of 16 problems of n = 200 (vmap for the JAX solvers, a loop for POT).

    python -m benchmarks.bridges [--quick]
"""

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.common import interleaved_medians, machine, md_table, versions, write_fragment
from probkit import bridges


def _ou_data(n=100, seed=0):
    A = np.array([[-1.0, 1.0], [-1.0, -0.5]])
    true = bridges.ou(A, np.zeros(2), sigma=0.1)
    times = np.arange(9) * 0.25
    snaps = []
    for k, t in enumerate(times):
        kk = jax.random.fold_in(jax.random.key(seed), k)
        x0 = 0.5 * jax.random.normal(kk, (n, 2)) + 2.0
        if t > 0:
            x0 = bridges.simulate(jax.random.fold_in(kk, 1), true, {}, x0, 0.0, t, 1)[:, -1]
        snaps.append(x0)
    return snaps, times, A


def _time_fit(make_call, repeats):
    start = time.perf_counter()
    res = make_call()
    jax.block_until_ready(res.trajectories)
    cold = time.perf_counter() - start
    warm = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(make_call().trajectories)
        warm.append(time.perf_counter() - start)
    return res, cold, float(np.median(warm))


def fit_times(quick):
    rows = []
    snaps, times, A = _ou_data()
    ref = bridges.ou(m=np.zeros(2), sigma=0.1)
    res, cold, warm = _time_fit(
        lambda: bridges.fit(jax.random.key(0), snaps, times, ref, num_steps=10,
                            max_iterations=30), 2 if quick else 5)  # fmt: skip
    err = float(np.max(np.abs(np.asarray(res.theta["A"]) - A)))
    rows.append(["OU 2-D (A learned), 9 x 100, N=10", cold, warm, int(res.num_iterations),
                 f"max abs error of A {err:.3f}"])  # fmt: skip
    for task, steps in [("lotka_volterra", 50), ("repressilator", 75)]:
        ex = getattr(bridges.experiments, f"{task}_data")(jax.random.key(0))
        fam = getattr(bridges, task)(sigma=0.1)

        def call(ex=ex, fam=fam, steps=steps):
            return bridges.fit(jax.random.key(0), ex.train, ex.train_times, fam,
                               held_out=(ex.held_out, ex.held_out_times), num_steps=steps,
                               max_iterations=30, patience=3)  # fmt: skip

        res, cold, warm = _time_fit(call, 1 if quick else 3)
        theta = ", ".join(f"{k} {float(v):.3f}" for k, v in res.theta.items())
        w2 = ", ".join(f"{w:.3f}" for w in res.heldout_w2)
        rows.append([f"{task}, {len(ex.train)} x 50, N={steps}", cold, warm,
                     int(res.num_iterations), f"{theta}; held-out W2 {w2}"])  # fmt: skip
    return md_table(["fit", "cold s (compile + run)", "warm s", "rounds", "result"], rows)


def _problem(n, seed):
    k1, k2 = jax.random.split(jax.random.key(seed))
    x = jax.random.normal(k1, (n, 2))
    y = jax.random.normal(k2, (n, 2)) @ jnp.array([[1.0, 0.3], [0.0, 0.7]]) + 1.0
    return x, y


def sinkhorn_throughput(quick):
    import ot
    from ott.geometry import pointcloud
    from ott.problems.linear import linear_problem
    from ott.solvers.linear import sinkhorn as ott_sinkhorn

    eps, thr = 0.05, 1e-3
    solver = ott_sinkhorn.Sinkhorn(threshold=thr, max_iterations=20_000)

    @jax.jit
    def ours(x, y):
        n, m = x.shape[0], y.shape[0]
        a, b = jnp.full((1, n), 1.0 / n), jnp.full((1, m), 1.0 / m)
        c = bridges.squared_euclidean(x, y)[None]
        r = bridges.batched_sinkhorn(a, b, c, eps, threshold=thr, max_iterations=20_000)
        return r.cost[0], r.iterations[0]

    @jax.jit
    def ott_solve(x, y):
        out = solver(linear_problem.LinearProblem(pointcloud.PointCloud(x, y, epsilon=eps)))
        return out.reg_ot_cost, out.n_iters

    def pot(x, y):
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        a, b = np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y))
        M = ot.dist(x, y)
        return ot.sinkhorn(a, b, M, eps, method="sinkhorn_log", stopThr=thr, numItermax=20_000)

    rows = []
    for n in [200] if quick else [200, 1000, 2000]:
        x, y = _problem(n, n)
        c_ours, it_ours = ours(x, y)
        c_ott, it_ott = ott_solve(x, y)
        plan = pot(x, y)
        fns = [lambda x=x, y=y: ours(x, y), lambda x=x, y=y: ott_solve(x, y),
               lambda x=x, y=y: pot(x, y)]  # fmt: skip
        t_ours, t_ott, t_pot = interleaved_medians(fns, repeats=3 if quick else 7)
        rows.append([f"1 problem, n = {n}", t_ours, t_ott, t_pot, t_ott / t_ours, t_pot / t_ours,
                     f"{int(it_ours)} / {int(it_ott)}; OT_eps {float(c_ours):.4f} / "
                     f"{float(c_ott):.4f}; POT plan mass {plan.sum():.3f}"])  # fmt: skip
    # batch of 16 problems, n = 200
    xs, ys = zip(*[_problem(200, 100 + i) for i in range(16)])
    xs, ys = jnp.stack(xs), jnp.stack(ys)
    ours_b = jax.jit(jax.vmap(ours))
    ott_b = jax.jit(jax.vmap(ott_solve))
    ours_b(xs, ys), ott_b(xs, ys)
    fns = [lambda: ours_b(xs, ys), lambda: ott_b(xs, ys),
           lambda: [pot(x, y) for x, y in zip(xs, ys)]]  # fmt: skip
    t_ours, t_ott, t_pot = interleaved_medians(fns, repeats=3 if quick else 7)
    rows.append(["16 problems, n = 200 (vmap / loop)", t_ours, t_ott, t_pot, t_ott / t_ours,
                 t_pot / t_ours, "-"])  # fmt: skip
    return md_table(["problem", "probkit s", "ott-jax s", "POT s", "ott / probkit",
                     "POT / probkit", "iterations probkit / ott; agreement"], rows)  # fmt: skip


def main(quick: bool = False) -> str:
    fits = fit_times(quick)
    sk = sinkhorn_throughput(quick)
    text = "\n".join(
        [
            "## bridges: Schroedinger bridges with reference refinement (issue #16)",
            "",
            f"Machine: {machine()}. Versions: {versions('ott-jax', 'pot', 'optax')}. Shared "
            "machine: timings may be disturbed by other jobs. float32.",
            "",
            "**(a) fit times.** Cold = first call in the process (tracing, compilation, run); "
            "warm = median of repeated calls (compiled). Targets: OU fit < 5 s; repressilator "
            "fit < 60 s (SBIRR notebook: 2,772 s).",
            "",
            fits,
            "",
            "**(b) Sinkhorn**, 2-D Gaussian clouds, squared Euclidean cost, epsilon 0.05, "
            "stop at L1 marginal error 1e-3 (ott-jax checks every 10 sweeps); seconds per "
            "solve, compiled, interleaved medians.",
            "",
            sk,
        ]
    )
    write_fragment("bridges", text)
    print(text)
    return text


if __name__ == "__main__":
    main(quick="--quick" in sys.argv[1:])
