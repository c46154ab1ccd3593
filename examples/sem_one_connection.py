"""Linear SEMs on cyclic mixed graphs: the one-connection rule, finite-to-one, vanishing ideals.

Run standalone: `python examples/sem_one_connection.py [--out out/sem_one_connection]`.
It works the cyclic examples of Adhikari, Gross, Härkönen & Tsigaridas (2022) with probkit.sem:

1. the 3-cycle 0 -> 1 -> 2 -> 0 with a bow 0 <-> 1: its one-connections, det(I - Lambda) as a
   cycle-family sum, Sigma as a rational function, and the numbers of the research notes;
2. the one-connection rule against matrix inversion on random cyclic graphs, and sampling;
3. generic finite-to-one verdicts (Jacobian rank) for simple and non-simple graphs;
4. vanishing-ideal generators found numerically and certified exactly.

It writes a figure of the graph and of one-connection vs inverse covariances.
"""

import argparse
import pathlib

import jax
import numpy as np
import sympy

from probkit import sem
from probkit.tour import TourResult

TOUR = {"method": "Linear SEM: one-connection rule (cyclic mixed graphs)", "order": 50}

THREE_CYCLE = sem.MixedGraph(3, directed=[(0, 1), (1, 2), (2, 0)], bidirected=[(0, 1)])
FINITE_TO_ONE_CASES = {
    "bow 0->1, 0<->1": sem.MixedGraph(2, [(0, 1)], [(0, 1)]),
    "2-cycle 0->1->0": sem.MixedGraph(2, [(0, 1), (1, 0)]),
    "3-cycle with bow 0<->1": THREE_CYCLE,
    "simple 3-cycle": sem.MixedGraph(3, [(0, 1), (1, 2), (2, 0)]),
    "instrument 0->1->2, 1<->2": sem.MixedGraph(3, [(0, 1), (1, 2)], [(1, 2)]),
    "2-cycle with instruments 2->0, 3->1": sem.MixedGraph(4, [(2, 0), (3, 1), (0, 1), (1, 0)]),
    "simple: 0->1, 3-cycle 1->2->3->1, 0<->2": sem.MixedGraph(
        4, [(0, 1), (1, 2), (2, 3), (3, 1)], [(0, 2)]
    ),
}
IDEAL_CASES = {
    "chain 0->1->2": (sem.MixedGraph(3, [(0, 1), (1, 2)]), 2),
    "0->1 and 3-cycle 1->2->3->1": (sem.MixedGraph(4, [(0, 1), (1, 2), (2, 3), (3, 1)]), 3),
}


def worked_example(echo=print) -> dict:
    g = THREE_CYCLE
    echo(f"graph: {g}")
    for oc in sem.one_connections(g, 0, 2):
        echo(f"  one-connection 0 ~> 2: path {oc.path}, cycles {oc.cycles}, sign {oc.sign:+d}")
    for fam in sem.cycle_families(g):
        echo(f"  cycle family {fam.cycles}, sign {fam.sign:+d}")
    parts = sem.symbolic_parametrization(g)
    echo(f"det(I - Lambda) = {parts.determinant}")
    for i, j in [(0, 0), (0, 1), (1, 2)]:
        echo(f"Sigma_{i}{j} = ({parts.numerator[i, j]}) / ({parts.determinant})**2")
    a, b, c = 0.5, -0.4, 0.3
    lam = np.array([[0, a, 0], [0, 0, b], [c, 0, 0]])
    omega = np.array([[1, 0.2, 0], [0.2, 1, 0], [0, 0, 1]])
    with jax.enable_x64(True):
        sigma = np.asarray(sem.covariance(g, lam, omega, method="one-connection"))
        x = sem.LinearSEM(g, lam, omega).sample(jax.random.key(0), 20_000)
        sample_cov = np.asarray(x.T @ x / x.shape[0])
    echo(f"Sigma at a=.5, b=-.4, c=.3, omega_ii=1, omega_01=.2:\n{np.round(sigma, 4)}")
    echo(f"sample covariance of 20000 draws:\n{np.round(sample_cov, 3)}")
    return {"sigma": sigma, "sample_cov": sample_cov, "numerator": parts.numerator}


def random_check(num_graphs: int = 100, seed: int = 0) -> dict:
    """One-connection vs inverse Sigma on random cyclic mixed graphs of 3..7 nodes."""
    rng = np.random.default_rng(seed)
    pairs, worst = [], 0.0
    with jax.enable_x64(True):
        for t in range(num_graphs):
            n = 3 + t % 5
            a = rng.random((n, n)) < (0.4 if n < 6 else 0.3)
            np.fill_diagonal(a, False)
            cyc = rng.permutation(n)[: rng.integers(2, n + 1)]
            a[cyc, np.roll(cyc, -1)] = True  # at least one directed cycle
            b = np.triu(rng.random((n, n)) < 0.3, 1)
            g = sem.MixedGraph(n, directed=a, bidirected=b | b.T)
            lam, omega = sem.model.host_parameters(rng, g, 1, weight_range=(0.2, 0.7))
            big_n, det = sem.evaluate_plan(sem.compile_plan(g), lam[0], np)
            oc = big_n.T @ omega[0] @ big_n / det**2
            inv = np.linalg.inv(np.eye(n) - lam[0])
            ref = inv.T @ omega[0] @ inv
            worst = max(worst, float(np.max(np.abs(oc - ref)) / np.max(np.abs(ref))))
            pairs.append((ref.ravel(), oc.ravel()))
    return {"worst_relative_error": worst, "pairs": pairs}


