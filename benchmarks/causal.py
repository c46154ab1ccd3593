"""probkit.causal against pgmpy: every single-variable interventional marginal.

Random binary causal networks with 10, 15 and 20 variables (parents drawn among earlier nodes
with probability 1/2, at most 3 per node, Dirichlet(1) CPT rows). For every ordered pair X != Y
and both states x, P(Y | do(X = x)):

- probkit: `CausalModel.effects()` — one einsum of the truncated factorisation per (X, Y) over
  Y's ancestors, both x at once;
- pgmpy: `CausalInference(model).query([Y], do={X: x})` on the same network (converted with
  `CausalModel.to_pgmpy`), variable elimination with the parents of X as adjustment set.

pgmpy refuses a query whose Y is an ancestor of X, so those pairs are left out of pgmpy's count
(probkit still computes them: its time covers every pair). Both run in float64 in this process;
answers must agree to 1e-8. probkit's cold time is its first call (including any one-off JAX
dispatch set-up), the warm time the median of repeated calls.

    python -m benchmarks.causal [--quick]
"""

import argparse
import time
import warnings

import jax
import networkx as nx
import numpy as np

from benchmarks.common import machine, md_table, median_time, timed, versions, write_fragment
from probkit import causal

SIZES = (10, 15, 20)


def _pgmpy_all(model: causal.CausalModel):
    """pgmpy's answers for every allowed (X, Y, x), and the seconds it took."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from pgmpy.inference import CausalInference
    bn = model.to_pgmpy()
    graph = model.graph
    start = time.perf_counter()
    infer = CausalInference(bn)
    answers = {}
    for x_var in model.observed:
        ancestors = nx.ancestors(graph, x_var)
        for y_var in model.observed:
            if y_var == x_var or y_var in ancestors:
                continue
            for x in range(model.cardinality[x_var]):
                factor = infer.query([y_var], do={x_var: x}, show_progress=False)
                answers[(x_var, y_var, x)] = np.asarray(factor.values)
    return answers, time.perf_counter() - start


def run(sizes=SIZES, repeats: int = 5) -> list[dict]:
    rows = []
    with jax.enable_x64(True):
        for n in sizes:
            model = causal.random_model(jax.random.key(n), n, max_parents=3)
            effects, cold = timed(model.effects)
            warm, _ = median_time(model.effects, repeats=repeats)
            answers, pgmpy_s = _pgmpy_all(model)
            err = max(
                float(np.max(np.abs(np.asarray(effects[(xv, yv)].table[x]) - ref)))
                for (xv, yv, x), ref in answers.items()
            )
            rows.append(
                dict(
                    n=n,
                    edges=model.graph.number_of_edges(),
                    probkit_queries=2 * len(effects),
                    pgmpy_queries=len(answers),
                    pgmpy_s=pgmpy_s,
                    cold_s=cold,
                    warm_s=warm,
                    max_abs_diff=err,
                )
            )
    return rows


def main(quick: bool = False) -> str:
    rows = run(sizes=SIZES[:1] if quick else SIZES, repeats=3 if quick else 5)
    table = md_table(
        [
            "variables",
            "edges",
            "probkit queries",
            "pgmpy queries",
            "pgmpy s",
            "probkit cold s",
            "probkit warm s",
            "speed-up (cold)",
            "speed-up (warm)",
            "max abs diff",
        ],
        [
            [
                r["n"],
                r["edges"],
                r["probkit_queries"],
                r["pgmpy_queries"],
                r["pgmpy_s"],
                r["cold_s"],
                r["warm_s"],
                r["pgmpy_s"] / r["cold_s"],
                r["pgmpy_s"] / r["warm_s"],
                f"{r['max_abs_diff']:.1e}",
            ]
            for r in rows
        ],
    )
    pg = sum(r["pgmpy_s"] for r in rows)
    cold = sum(r["cold_s"] for r in rows)
    warm = sum(r["warm_s"] for r in rows)
    worst = max(r["max_abs_diff"] for r in rows)
    verdict = "met" if pg / cold >= 10 and worst <= 1e-8 else "NOT met"
    if quick:
        verdict += " (quick run: the 10-variable network only; the target is for all three)"
    text = "\n".join(
        [
            "## causal: all interventional marginals P(Y | do(X=x)), probkit vs pgmpy",
            "",
            f"Machine: {machine()}",
            "",
            f"Versions: {versions('pgmpy', 'opt_einsum', 'networkx')}",
            "",
            "Random binary networks (at most 3 parents per node), float64 on CPU. probkit answers "
            "every ordered pair (X, Y), both x, with `CausalModel.effects()`; pgmpy answers the "
            "pairs its `CausalInference.query` accepts (Y not an ancestor of X), one query per "
            "(X, Y, x). Cold = probkit's first call; warm = median of repeated calls.",
            "",
            table,
            "",
            f"Total: pgmpy {pg:.3g} s, probkit {cold:.3g} s cold / {warm:.3g} s warm — "
            f"{pg / cold:.1f}x (cold) and {pg / warm:.1f}x (warm) faster; largest difference "
            f"{worst:.1e}. Target (>= 10x in total, agreement to 1e-8): {verdict}.",
            "",
            "The machine is shared with other sessions, so absolute times may be disturbed; both "
            "libraries ran in the same process on the same networks.",
        ]
    )
    write_fragment("causal", text)
    print(text)
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="only the 10-variable network")
    main(quick=parser.parse_args().quick)
