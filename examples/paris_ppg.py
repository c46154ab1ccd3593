"""PaRIS, Parisian particle Gibbs and learning with them (Cardoso et al., ICML 2023).

Run standalone: `python examples/paris_ppg.py [--out out/paris_ppg]`. It reproduces the paper's
message on a linear-Gaussian model, where Kalman/RTS give exact answers:

1. bias at small N: PaRIS (self-normalised) is biased by O(1/N); PPG's roll-out estimator,
   at the same cost (k PaRIS passes each), is not;
2. learning: stochastic-approximation MLE driven by PPG converges to the exact MLE, while the
   same loop driven by fresh PaRIS runs settles at a biased point;
3. composability: NUTS within particle Gibbs — a blackjax NUTS step on ρ alternating with a
   conditional-SMC path update — recovers the grid-computed posterior mean of ρ.

It also runs PaRIS online on stochastic volatility. Figures go to the output folder.
"""

import argparse
import pathlib

import blackjax
import jax
import jax.numpy as jnp
import numpy as np

from probkit import smc, ssm
from probkit.tour import TourResult

TOUR = {"method": "PaRIS, Parisian particle Gibbs, learning", "order": 20}


def lg_params(u):
    """u = {rho, log_sx, log_sy} -> 1-D linear-Gaussian parameters (x_0 ~ N(0, 1))."""
    one = jnp.ones((1, 1))
    return ssm.LinearGaussianParams(
        u["rho"] * one,
        jnp.exp(2 * u["log_sx"]) * one,
        one,
        jnp.exp(2 * u["log_sy"]) * one,
        jnp.zeros(1),
        one,
    )


