"""Accelerator throughput: particle filter, PaRIS and batched DAG learning on a GPU.

Runs only where JAX's default backend is a GPU (elsewhere it prints a note and leaves the last
GPU fragment alone), so `make bench` on a CPU machine keeps the recorded GPU numbers.

    python -m benchmarks.gpu            # on a GPU machine
    python -m benchmarks.gpu --force --quick   # dry run of the script on CPU (small sizes)

Measures (float32, medians after a warm-up, compile reported apart):
- bootstrap particle filter on stochastic volatility, T = 1000, N up to 1e7: particle-steps/s
  (issue 2 goal: >= 1e9 at N = 1e6);
- PaRIS (K = 2, h = sum x_t), T = 200, N = 1e4 .. 1e6, each backward kernel where affordable,
  and its cost relative to the bootstrap filter at the same N (issue 3);
- CoLiDE-EV on 8 datasets in one vmapped call vs one fit (issue 5 goal: < 3x one fit).
The fragment is rewritten after each part, so a run cut short keeps what it measured.
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.common import machine, md_table, median_time, versions, write_fragment
from probkit import dag, smc, ssm

AREA = "gpu"
SV = dict(mu=-1.0, rho=0.95, sigma=0.2)


def _first_call(fn):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start


def particle_filter_rows(sizes, repeats, echo=print):
    model, params = ssm.stochastic_volatility(**SV)
    T = 1000
    _, ys = ssm.simulate(jax.random.key(0), model, params, T)
    rows = []
    for n in sizes:
        for impl in ("threefry2x32", "rbg"):
            seeds = iter(range(10_000))

            def run(n=n, impl=impl, seeds=seeds):
                key = jax.random.key(next(seeds), impl=impl)
                return smc.particle_filter(
                    key,
                    model,
                    params,
                    ys,
                    n,
                    resampling="systematic",
                    ess_threshold=1.0,
                    history=False,
                ).log_likelihood

            compile_s = _first_call(run)
            t, _ = median_time(run, repeats=repeats)
            rows.append([n, impl, t * 1e3, compile_s, n * T / t / 1e9])
            echo(rows[-1])
    return rows


def paris_rows(sizes, repeats, echo=print):
    model, params = ssm.stochastic_volatility(mu=-1.02, rho=0.9702, sigma=0.178)
    T = 200
    _, ys = ssm.simulate(jax.random.key(0), model, params, T)
    h = smc.AdditiveFunctional(lambda x0: x0, lambda x_prev, x, t: x, name="sum of states")
    rows = []
    key = jax.random.key(1)
    for n in sizes:

        def pf(n=n):
            return smc.particle_filter(
                key, model, params, ys, n, ess_threshold=1.0, history=False
            ).log_likelihood

        _first_call(pf)
        t_pf, _ = median_time(pf, repeats=repeats)
        kernels = ["mcmc", "hybrid", "exact"][: 1 + (n <= 100_000) + (n <= 10_000)]
        for backward in kernels:

            def run(n=n, backward=backward):
                return smc.paris(
                    key,
                    model,
                    params,
                    ys,
                    h,
                    n,
                    num_backward=2,
                    backward=backward,
                    ess_threshold=1.0,
                ).estimate

            compile_s = _first_call(run)
            t, _ = median_time(run, repeats=repeats)
            est = float(run())
            rows.append(
                [
                    n,
                    backward,
                    t * 1e3,
                    t_pf * 1e3,
                    t / t_pf,
                    compile_s,
                    n * T / t / 1e6,
                    f"{est:.3f}",
                ]
            )
            echo(rows[-1])
    return rows


def _shd(B_true, adjacency) -> float:
    """Mean structural Hamming distance over a batch (a reversed edge counts once)."""
    true = np.asarray(B_true) != 0
    est = np.asarray(adjacency, bool)
    diff = true != est
    rev = true & est.swapaxes(-1, -2) & ~est
    return float(np.mean(diff.sum((-1, -2)) - rev.sum((-1, -2))))


def dag_rows(dims, num=8, singles=2, echo=print):
    rows = []
    for d in dims:
        probs = [
            dag.simulate_problem(jax.random.key(20_000 + k), d, 4 * d, 1000, "ER")
            for k in range(num)
        ]
        Xb = jnp.stack([p.X for p in probs])
        compile_b = _first_call(lambda Xb=Xb: dag.colide(Xb, "ev", lambda1=0.05))
        start = time.perf_counter()
        res = jax.block_until_ready(dag.colide(Xb, "ev", lambda1=0.05))
        batched = time.perf_counter() - start
        _first_call(lambda X=probs[0].X: dag.colide(X, "ev", lambda1=0.05))
        one = []
        for p in probs[:singles]:
            start = time.perf_counter()
            jax.block_until_ready(dag.colide(p.X, "ev", lambda1=0.05))
            one.append(time.perf_counter() - start)
        t_one = statistics.median(one)
        iters = np.asarray(res.info.total_iterations)
        shd = _shd(np.stack([p.B for p in probs]), res.adjacency)
        rows.append(
            [
                d,
                num,
                batched,
                t_one,
                batched / t_one,
                num * t_one / batched,
                compile_b,
                int(iters.max()),
                f"{int(np.sum(res.converged))}/{num}",
                shd,
            ]
        )
        echo(rows[-1])
    return rows


def dag_precision_rows(dims, echo=print):
    """One CoLiDE-EV fit traced with TF32 products vs full float32 products (the default)."""
    from probkit.core import precision as prec

    rows = []
    keep = prec.EXACT_PRECISION
    try:
        for d in dims:
            p = dag.simulate_problem(jax.random.key(20_000), d, 4 * d, 1000, "ER")
            for precision in ("tensorfloat32", "highest"):
                prec.EXACT_PRECISION = precision
                jax.clear_caches()
                res = jax.block_until_ready(dag.colide(p.X, "ev", lambda1=0.05))
                rows.append(
                    [
                        d,
                        precision,
                        int(res.info.total_iterations),
                        bool(res.converged),
                        bool(res.info.failed),
                        _shd(p.B, res.adjacency),
                    ]
                )
                echo(rows[-1])
    finally:
        prec.EXACT_PRECISION = keep
        jax.clear_caches()
    return rows


def _write(parts, quick):
    head = [
        "## GPU (benchmarks/gpu.py)" + (" — quick dry run" if quick else ""),
        "",
        f"Machine: {machine()}. Versions: {versions('numpyro', 'blackjax')}. float32; times are "
        "medians after a warm-up, compile (first call) apart.",
        "",
    ]
    text = "\n".join(head + parts)
    write_fragment(AREA, text)
    return text


def main(quick: bool = False, force: bool = False, only: str | None = None) -> str:
    if jax.default_backend() != "gpu" and not force:
        print("benchmarks/gpu.py: no GPU backend here; results/gpu.md left as it was.")
        return ""
    repeats = 3 if quick else 5
    parts = []
    if only not in (None, "dag"):
        raise ValueError(f"--only takes 'dag', got {only!r}")
    if only == "dag":
        return _dag_parts(parts, quick)
    pf = particle_filter_rows(
        [1000, 10_000] if quick else [10_000, 100_000, 1_000_000, 10_000_000], repeats
    )
    parts += [
        "**Bootstrap particle filter**, stochastic volatility (mu=-1, rho=0.95, sigma=0.2), "
        "T = 1000, systematic resampling every step, no history. Goal (issue 2): >= 1e9 "
        "particle-steps/s at N = 1e6.",
        "",
        md_table(["N", "PRNG", "ms per filter", "compile s", "1e9 particle-steps/s"], pf),
        "",
    ]
    _write(parts, quick)
    pr = paris_rows([1000, 10_000] if quick else [10_000, 100_000, 1_000_000], repeats)
    parts += [
        "**PaRIS** (K = 2, h = sum x_t), stochastic volatility (mu=-1.02, rho=0.9702, "
        "sigma=0.178), T = 200, resampling every step. The hybrid kernel's exact fallback is "
        "O(N) per failed row, so it is run up to N = 1e5, and the O(N^2) exact kernel up to 1e4. "
        "Goal (issue 3): PaRIS <= 2K = 4 bootstrap filters per particle-step.",
        "",
        md_table(
            [
                "N",
                "backward",
                "PaRIS ms",
                "filter ms",
                "PaRIS / filter",
                "compile s",
                "1e6 particle-steps/s",
                "estimate",
            ],
            pr,
        ),
        "",
    ]
    _write(parts, quick)
    return _dag_parts(parts, quick)


def _dag_parts(parts, quick):
    dims = (10,) if quick else (20, 50)
    pr = dag_precision_rows(dims)
    parts += [
        "**DAG learning and GPU matrix precision**: one CoLiDE-EV fit traced with TF32 "
        "products (JAX's GPU default for float32) vs full float32 products "
        '(`probkit.dag.learn.MATMUL_PRECISION = "highest"`, the default since this run).',
        "",
        md_table(["d", "matmul precision", "iterations", "converged", "failed", "SHD"], pr),
        "",
    ]
    _write(parts, quick)
    dr = dag_rows((10,) if quick else (20, 50, 100), singles=1 if quick else 2)
    parts += [
        "**Batched DAG learning**: CoLiDE-EV (lambda1 = 0.05, ER4, n = 1000, equal noise), 8 "
        "datasets in one `jax.vmap`ped call vs one fit (median of 2). Goal (issue 5): the "
        "batched call < 3x one fit. A vmapped while loop runs until its slowest member ends.",
        "",
        md_table(
            [
                "d",
                "datasets",
                "batched s",
                "one fit s",
                "batched / one",
                "throughput vs serial",
                "compile s",
                "iterations (slowest)",
                "converged",
                "mean SHD",
            ],
            dr,
        ),
        "",
    ]
    text = _write(parts, quick)
    print(text)
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--force", action="store_true", help="run without a GPU (dry run)")
    parser.add_argument("--only", choices=["dag"], help="run one part (the fragment keeps only it)")
    args = parser.parse_args()
    main(quick=args.quick, force=args.force, only=args.only)
