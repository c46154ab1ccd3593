"""Linear SEMs: one-connection rule vs matrix inversion, numeric and symbolic.

(a) Numeric: Sigma for 1e5 random parameter draws of a 10-node cyclic mixed graph, in float64:
    probkit's one-connection plan (jit + vmap, and `batch_covariance`), probkit's batched
    inverse, and a plain NumPy loop over draws. Reported as draws per second.
(b) Symbolic: Sigma as numerator / det(I - Lambda)^2 for cyclic graphs of 4..8 nodes: probkit's
    one-connection construction (sparse integer polynomials; and converted to sympy
    expressions) against sympy's own symbolic inverse of (I - Lambda) followed by `cancel`
    (the same canonical numerator / denominator form), and sympy's fraction-free adjugate
    (Bareiss) with `expand`. Sympy runs in a child process with a time limit.
    Target (issue #4): probkit >= 10x faster than sympy's inverse at 6 nodes, 8 nodes < 1 min.

    python -m benchmarks.sem [--quick]
"""

import multiprocessing
import sys
import time

import jax
import numpy as np

from benchmarks.common import machine, md_table, median_time, versions, write_fragment
from probkit import sem


def numeric_graph() -> sem.MixedGraph:
    """10 nodes: a 10-cycle, chords i -> i+3 (more cycles) and four bidirected edges."""
    n = 10
    directed = [(i, (i + 1) % n) for i in range(n)] + [(i, (i + 3) % n) for i in range(0, n, 3)]
    bidirected = [(0, 5), (2, 7), (3, 8), (1, 4)]
    return sem.MixedGraph(n, directed=directed, bidirected=bidirected)


def symbolic_graph(n: int, family: str = "sparse") -> sem.MixedGraph:
    """Cyclic test graphs on n nodes.

    sparse: an n-cycle, chords i -> i+3 for even i, bidirected i <-> i+2 for every third i.
    dense: every i -> i+1 and i -> i+2 (mod n), bidirected i <-> i+3 for even i.
    """
    if family == "sparse":
        chords = [(i, (i + 3) % n) for i in range(0, n, 2)]
        bidirected = [(i, (i + 2) % n) for i in range(0, n, 3)]
    else:
        chords = [(i, (i + 2) % n) for i in range(n)]
        bidirected = [(i, (i + 3) % n) for i in range(0, n, 2)]
    directed = [(i, (i + 1) % n) for i in range(n)] + chords
    return sem.MixedGraph(n, directed=directed, bidirected=bidirected)


def _numpy_loop(lams, omegas):
    out = np.empty_like(lams)
    eye = np.eye(lams.shape[-1])
    for b in range(lams.shape[0]):
        a = np.linalg.inv(eye - lams[b])
        out[b] = a.T @ omegas[b] @ a
    return out


