"""Import and first-call (compile) latency of probkit, with and without JAX's persistent cache.

Every measurement runs in a fresh Python process (`subprocess`), so nothing is cached in memory:

* import time of probkit and of each subpackage (`import probkit.<name>`, after nothing else),
  median of several processes;
* first call (trace + compile + run) and second call (run) of the main entry points, on small
  inputs, in three process states: no persistent cache; an empty cache directory (the first call
  compiles and writes the cache); the same directory again (the first call loads the compiled
  program). Median of `repeats` processes for each.

Run: `python -m benchmarks.startup [--quick]`; writes benchmarks/results/startup.md.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

from benchmarks.common import machine, md_table, versions, write_fragment

MODULES = [
    "jax",
    "numpyro",
    "blackjax",
    "probkit",
    "probkit.core",
    "probkit.ssm",
    "probkit.smc",
    "probkit.llm",
    "probkit.walks",
    "probkit.gpdp",
    "probkit.bridges",
    "probkit.sem",
    "probkit.dag",
    "probkit.causal",
]

# name: (setup, call). `call` is an expression; its value is blocked on.
ENTRY_POINTS = {
    "smc.particle_filter (SV, T=200, N=1000)": (
        """
        from probkit import smc, ssm
        model, params = ssm.stochastic_volatility()
        _, ys = ssm.simulate(jax.random.key(0), model, params, 200)
        """,
        "smc.particle_filter(jax.random.key(1), model, params, ys, 1000).log_likelihood",
    ),
    "smc.paris (SV, T=200, N=200)": (
        """
        from probkit import smc, ssm
        model, params = ssm.stochastic_volatility()
        _, ys = ssm.simulate(jax.random.key(0), model, params, 200)
        h = smc.AdditiveFunctional(initial=lambda x0: x0, increment=lambda xp, x, t: x)
        """,
        "smc.paris(jax.random.key(1), model, params, ys, h, num_particles=200).estimate",
    ),
    "llm.particle_filter (synthetic testbed, 16 particles)": (
        """
        from probkit import llm
        from probkit.llm import synthetic
        config = synthetic.Config()
        lm = synthetic.SyntheticLM.from_config(config)
        prm = synthetic.SyntheticPRM("last")
        probs = synthetic.problems(jax.random.key(0), 1, config)
        prompt = jax.tree.map(lambda x: x[0], probs)
        """,
        "jax.tree.leaves(llm.particle_filter(jax.random.key(1), lm, prm, prompt, 16))",
    ),
    "dag.colide (EV, d=10, n=500)": (
        """
        from probkit import dag
        kg, kw, kx = jax.random.split(jax.random.key(0), 3)
        W = dag.simulate_weights(kw, dag.simulate_dag(kg, 10, 20, graph_type="ER"))
        X = dag.simulate_linear_sem(kx, W, 500, noise="gaussian", noise_scale=1.0)
        """,
        'dag.colide(X, variant="ev", lambda1=0.05).weights',
    ),
    "walks.srrw (Les Miserables, 200 walkers x 2000 steps)": (
        """
        import networkx as nx
        from probkit import walks
        g = walks.from_networkx(nx.les_miserables_graph())
        """,
        "walks.srrw(jax.random.key(0), g, 2000, alpha=5.0, num_walkers=200).empirical",
    ),
    "gpdp.solve_sdp (value iteration, 50 states)": (
        """
        from probkit import gpdp
        x = jnp.linspace(0.0, 15.0, 50)
        reward = jnp.minimum(x[None, :], x[:, None])
        F = gpdp.parametric_transition_tensor("allen", gpdp.TRUTH, x, mode="corrected")
        """,
        "gpdp.solve_sdp(F, reward, 0.99).policy",
    ),
    "bridges.sinkhorn (200 x 200 points)": (
        """
        from probkit import bridges
        x = jax.random.normal(jax.random.key(0), (200, 2))
        cost = jnp.sum((x[:, None] - x[None] - 1.0) ** 2, -1)
        a = jnp.full(200, 1 / 200)
        """,
        "bridges.sinkhorn(a, a, cost, epsilon=0.5).plan",
    ),
}


def _python(code: str, env: dict | None = None):
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark process failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def import_time(module: str) -> float:
    code = (
        "import time, json; t = time.perf_counter(); import " + module + "; "
        "print(json.dumps(time.perf_counter() - t))"
    )
    return _python(code)


def first_calls(setup: str, call: str, cache_dir: str | None) -> dict:
    cache = ""
    if cache_dir is not None:
        cache = textwrap.dedent(f"""
            jax.config.update("jax_compilation_cache_dir", {cache_dir!r})
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        """)
    code = "\n".join(
        [
            "import json, time",
            "import jax, jax.numpy as jnp",
            cache,
            textwrap.dedent(setup),
            "def call():",
            f"    return jax.block_until_ready({call})",
            "t = time.perf_counter(); call(); first = time.perf_counter() - t",
            "t = time.perf_counter(); call(); second = time.perf_counter() - t",
            "print(json.dumps({'first': first, 'second': second}))",
        ]
    )
    return _python(code)


def main(quick: bool = False, repeats: int | None = None, call_repeats: int | None = None) -> str:
    repeats = repeats or (3 if quick else 5)
    call_repeats = call_repeats or repeats
    imports = []
    for module in MODULES:
        times = [import_time(module) for _ in range(repeats)]
        imports.append([module, statistics.median(times)])
        print(imports[-1], flush=True)
    rows = []
    entries = list(ENTRY_POINTS.items())[:2] if quick else ENTRY_POINTS.items()
    for name, (setup, call) in entries:
        cold, fill, warm, second = [], [], [], []
        for _ in range(call_repeats):
            r = first_calls(setup, call, None)
            cold.append(r["first"])
            second.append(r["second"])
            with tempfile.TemporaryDirectory() as d:
                fill.append(first_calls(setup, call, d)["first"])
                warm.append(first_calls(setup, call, d)["first"])
        med = [statistics.median(v) for v in (cold, fill, warm, second)]
        rows.append([name, *med])
        print(rows[-1], flush=True)
    text = "\n".join(
        [
            "## Startup: import and first-call latency (benchmarks/startup.py)",
            "",
            f"Every number is the median of fresh Python processes ({repeats} per import,",
            f"{call_repeats} per first-call column). Machine:",
            f"{machine()}; shared with other jobs while this ran (timings are noisy). Versions:",
            f"{versions('numpyro', 'blackjax')}.",
            "",
            "### Import time (s), `import <module>` in a fresh process",
            "",
            md_table(["module", "import s"], imports),
            "",
            "jax is most of every probkit import. probkit.core and probkit.smc no longer import",
            "blackjax (its row is what that used to add on top of jax); numpyro is imported by",
            "probkit.ssm, whose models are numpyro distributions, so probkit.smc still loads it.",
            "",
            "### First call of the main entry points (s)",
            "",
            "First call = trace + compile + run, in a fresh process; second call = run only.",
            '"cache empty": JAX\'s persistent compilation cache on, in an empty directory (the',
            'first call compiles and writes it); "cache warm": a new process on that directory.',
            "Both with `jax_persistent_cache_min_compile_time_secs = 0` (see docs/performance.md).",
            "",
            md_table(
                [
                    "entry point",
                    "first call, no cache",
                    "first call, cache empty",
                    "first call, cache warm",
                    "second call",
                ],
                rows,
            ),
        ]
    )
    write_fragment("startup", text)
    print(text)
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="two entry points, 3 processes")
    parser.add_argument("--repeats", type=int, default=None, help="processes per import (5)")
    parser.add_argument(
        "--call-repeats", type=int, default=None, help="processes per first-call column (5)"
    )
    args = parser.parse_args()
    main(args.quick, args.repeats, args.call_repeats)
