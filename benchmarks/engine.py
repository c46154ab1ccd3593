"""The one-engine redesign (issue 13) against the code before it: probkit's own wall times.

The peer ratios in this file's sibling sections divide a peer's time by probkit's, so a change
of probkit's time is what moves them. This script times the same workloads with the working tree
and with a git revision from before the redesign (default `3f471fa`, the last commit before the
shared particle step, the kernel-shape changes and `SMCConfig`), each in its own fresh process,
alternating old/new round by round on the same machine, and reports the median per workload and
the ratio new/old (goal: within 10%).

    python -m benchmarks.engine [--quick] [--before REV] [--rounds R]

Workloads (stochastic volatility, float32, threefry opt-in lowering as in every benchmark):
bootstrap filter T=1000 N=1000 resampling every step; PaRIS T=200 N=1000 K=2 hybrid;
PPG 5 iterations at the PaRIS settings; fit_mle 20 PPG steps T=200 N=100; the LLM particle
filter on 200 synthetic testbed problems, budget 16, vmapped.
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile

from benchmarks.common import machine, md_table, versions, write_fragment

AREA = "engine"
ROOT = pathlib.Path(__file__).resolve().parent.parent
BEFORE = "3f471fa"

# Runs in a fresh interpreter with the checkout under test first on sys.path; uses only API
# that is the same before and after the redesign. Prints {workload: median seconds}.
TIMER = r"""
import json, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import jax, jax.numpy as jnp
from probkit.core import prng
prng.use_unrolled_threefry_on_cpu(True)
from probkit import llm, smc, ssm
from probkit.llm import testbed

repeats = int(sys.argv[2])
model, params = ssm.stochastic_volatility(mu=-1.02, rho=0.9702, sigma=0.178)
_, ys_long = ssm.simulate(jax.random.key(0), model, params, num_steps=1000)
ys = ys_long[:200]
h = smc.AdditiveFunctional(lambda x0: x0, lambda xp, x, t: x)
cfg = testbed.Config()
probs = testbed.problems(jax.random.key(3), 200, cfg)
lm, prm = testbed.SyntheticLM.from_config(cfg), testbed.SyntheticPRM("last")
llm_fn = jax.jit(jax.vmap(lambda k, p: llm.particle_filter(
    k, lm, prm, p, 16, max_steps=cfg.num_steps).answer))
llm_keys = jax.random.split(jax.random.key(4), 200)

work = {
    "filter T=1000 N=1000": lambda k: smc.particle_filter(
        k, model, params, ys_long, 1000, ess_threshold=1.0, history=False).log_likelihood,
    "PaRIS T=200 N=1000 K=2": lambda k: smc.paris(
        k, model, params, ys, h, 1000, num_backward=2).estimate,
    "PPG 5 iterations": lambda k: smc.ppg(k, model, params, ys, h, 1000, 5).estimate,
    "fit_mle 20 steps N=100": lambda k: smc.fit_mle(
        k, model, params, ys, num_particles=100, num_steps=20).params,
    "LLM filter 200 problems": lambda k: llm_fn(llm_keys, probs),
}
out = {}
for name, fn in work.items():
    jax.block_until_ready(fn(jax.random.key(9)))  # compile
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(jax.random.key(10 + r)))
        times.append(time.perf_counter() - start)
    out[name] = statistics.median(times)
print(json.dumps(out))
"""


def _checkout(rev: str, where: pathlib.Path) -> pathlib.Path:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(where), rev],
        check=True,
        capture_output=True,
    )
    return where


def _time(checkout: pathlib.Path, repeats: int) -> dict:
    res = subprocess.run(
        [sys.executable, "-c", TIMER, str(checkout), str(repeats)],
        check=True,
        capture_output=True,
        text=True,
        cwd=str(checkout),
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def run(before: str, rounds: int, repeats: int) -> tuple[dict, dict]:
    """{workload: [median per round]} for the old and the new code, alternating rounds."""
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="probkit-before-"))
    old_tree = _checkout(before, tmp / "tree")
    old, new = {}, {}
    try:
        for _ in range(rounds):
            for store, tree in ((old, old_tree), (new, ROOT)):
                for name, t in _time(tree, repeats).items():
                    store.setdefault(name, []).append(t)
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old_tree)],
            capture_output=True,
        )
    return old, new


def main(quick: bool = False, before: str = BEFORE, rounds: int | None = None) -> str:
    rounds = rounds or (2 if quick else 4)
    repeats = 3 if quick else 5
    old, new = run(before, rounds, repeats)
    rows = []
    for name in old:
        o, n = statistics.median(old[name]), statistics.median(new[name])
        rows.append([name, f"{o:.4g}", f"{n:.4g}", f"{n / o:.3f}", "yes" if n / o <= 1.1 else "NO"])
    text = "\n".join(
        [
            "## One-engine redesign: before and after (benchmarks/engine.py)",
            "",
            f"probkit's own wall times at `{before}` (before issue 13's shared particle step, "
            "kernel shapes and `SMCConfig`) and at this commit, each in a fresh process, "
            f"alternating old/new for {rounds} rounds; per round the median of {repeats} warm "
            "runs, then the median over rounds. The peer ratios elsewhere in this file move by "
            "the inverse of the new/old ratio.",
            f"Machine: {machine()}. Versions: {versions()}.",
            "",
            md_table(["workload", "before s", "after s", "after / before", "within 10%"], rows),
        ]
    )
    write_fragment(AREA, text)
    print(text)
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 3 runs (default 4 x 5)")
    parser.add_argument("--before", default=BEFORE, help=f"git revision (default {BEFORE})")
    parser.add_argument("--rounds", type=int, default=None, help="old/new rounds (default 4)")
    args = parser.parse_args()
    main(quick=args.quick, before=args.before, rounds=args.rounds)