def numeric(num_draws: int) -> tuple[str, dict]:
    g = numeric_graph()
    plan = sem.compile_plan(g)
    with jax.enable_x64(True):
        keys = jax.random.split(jax.random.key(0), num_draws)
        lams, omegas = jax.jit(
            jax.vmap(lambda k: sem.random_parameters(k, g, weight_range=(0.1, 0.5)))
        )(keys)
        lams, omegas = jax.block_until_ready((lams, omegas))
        lams_np, omegas_np = np.asarray(lams), np.asarray(omegas)

        oc = jax.jit(jax.vmap(lambda l, o: sem.covariance(g, l, o, method="one-connection")))
        inv = jax.jit(jax.vmap(lambda l, o: sem.covariance(g, l, o, method="inverse")))
        start = time.perf_counter()
        jax.block_until_ready(oc(lams, omegas))
        compile_oc = time.perf_counter() - start
        start = time.perf_counter()
        jax.block_until_ready(inv(lams, omegas))
        compile_inv = time.perf_counter() - start
        t_oc, _ = median_time(lambda: oc(lams, omegas), repeats=3)
        t_inv, _ = median_time(lambda: inv(lams, omegas), repeats=3)
        t_batch_oc, _ = median_time(
            lambda: sem.batch_covariance(g, lams, omegas, "one-connection").covariance,
            repeats=3,
        )
        t_batch_inv, _ = median_time(
            lambda: sem.batch_covariance(g, lams, omegas, "inverse").covariance, repeats=3
        )
        max_terms = sem.connections.DEFAULT_MAX_TERMS
        t_plan, _ = median_time(  # the compiled batch path alone, without eager validation
            lambda: sem.model._batch_jit(g, lams, omegas, max_terms, 1024)[0], repeats=3
        )
        n_loop = min(num_draws, 20_000)
        start = time.perf_counter()
        ref = _numpy_loop(lams_np[:n_loop], omegas_np[:n_loop])
        t_loop = (time.perf_counter() - start) * num_draws / n_loop
        err = float(np.max(np.abs(np.asarray(oc(lams, omegas))[:n_loop] - ref)))
    rows = [
        ["probkit one-connection, jit(vmap)", num_draws / t_oc, f"{compile_oc:.2f}"],
        ["probkit one-connection, batched plan (draw axis trailing)", num_draws / t_plan, "-"],
        ["probkit one-connection, batch_covariance (+ validation)", num_draws / t_batch_oc, "-"],
        ["probkit inverse, jit(vmap)", num_draws / t_inv, f"{compile_inv:.2f}"],
        ["probkit inverse, batch_covariance (+ validation)", num_draws / t_batch_inv, "-"],
        [f"NumPy loop (inv + 2 matmuls; {n_loop} draws, scaled)", num_draws / t_loop, "-"],
    ]
    text = "\n".join(
        [
            f"**(a) numeric**: 10-node cyclic graph ({len(g.directed)} directed edges, "
            f"{len(g.directed_cycles())} directed cycles, {len(g.bidirected)} bidirected); "
            f"one-connection plan: {plan.num_paths} paths, {plan.num_families} cycle families, "
            f"{plan.num_terms} terms. {num_draws} draws, float64; max |one-connection - NumPy| "
            f"= {err:.1e}.",
            "",
            md_table(["method", "draws / s", "compile s"], rows),
        ]
    )
    stats = {
        "oc_vs_inverse": t_inv / t_plan,
        "oc_vs_numpy": t_loop / t_plan,
    }
    return text, stats


def _probkit_symbolic(n: int, family: str) -> tuple[float, float, int]:
    g = symbolic_graph(n, family)
    sem.symbolic._polys.cache_clear()
    sem.compile_plan.cache_clear()
    start = time.perf_counter()
    parts = sem.symbolic_parametrization(g)
    ring_time = time.perf_counter() - start
    terms = sum(len(p) for p in parts.polynomials.values())
    _ = parts.numerator, parts.determinant  # sympy expressions
    return ring_time, time.perf_counter() - start, terms


def _sympy_child(n: int, family: str, kind: str, queue):
    import sympy

    from probkit.sem.symbolic import lambda_matrix, omega_matrix

    g = symbolic_graph(n, family)
    lam, omega = lambda_matrix(g), omega_matrix(g)
    a = sympy.eye(n) - lam
    start = time.perf_counter()
    if kind == "inverse":
        inv = a.inv()
        (inv.T * omega * inv).applyfunc(sympy.cancel)
    else:
        adj = a.adjugate()  # Bareiss, fraction-free: (I - Lambda)^{-1} = adj / det
        a.det()
        (adj * omega * adj.T).applyfunc(sympy.expand)
    queue.put(time.perf_counter() - start)


def _sympy_timed(n: int, family: str, kind: str, limit: float) -> float | None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_sympy_child, args=(n, family, kind, queue))
    proc.start()
    proc.join(limit + 30)  # + child start-up (imports)
    if proc.is_alive():
        proc.terminate()
        proc.join()
        return None
    return queue.get() if not queue.empty() else None


