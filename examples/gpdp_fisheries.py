"""GP dynamic programming for a fishery with a tipping point (Boettiger, Mangel & Munch 2015).

Run standalone: `python examples/gpdp_fisheries.py [--mode paper|corrected|both] [--out DIR]`.
It fits a GP (NUTS over its hyperparameters) and three parametric models (Allen, Ricker, Myers)
to the authors' archived 40-point training set, builds the transition tensors, solves the
stochastic dynamic program for six policies (true model, Allen posterior, GP, maximum
likelihood, Ricker, Myers), simulates 100 fifty-year runs under the true Allen model with the
authors' random numbers, and compares the NPV ratios and crash counts with the archived figures.
Figures: posterior fits, policies (escapement against stock), trajectories, NPV ratios.
"""

import argparse
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from probkit import gpdp
from probkit.tour import TourResult

TOUR = {"method": "GP dynamic programming (fisheries, tipping point)", "order": 80}
ARCHIVE_NAMES = {"true": "True", "allen": "Allen", "gp": "GP", "mle": "MLE"}
ARCHIVE_NAMES |= {"ricker": "Ricker", "myers": "Myers"}


def run(
    mode: str = "paper",
    num_warmup: int = 150,
    num_samples: int = 50,
    num_par_draws: int = 40,
    seed: int = 0,
    out_dir: pathlib.Path | None = None,
) -> dict:
    """One comparison per mode; returns a summary dict (and figures when `out_dir` is set)."""
    modes = ("paper", "corrected") if mode == "both" else (mode,)
    archived = gpdp.load_archived_policies()
    summary, tables = {}, {}
    for m in modes:
        out = gpdp.reproduce_paper(
            jax.random.key(seed),
            m,
            num_warmup=num_warmup,
            num_samples=num_samples,
            num_par_draws=num_par_draws,
            r_noise_seed=1 if m == "paper" else None,
        )
        tables[m] = out
        for name in gpdp.POLICIES:
            row = out[name]
            agree = gpdp.policy_agreement(
                row["harvest"], archived[ARCHIVE_NAMES[name]], out["x_grid"]
            )
            summary[f"{m}/{name}"] = (
                f"NPV ratio {row['npv_ratio']:.3f} ± {row['npv_ratio_se']:.3f}, "
                f"crashes {row['crashes']:3d}, within one cell of figure 3 on {agree:.0%}"
                + (
                    f" (archive {gpdp.ARCHIVED_RESULTS[name]['npv_ratio']:.3f}, "
                    f"{gpdp.ARCHIVED_RESULTS[name]['crashes']})"
                    if m == "paper"
                    else ""
                )
            )
    if out_dir is not None:
        summary["figures"] = _plot(pathlib.Path(out_dir), tables, archived)
    summary["_tables"] = tables
    return summary


