"""Bootstrap particle filter: probkit vs `particles` 0.4 on stochastic volatility.

Same data (T = 1000 simulated once), same process, systematic resampling at every step, no
history kept. probkit's compile time is reported apart; steady-state times are medians over
repeated runs with fresh keys. Also checks that both give the same log-likelihood within Monte
Carlo error. Run: `python -m benchmarks.particle_filter [--quick]`.
"""

import argparse
import statistics
import time

import jax
import numpy as np

from benchmarks.common import machine, md_table, versions, write_fragment
from probkit import smc, ssm

MU, RHO, SIGMA, T = -1.0, 0.95, 0.2, 1000


def time_particles(ys, n, repeats):
    import particles
    from particles import state_space_models as pssm

    model = pssm.StochVol(mu=MU, rho=RHO, sigma=SIGMA)
    fk = pssm.Bootstrap(ssm=model, data=list(np.asarray(ys, dtype=float)))
    times, lls = [], []
    for r in range(repeats + 1):
        pf = particles.SMC(
            fk=fk,
            N=n,
            resampling="systematic",
            ESSrmin=1.0,
            store_history=False,
            collect=None,
            verbose=False,
        )
        start = time.perf_counter()
        pf.run()
        if r > 0:  # first run is a warm-up
            times.append(time.perf_counter() - start)
        lls.append(pf.logLt)
    return statistics.median(times), np.array(lls)


def time_probkit(ys, n, repeats, impl):
    model, params = ssm.stochastic_volatility(MU, RHO, SIGMA)

    def run(seed):
        key = jax.random.key(seed, impl=impl)
        res = smc.particle_filter(
            key, model, params, ys, n, resampling="systematic", ess_threshold=1.0, history=False
        )
        return res.log_likelihood

    start = time.perf_counter()
    jax.block_until_ready(run(10_000))
    compile_s = time.perf_counter() - start
    times, lls = [], []
    for r in range(repeats):
        start = time.perf_counter()
        ll = jax.block_until_ready(run(r))
        times.append(time.perf_counter() - start)
        lls.append(float(ll))
    return statistics.median(times), compile_s, np.array(lls)


def main(quick: bool = False) -> str:
    model, params = ssm.stochastic_volatility(MU, RHO, SIGMA)
    _, ys = ssm.simulate(jax.random.key(0), model, params, T)
    sizes = [100, 1000] if quick else [100, 1000, 10_000]
    repeats = 3 if quick else 7
    rows = []
    for n in sizes:
        t_peer, ll_peer = time_particles(ys, n, repeats)
        for impl in ("threefry2x32", "rbg"):
            t_pk, t_compile, ll_pk = time_probkit(ys, n, repeats, impl)
            diff = ll_pk.mean() - ll_peer.mean()
            se = np.sqrt(ll_pk.var(ddof=1) / len(ll_pk) + ll_peer.var(ddof=1) / len(ll_peer))
            rows.append(
                [
                    n,
                    impl,
                    t_peer,
                    t_pk,
                    t_peer / t_pk,
                    t_compile,
                    n * T / t_pk / 1e6,
                    f"{diff:+.2f} ({diff / se:+.1f} SE)",
                ]
            )
            print(rows[-1], flush=True)
    table = md_table(
        [
            "N",
            "probkit PRNG",
            "particles s",
            "probkit s",
            "speed-up",
            "probkit compile s",
            "probkit M particle-steps/s",
            "mean log-lik diff (probkit - particles)",
        ],
        rows,
    )
    text = "\n".join(
        [
            "## Particle filter (benchmarks/particle_filter.py)",
            "",
            f"Stochastic volatility (mu={MU}, rho={RHO}, sigma={SIGMA}), T={T}, bootstrap filter,",
            "systematic resampling every step, no history; medians of "
            f"{repeats} runs after a warm-up; probkit in float32 (default), particles in float64.",
            f"Machine: {machine()}. Versions: {versions('particles', 'numba')}.",
            "",
            table,
            "",
            "Targets (issue 2): >= 10x at N=100, >= 3x at N=1000 and N=10000 (steady state).",
            "GPU throughput at N=1e6 (goal >= 1e9 particle-steps/s): see the GPU section",
            "(benchmarks/gpu.py).",
        ]
    )
    write_fragment("particle_filter", text)
    print(text)
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