def finite_to_one(echo=print) -> dict:
    out = {}
    for name, g in FINITE_TO_ONE_CASES.items():
        res = sem.is_generically_finite_to_one(g, exact=True)
        out[name] = res
        echo(
            f"  {name:42s} simple={res.simple!s:5}  parameters={res.num_parameters:2d}  "
            f"dim={res.dimension:2d}/{res.ambient_dimension:2d}  finite-to-one={res.finite_to_one}"
        )
    return out


def ideals(echo=print) -> dict:
    out = {}
    for name, (g, degree) in IDEAL_CASES.items():
        res = sem.explore_vanishing_ideal(g, degree)
        out[name] = res
        echo(f"  {name}: dim I_d = {res.dimensions}, certified={res.certified}")
        for f in res.generators:
            echo(f"    {sympy.factor_terms(f)}")
    return out


def run(out_dir: pathlib.Path | None = None, num_graphs: int = 100, echo=print) -> dict:
    echo("1. worked example")
    ex = worked_example(echo)
    echo("2. one-connection rule vs inverse")
    rc = random_check(num_graphs)
    worst = rc["worst_relative_error"]
    echo(f"  {num_graphs} random cyclic graphs: max relative error {worst:.1e}")
    echo("3. generically finite-to-one?")
    f2o = finite_to_one(echo)
    echo("4. vanishing ideal")
    vi = ideals(echo)
    summary = {"example": ex, "random": rc, "finite_to_one": f2o, "ideals": vi}
    if out_dir is not None:
        summary["figures"] = _plot(pathlib.Path(out_dir), rc)
    return summary


def _plot(out_dir: pathlib.Path, rc) -> tuple:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    out_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    d, b = THREE_CYCLE.to_networkx()
    pos = {0: (0.0, 0.0), 1: (1.0, 0.0), 2: (0.5, 0.85)}
    nx.draw_networkx_nodes(d, pos, ax=axes[0], node_color="#dde7f5", node_size=900)
    nx.draw_networkx_labels(d, pos, ax=axes[0])
    nx.draw_networkx_edges(d, pos, ax=axes[0], arrows=True, arrowsize=18, node_size=900)
    nx.draw_networkx_edges(
        b.to_directed(),
        pos,
        ax=axes[0],
        style="dashed",
        edge_color="tab:red",
        connectionstyle="arc3,rad=0.35",
        arrows=True,
        arrowstyle="<|-|>",
        node_size=900,
    )
    axes[0].set_title("3-cycle with bow 0 <-> 1 (dashed)")
    axes[0].axis("off")
    ref = np.concatenate([p[0] for p in rc["pairs"]])
    oc = np.concatenate([p[1] for p in rc["pairs"]])
    axes[1].scatter(ref, oc, s=4, alpha=0.5)
    lim = [min(ref.min(), oc.min()), max(ref.max(), oc.max())]
    axes[1].plot(lim, lim, color="0.5", lw=0.8)
    axes[1].set_xlabel("Sigma_ij by inverse")
    axes[1].set_ylabel("Sigma_ij by one-connection rule")
    axes[1].set_title(f"max rel. error {rc['worst_relative_error']:.1e}")
    fig.tight_layout()
    path = out_dir / "one_connection.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return (str(path),)


def tour(out_dir: pathlib.Path) -> TourResult:
    s = run(out_dir=out_dir, num_graphs=60, echo=lambda *a: None)
    sigma = s["example"]["sigma"]
    chain = s["ideals"]["chain 0->1->2"].generators
    verdicts = sum(bool(r) for r in s["finite_to_one"].values())
    return TourResult(
        computed="3-cycle Sigma; 1-connection vs inverse; finite-to-one; ideal",
        value=(
            f"Sigma_01={sigma[0, 1]:.4f}; err {s['random']['worst_relative_error']:.0e}; "
            f"{verdicts}/{len(s['finite_to_one'])} finite-to-one; chain: {chain[0]}"
        ),
        figures=s.get("figures", ()),
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--out",
        default="out/sem_one_connection",
        help="folder for the figures (default: %(default)s)",
    )
    parser.add_argument(
        "--num-graphs",
        type=int,
        default=100,
        help="random cyclic mixed graphs checked against matrix inversion (default: %(default)s)",
    )
    args = parser.parse_args()
    run(pathlib.Path(args.out), args.num_graphs)
