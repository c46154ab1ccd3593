"""Causal inference by string-diagram surgery: the smoking example of Jacobs, Kissinger & Zanasi.

Run standalone: `python examples/string_diagram_surgery.py [--out out/string_diagram_surgery]`.
It (1) builds the causal diagram H -> S -> T -> C <- H (H a hidden confounder of smoking S and
cancer C, T tar) as a string diagram and draws it before and after the cut at S; (2) computes
P(C | do(S)) from the observational table ω(S, T, C) alone by comb disintegration, and compares
it with naive conditioning; (3) asks `identify` for the same effect and evaluates its formula;
(4) checks on a random model with a 3-state confounder that the comb equals surgery on the full
model (interpreting the cut diagram with that model's tables), and estimates the effect from
5000 simulated observations.
"""

import argparse
import pathlib

import jax
import jax.numpy as jnp
import networkx as nx

from probkit import causal
from probkit.causal import Box, Copy, Diagram, Swap, Wire
from probkit.tour import TourResult

TOUR = {"method": "String-diagram surgery (comb disintegration, ID)", "order": 70}

# ω(S, T, C) from the paper, in the order 000, 001, 010, 011, 100, 101, 110, 111.
SMOKING = [0.50, 0.10, 0.01, 0.02, 0.10, 0.05, 0.02, 0.20]


def smoking_diagram(sizes=None) -> Diagram:
    """The causal diagram as a string diagram: one box per variable, copies feed the children."""
    sizes = sizes or {"H": 2, "S": 2, "T": 2, "C": 2}
    h, s, t, c = (Wire(v, sizes[v]) for v in "HSTC")
    idw = Diagram.id
    return (
        Box("H", [], [h])
        >> Copy(h)
        >> (Box("S", [h], [s]) @ idw([h]))
        >> (Copy(s) @ idw([h]))
        >> (idw([s]) @ Box("T", [s], [t]) @ idw([h]))
        >> (idw([s]) @ Copy(t) @ idw([h]))
        >> (idw([s, t]) @ Swap(t, h))
        >> (idw([s, t]) @ Box("C", [h, t], [c]))
    )  # C's inputs (H, T): sorted parents


def run(num_samples: int = 5000, out_dir: pathlib.Path | None = None) -> dict:
    with jax.enable_x64(True):
        return _run(num_samples, out_dir)


def _run(num_samples, out_dir):
    # 1-2. The observational table alone: naive conditioning vs comb disintegration.
    omega = causal.Distribution(jnp.asarray(SMOKING).reshape(2, 2, 2), ("S", "T", "C"))
    naive = [float(omega.condition({"S": s}).prob({"C": 1})) for s in (0, 1)]
    g, comb = causal.comb_disintegrate(omega, "S", "T", "C")
    do = comb.intervene(g)
    causal_effect = [float(do.at({"S": s}).prob({"C": 1})) for s in (0, 1)]
    assert jnp.allclose(comb.plug(g).table, omega.table)  # ω = comb[g]

    # 3. Identification from the graph, then evaluation on ω.
    graph = nx.DiGraph([("H", "S"), ("H", "C"), ("S", "T"), ("T", "C")])
    est = causal.identify(graph, "S", "C", latent=["H"])
    general = causal.identify(graph, "S", "C", latent=["H"], method="id")
    by_formula = [float(est.evaluate(omega, {"S": s}).prob({"C": 1})) for s in (0, 1)]
    by_id = [float(general.evaluate(omega, {"S": s}).prob({"C": 1})) for s in (0, 1)]

    # 4. A random model with a 3-state confounder: comb vs surgery, and vs finite data.
    sizes = {"H": 3, "S": 2, "T": 2, "C": 2}
    cpts = causal.random_cpts(jax.random.key(0), graph, sizes)
    model = causal.CausalModel(graph, cpts, sizes, latent=["H"])
    diagram = smoking_diagram(sizes)
    cut_joint = causal.interpret(causal.cut(diagram, "S"), boxes=cpts)
    surgery = jnp.stack([cut_joint.condition({"S": s}).marginal(["C"]).table for s in (0, 1)])
    from_joint = causal.front_door(model.joint(), "S", "T", "C").table
    draws = model.sample(jax.random.key(1), num_samples)
    from_data = causal.front_door(causal.empirical(draws, sizes), "S", "T", "C").table
    naive_model = model.joint().conditional(["C"], ["S"]).table

    summary = {
        "naive P(C=1|S=0), P(C=1|S=1)": naive,
        "comb P(C=1|do(S=0)), P(C=1|do(S=1))": causal_effect,
        "formula": est.formula,
        "identify (front-door) on ω": by_formula,
        "identify (general ID) on ω": by_id,
        "random model: max |comb - surgery|": float(jnp.max(jnp.abs(from_joint - surgery))),
        "random model: P(C=1|do(S)) surgery": [float(v) for v in surgery[:, 1]],
        "random model: naive P(C=1|S)": [float(v) for v in naive_model[:, 1]],
        f"random model: comb from {num_samples} samples": [float(v) for v in from_data[:, 1]],
    }
    if out_dir is not None:
        summary["figures"] = _plot(out_dir, diagram, naive, causal_effect)
    return summary


def _plot(out_dir, diagram, naive, effect):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(12, 5), gridspec_kw={"width_ratios": [1, 1, 1.1]})
    causal.draw(diagram, ax=axes[0], title="causal diagram D")
    causal.draw(causal.cut(diagram, "S"), ax=axes[1], title="cut_S(D)")
    x = jnp.arange(2)
    axes[2].bar(x - 0.18, naive, width=0.36, label="naive P(C=1 | S)")
    axes[2].bar(x + 0.18, effect, width=0.36, label="P(C=1 | do(S)) by comb")
    axes[2].set_xticks([0, 1], ["S = 0", "S = 1"])
    axes[2].set_ylim(0, 1)
    axes[2].legend(loc="upper left")
    axes[2].set_title("smoking example from ω alone")
    fig.tight_layout()
    path = out_dir / "smoking_surgery.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return (str(path),)


def tour(out_dir: pathlib.Path) -> TourResult:
    s = run(num_samples=5000, out_dir=out_dir)
    do0, do1 = s["comb P(C=1|do(S=0)), P(C=1|do(S=1))"]
    n0, n1 = s["naive P(C=1|S=0), P(C=1|S=1)"]
    return TourResult(
        computed="smoking example: P(C=1 | do(S)) from ω alone vs naive P(C=1 | S)",
        value=f"do: {do1:.5f} / {do0:.5f} vs naive {n1:.4f} / {n0:.4f} (S=1 / S=0)",
        figures=s.get("figures", ()),
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--num-samples",
        type=int,
        default=5000,
        help="samples drawn from the smoking model (empirical estimate) (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        default="out/string_diagram_surgery",
        help="folder for the figures (default: %(default)s)",
    )
    args = parser.parse_args()
    for k, v in run(args.num_samples, pathlib.Path(args.out)).items():
        print(f"{k:>42}: {v}")