def symbolic(sizes, limit: float) -> tuple[str, dict]:
    rows, stats = [], {}
    for family in ("sparse", "dense"):
        stopped = {"inverse": False, "adjugate": False}
        for n in sizes:
            g = symbolic_graph(n, family)
            ring_t, full_t, terms = _probkit_symbolic(n, family)
            times = {}
            for kind in ("inverse", "adjugate"):
                # a larger graph is not tried once a smaller one ran past the limit
                times[kind] = None if stopped[kind] else _sympy_timed(n, family, kind, limit)
                stopped[kind] = times[kind] is None

            def fmt(t):
                return f"> {limit:.0f}" if t is None else f"{t:.3g}"

            def ratio(t, full_t=full_t):
                return f"> {limit / full_t:.0f}x" if t is None else f"{t / full_t:.1f}x"

            rows.append(
                [
                    f"{family} {n}",
                    f"{len(g.directed)}, {len(g.directed_cycles())}, {len(g.bidirected)}",
                    terms,
                    f"{ring_t:.3g}",
                    f"{full_t:.3g}",
                    fmt(times["inverse"]),
                    ratio(times["inverse"]),
                    fmt(times["adjugate"]),
                    ratio(times["adjugate"]),
                ]
            )
            stats[(family, n)] = (full_t, times["inverse"], times["adjugate"])
    text = "\n".join(
        [
            "**(b) symbolic**: Sigma as expanded numerator / det(I - Lambda)^2 for the graph "
            "families of `symbolic_graph` (sparse: n-cycle + chords i -> i+3 for even i + "
            "bidirected i <-> i+2 every third i; dense: all i -> i+1, i -> i+2 + bidirected "
            "i <-> i+3 for even i). probkit = `symbolic_parametrization` (integer polynomial "
            "ring; 'ring s') then conversion to sympy expressions ('full s'); sympy inverse = "
            "`(I - Lambda).inv()` then `cancel` on every entry of inv^T Omega inv (the same "
            "canonical form); sympy adjugate = Bareiss `adjugate()`, `det()`, `expand`. Seconds; "
            f"sympy stopped after {limit:.0f} s (and not tried on larger graphs of the family).",
            "",
            md_table(
                [
                    "graph, n",
                    "D, cycles, B",
                    "numerator terms",
                    "probkit ring s",
                    "probkit full s",
                    "sympy inverse+cancel s",
                    "speed-up",
                    "sympy adjugate+expand s",
                    "speed-up",
                ],
                rows,
            ),
        ]
    )
    return text, stats


def main(quick: bool = False) -> str:
    num_draws = 10_000 if quick else 100_000
    sizes = (4, 5, 6) if quick else (4, 5, 6, 7, 8)
    limit = 60.0 if quick else 240.0
    num_text, num_stats = numeric(num_draws)
    sym_text, sym_stats = symbolic(sizes, limit)
    verdicts = []
    for family in ("sparse", "dense"):
        full6, inv6, _ = sym_stats[(family, 6)]
        verdicts.append(
            f"{family}: " + (f"> {limit / full6:.0f}x" if inv6 is None else f"{inv6 / full6:.0f}x")
        )
    biggest = max(sizes)
    worst_big = max(sym_stats[(f, biggest)][0] for f in ("sparse", "dense"))
    text = "\n".join(
        [
            "## sem: one-connection rule (issue #4)",
            "",
            f"Machine: {machine()}. Versions: {versions('sympy', 'networkx')}. Shared machine: "
            "timings may be disturbed by other jobs.",
            "",
            num_text,
            "",
            sym_text,
            "",
            f"Targets: 6 nodes, probkit vs sympy inverse = {'; '.join(verdicts)} (target >= 10x); "
            f"{biggest} nodes, probkit full <= {worst_big:.2f} s (target < 60 s). "
            "Numeric (batched plan vs jit(vmap) inverse, vs NumPy loop): speed ratios "
            f"{num_stats['oc_vs_inverse']:.2f} and {num_stats['oc_vs_numpy']:.1f}.",
        ]
    )
    write_fragment("sem", text)
    print(text)
    return text


if __name__ == "__main__":
    main(quick="--quick" in sys.argv[1:])