def _plot(out_dir, tables, archived):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    data = gpdp.load_training_data()
    paths = []
    for m, out in tables.items():
        g = out["x_grid"]
        post = out["gp_posterior"]
        ell, sn = post.flat()
        mean, var = jax.vmap(gpdp.gp_predict, in_axes=(None, None, None, 0, 0))(
            post.x, post.y, g, ell, sn
        )
        fig, ax = plt.subplots(figsize=(6, 4))
        mu, sd = mean.mean(0), jnp.sqrt(var.mean(0))
        ax.fill_between(g, mu - 2 * sd, mu + 2 * sd, color="0.85", label="GP ± 2 sd")
        ax.plot(g, mu, "k", label="GP mean")
        for name, color in (("allen", "C0"), ("ricker", "C1"), ("myers", "C2")):
            d = out["draws"][name]
            p = {k: float(np.median(np.asarray(v))) for k, v in d.items()}
            ax.plot(g, gpdp.MODELS[name].growth(g, p), color=color, label=f"{name} (median)")
        ax.plot(g, gpdp.allen.growth(g, gpdp.TRUTH), "k--", label="true")
        ax.plot(data[:, 0], data[:, 1], "o", ms=3, color="C3", label="training data")
        ax.plot(g, g, ":", color="0.5")
        ax.set(xlabel="x_t", ylabel="x_t+1", ylim=(-1, 12), title=f"posterior fits ({m})")
        ax.legend(fontsize=7)
        paths.append(out_dir / f"fits_{m}.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)

        fig, ax = plt.subplots(figsize=(6, 4))
        for name in gpdp.POLICIES:
            ax.plot(g, g - out[name]["harvest"], label=name)
        ax.plot(g, g - archived["GP"], "k:", label="GP (archived figure 3)")
        ax.set(xlabel="stock", ylabel="escapement", title=f"policies ({m})")
        ax.legend(fontsize=7)
        paths.append(out_dir / f"policies_{m}.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)

        fig, axes = plt.subplots(2, 3, figsize=(9, 5), sharex=True, sharey=True)
        for ax, name in zip(axes.ravel(), gpdp.POLICIES):
            ax.plot(np.asarray(out[name]["stock"]).T, lw=0.5, alpha=0.3)
            ax.set_title(f"{name}: {out[name]['crashes']} crashes", fontsize=9)
        fig.supxlabel("year")
        fig.supylabel("stock")
        paths.append(out_dir / f"trajectories_{m}.png")
        fig.tight_layout()
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    width = 0.8 / (len(tables) + 1)
    xs = np.arange(len(gpdp.POLICIES) - 1)
    names = gpdp.POLICIES[1:]
    ax.bar(xs, [gpdp.ARCHIVED_RESULTS[n]["npv_ratio"] for n in names], width, label="archive")
    for i, (m, out) in enumerate(tables.items(), 1):
        ax.bar(xs + i * width, [out[n]["npv_ratio"] for n in names], width, label=m)
    ax.set_xticks(xs + width * len(tables) / 2, names)
    ax.set(ylabel="NPV / true model's NPV", title="NPV ratios")
    ax.legend(fontsize=8)
    paths.append(out_dir / "npv_ratios.png")
    fig.tight_layout()
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return tuple(str(p) for p in paths)


def tour(out_dir: pathlib.Path) -> TourResult:
    s = run(mode="paper", out_dir=out_dir)
    gp = s["_tables"]["paper"]["gp"]
    return TourResult(
        computed="paper-mode GPDP vs 5 policies, 100 x 50-year runs (archived seeds)",
        value=(
            f"GP NPV ratio {gp['npv_ratio']:.3f}, {gp['crashes']} crashes "
            f"(archive {gpdp.ARCHIVED_RESULTS['gp']['npv_ratio']:.3f}, "
            f"{gpdp.ARCHIVED_RESULTS['gp']['crashes']})"
        ),
        figures=s.get("figures", ()),
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--mode",
        choices=("paper", "corrected", "both"),
        default="both",
        help="paper: the published construction and its quirks; corrected: CDF-binned kernels, "
        "process noise, discounting, proper priors; both (default: %(default)s)",
    )
    parser.add_argument(
        "--num-warmup",
        type=int,
        default=300,
        help="NUTS warm-up steps per fit (default: %(default)s)",
    )
    parser.add_argument(
        "--num-samples",
        type=int,
        default=150,
        help="NUTS draws per chain (2 chains) of the GP hyperparameters (default: %(default)s)",
    )
    parser.add_argument(
        "--num-par-draws",
        type=int,
        default=100,
        help="posterior draws mixed into each parametric tensor (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="JAX PRNG seed (default: %(default)s)")
    parser.add_argument(
        "--out", default="out/gpdp_fisheries", help="folder for the figures (default: %(default)s)"
    )
    args = parser.parse_args()
    s = run(args.mode, args.num_warmup, args.num_samples, args.num_par_draws, args.seed, args.out)
    for k, v in s.items():
        if not k.startswith("_"):
            print(f"{k:>18}: {v}")
