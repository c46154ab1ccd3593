"""Particle filter on stochastic volatility, and against the exact Kalman answer.

Run standalone: `python examples/particle_filter.py [--num-particles 1000] [--out out/pf]`.
It (1) simulates a stochastic-volatility series and filters it with the bootstrap filter,
(2) checks the filter's log-likelihood estimate against the Kalman filter on a 2-D
linear-Gaussian model, with a gap of missing observations, and writes two figures.
"""

import argparse
import pathlib

import jax
import jax.numpy as jnp

from probkit import smc, ssm
from probkit.tour import TourResult

TOUR = {"method": "Particle filter (bootstrap, ESS-triggered)", "order": 10}


def run(num_particles: int = 1000, num_steps: int = 300, out_dir: pathlib.Path | None = None):
    key = jax.random.key(0)
    k_sim, k_pf, k_lg, k_rep = jax.random.split(key, 4)

    # 1. Stochastic volatility: filter the log-variance.
    model, params = ssm.stochastic_volatility(mu=-1.0, rho=0.95, sigma=0.2)
    xs, ys = ssm.simulate(k_sim, model, params, num_steps)
    res = smc.particle_filter(k_pf, model, params, ys, num_particles)
    sv_mean = res.mean()

    # 2. Linear-Gaussian with missing observations: PF vs the exact Kalman filter.
    F = jnp.array([[0.9, 0.2], [0.0, 0.7]])
    lg_model, lg_params = ssm.linear_gaussian(
        F, 0.3 * jnp.eye(2), jnp.eye(2), 0.5 * jnp.eye(2), jnp.zeros(2), jnp.eye(2)
    )
    _, lg_ys = ssm.simulate(k_lg, lg_model, lg_params, 100)
    lg_ys = lg_ys.at[40:50].set(jnp.nan).at[60:70, 1].set(jnp.nan)
    exact = ssm.kalman_filter(lg_params, lg_ys)
    lls = jax.vmap(
        lambda k: (
            smc.particle_filter(
                k, lg_model, lg_params, lg_ys, num_particles, history=False
            ).log_likelihood
        )
    )(jax.random.split(k_rep, 20))

    summary = {
        "sv_log_likelihood": float(res.log_likelihood),
        "sv_resampling_rate": float(jnp.mean(res.resampled)),
        "lg_exact": float(exact.log_likelihood),
        "lg_pf_mean": float(jnp.mean(lls)),
        "lg_pf_sd": float(jnp.std(lls)),
    }
    if out_dir is not None:
        summary["figures"] = _plot(out_dir, xs, ys, sv_mean, res)
    return summary


def _plot(out_dir, xs, ys, sv_mean, res):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    axes[0].plot(ys, lw=0.6, color="0.4")
    axes[0].set_ylabel("y (returns)")
    axes[1].plot(xs, lw=1, label="true log-variance")
    axes[1].plot(sv_mean, lw=1, label="filtering mean")
    axes[1].set_ylabel("x")
    axes[1].legend()
    axes[1].set_xlabel("t")
    fig.tight_layout()
    path = out_dir / "stochastic_volatility_filter.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 2.5))
    ax.plot(res.ess, lw=0.8)
    ax.set_ylabel("ESS")
    ax.set_xlabel("t")
    fig.tight_layout()
    path2 = out_dir / "ess.png"
    fig.savefig(path2, dpi=110)
    plt.close(fig)
    return (str(path), str(path2))


def tour(out_dir: pathlib.Path) -> TourResult:
    s = run(num_particles=500, num_steps=200, out_dir=out_dir)
    return TourResult(
        computed="SV log-lik; LG log-lik PF vs Kalman (with gaps)",
        value=(
            f"SV {s['sv_log_likelihood']:.1f}; LG PF {s['lg_pf_mean']:.2f}±{s['lg_pf_sd']:.2f}"
            f" vs exact {s['lg_exact']:.2f}"
        ),
        figures=s.get("figures", ()),
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--num-particles",
        type=int,
        default=1000,
        help="particles N of the bootstrap filter (default: %(default)s)",
    )
    parser.add_argument(
        "--num-steps",
        type=int,
        default=300,
        help="length T of the simulated stochastic-volatility series (default: %(default)s)",
    )
    parser.add_argument(
        "--out", default="out/particle_filter", help="folder for the figures (default: %(default)s)"
    )
    args = parser.parse_args()
    for k, v in run(args.num_particles, args.num_steps, pathlib.Path(args.out)).items():
        print(f"{k:>22}: {v}")