def bias_study(model, u, ys, num_particles=50, num_iterations=50, num_chains=20):
    """E[Σ x_t²] and the score by PPG (roll-out) and by PaRIS at equal cost, against exact."""
    rts = ssm.rts_smoother(lg_params(u), ys)
    exact_sq = float(jnp.sum(rts.means[:, 0] ** 2 + rts.covs[:, 0, 0]))
    exact_score = jax.grad(lambda v: ssm.kalman_filter(lg_params(v), ys).log_likelihood)(u)
    model_u = smc.learning.reparametrized(model, lg_params)
    score = smc.score_functional(model_u)
    h = smc.AdditiveFunctional(
        lambda x0, ctx: (x0[0] ** 2, score.initial(x0, ctx)),
        lambda xp, x, t, ctx: (x[0] ** 2, score.increment(xp, x, t, ctx)),
        with_context=True,
        name="sum of squares and score",
    )

    def run(key, conditional):
        return smc.ppg(
            key,
            model_u,
            u,
            ys,
            h,
            num_particles,
            num_iterations,
            burn_in=num_iterations // 10,
            conditional=conditional,
        )

    keys = jax.random.split(jax.random.key(1), num_chains)
    ppg = jax.vmap(lambda k: run(k, True))(keys)
    paris = jax.vmap(lambda k: run(k, False))(keys)  # independent PaRIS passes, same cost
    out = {}
    for name, res in (("PPG", ppg), ("PaRIS", paris)):
        sq = np.asarray(res.iterates[0])  # (chains, iterations)
        est = sq[:, num_iterations // 10 :].mean(1) if name == "PPG" else sq.mean(1)
        rho = np.asarray(res.iterates[1]["rho"])
        est_rho = rho[:, num_iterations // 10 :].mean(1) if name == "PPG" else rho.mean(1)
        out[name] = {"sum_sq": est, "score_rho": est_rho}
    return out, exact_sq, float(exact_score["rho"])


def learning_study(model, ys, num_particles=20, num_steps=600):
    """MLE of u by SA with PPG and with PaRIS scores, against the exact Kalman MLE."""
    import scipy.optimize

    def negll(v):
        return -ssm.kalman._kalman(
            lg_params({"rho": v[0], "log_sx": v[1], "log_sy": v[2]}), ys
        ).log_likelihood

    vg = jax.jit(jax.value_and_grad(negll))
    mle = scipy.optimize.minimize(
        lambda v: tuple(np.asarray(a) for a in vg(jnp.asarray(v))),
        np.array([0.5, 0.0, 0.0]),
        jac=True,
        method="BFGS",
    ).x
    u0 = {"rho": jnp.array(0.5), "log_sx": jnp.array(0.0), "log_sy": jnp.array(0.0)}
    fits = {
        est: smc.fit_mle(
            jax.random.key(2),
            model,
            u0,
            ys,
            num_particles=num_particles,
            num_steps=num_steps,
            estimator=est,
            parametrization=lg_params,
            step_size=1.0,
            decay=0.6,
        )
        for est in ("ppg", "paris")
    }
    return fits, mle


def nuts_within_pg(model, ys, num_iterations=400):
    """Posterior of ρ (prior N(0.5, 0.5²)): NUTS on ρ | path alternating with CSMC on path | ρ."""

    def params_of(rho):
        return lg_params(
            {"rho": rho, "log_sx": jnp.array(0.0), "log_sy": jnp.array(0.5 * np.log(0.5))}
        )

    grid = jnp.linspace(-0.5, 1.8, 1501)
    log_post = jax.vmap(lambda r: ssm.kalman_filter(params_of(r), ys).log_likelihood)(grid)
    log_post = log_post - 0.5 * ((grid - 0.5) / 0.5) ** 2
    w = np.exp(np.asarray(log_post - log_post.max()))
    exact = float(np.sum(w * grid) / np.sum(w))

    csmc = smc.csmc.kernel(model, ys, num_particles=20)

    def log_density(rho, path):
        return -0.5 * ((rho - 0.5) / 0.5) ** 2 + ssm.log_joint(model, params_of(rho), path, ys)

    def gibbs_step(carry, key):
        path_state, rho = carry
        k_path, k_rho = jax.random.split(key)
        path_state, _ = csmc.step(k_path, path_state, params_of(rho))
        nuts = blackjax.nuts(
            lambda r: log_density(r, path_state.path),
            step_size=0.2,
            inverse_mass_matrix=jnp.ones(1),
        )
        rho_state, _ = nuts.step(k_rho, nuts.init(rho))
        return (path_state, rho_state.position), rho_state.position

    path0 = smc.csmc.initial_path(jax.random.key(3), model, params_of(jnp.array(0.5)), ys, 20)
    _, rhos = jax.jit(
        lambda k: jax.lax.scan(
            gibbs_step, (csmc.init(path0), jnp.array(0.5)), jax.random.split(k, num_iterations)
        )
    )(jax.random.key(4))
    return np.asarray(rhos), exact, (np.asarray(grid), w / w.sum() / float(grid[1] - grid[0]))


def online_sv(num_particles=500, num_steps=200):
    """PaRIS on stochastic volatility: the online estimate of E[Σ_s≤t x_s | y_0:t]."""
    model, params = ssm.stochastic_volatility(mu=-1.02, rho=0.9702, sigma=0.178)
    xs, ys = ssm.simulate(jax.random.key(5), model, params, num_steps)
    h = smc.AdditiveFunctional(lambda x0: x0, lambda xp, x, t: x, name="running sum")
    res = smc.paris(jax.random.key(6), model, params, ys, h, num_particles)
    return np.asarray(xs), np.asarray(res.online), float(res.log_likelihood)


def run(out_dir: pathlib.Path | None = None, quick: bool = False):
    with jax.enable_x64(True):
        model, _ = ssm.linear_gaussian(0.8, 1.0, 1.0, 0.5, 0.0, 1.0)
        u = {
            "rho": jnp.array(0.8),
            "log_sx": jnp.array(0.0),
            "log_sy": jnp.array(0.5 * np.log(0.5)),
        }
        _, ys = ssm.simulate(jax.random.key(0), model, lg_params(u), 60)
        bias, exact_sq, exact_score_rho = bias_study(model, u, ys)
        fits, mle = learning_study(model, ys[:50] if quick else ys)
        rhos, exact_rho, grid_post = nuts_within_pg(model, ys[:30])
    xs_sv, online_sv_est, sv_ll = online_sv()

    def z(values, exact):
        return float((values.mean() - exact) / (values.std(ddof=1) / np.sqrt(len(values))))

    summary = {
        "exact_sum_sq": exact_sq,
        "ppg_sum_sq": float(bias["PPG"]["sum_sq"].mean()),
        "paris_sum_sq": float(bias["PaRIS"]["sum_sq"].mean()),
        "ppg_z": z(bias["PPG"]["sum_sq"], exact_sq),
        "paris_z": z(bias["PaRIS"]["sum_sq"], exact_sq),
        "ppg_score_rho_z": z(bias["PPG"]["score_rho"], exact_score_rho),
        "paris_score_rho_z": z(bias["PaRIS"]["score_rho"], exact_score_rho),
        "mle_rho": float(mle[0]),
        "fit_ppg_rho": float(fits["ppg"].params["rho"]),
        "fit_paris_rho": float(fits["paris"].params["rho"]),
        "nuts_pg_rho_mean": float(rhos[50:].mean()),
        "grid_rho_mean": exact_rho,
        "sv_log_likelihood": sv_ll,
    }
    if out_dir is not None:
        summary["figures"] = _plot(
            pathlib.Path(out_dir), bias, exact_sq, fits, mle, rhos, grid_post, xs_sv, online_sv_est
        )
    return summary


def _plot(out_dir, bias, exact_sq, fits, mle, rhos, grid_post, xs_sv, online_sv_est):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []

    fig, ax = plt.subplots(figsize=(6, 3.2))
    for i, name in enumerate(("PaRIS", "PPG")):
        vals = bias[name]["sum_sq"]
        ax.errorbar(
            i,
            vals.mean(),
            yerr=2 * vals.std(ddof=1) / np.sqrt(len(vals)),
            fmt="o",
            capsize=6,
            label=f"{name} (mean ± 2 SE over chains)",
        )
        ax.scatter(np.full(len(vals), i + 0.15), vals, s=8, alpha=0.5)
    ax.axhline(exact_sq, color="k", lw=1, label="exact (RTS)")
    ax.set_xticks([0, 1], ["PaRIS, 50 runs", "PPG, 50 iterations"])
    ax.set_ylabel("E[Σ x_t² | y]  (N = 50)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(out_dir / "bias_at_equal_cost.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.2))
    for est, fit in fits.items():
        ax.plot(np.asarray(fit.trace["rho"]), lw=0.8, label=f"SA with {est.upper()} scores")
    ax.axhline(mle[0], color="k", lw=1, label="exact MLE (Kalman)")
    ax.set_xlabel("iteration")
    ax.set_ylabel("ρ")
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(out_dir / "learning_rho.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    axes[0].hist(rhos[50:], bins=40, density=True, alpha=0.6, label="NUTS within PG")
    axes[0].plot(*grid_post, color="k", lw=1, label="exact (grid)")
    axes[0].set_xlabel("ρ")
    axes[0].legend(fontsize=7)
    t = np.arange(len(xs_sv))
    axes[1].plot(t, np.cumsum(xs_sv), lw=0.8, label="sum of x_s for s <= t (truth)")
    axes[1].plot(t, online_sv_est, lw=0.8, label="PaRIS online estimate")
    axes[1].set_xlabel("t")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    paths.append(out_dir / "nuts_within_pg_and_online_sv.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return tuple(str(p) for p in paths)


def tour(out_dir: pathlib.Path) -> TourResult:
    s = run(out_dir, quick=True)
    return TourResult(
        computed="E[Σx²|y] at N=50: PaRIS vs PPG (equal cost) vs RTS; SA-MLE of ρ; NUTS-in-PG",
        value=(
            f"bias z: PaRIS {s['paris_z']:+.1f}, PPG {s['ppg_z']:+.1f}; ρ̂ PPG "
            f"{s['fit_ppg_rho']:.3f} / PaRIS {s['fit_paris_rho']:.3f} vs MLE "
            f"{s['mle_rho']:.3f}; E[ρ|y] {s['nuts_pg_rho_mean']:.3f} vs "
            f"{s['grid_rho_mean']:.3f}"
        ),
        figures=s.get("figures", ()),
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default="out/paris_ppg", help="folder for the figures (default: %(default)s)"
    )
    args = parser.parse_args()
    for k, v in run(pathlib.Path(args.out)).items():
        print(f"{k:>20}: {v}")
