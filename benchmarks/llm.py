"""LLM inference-time scaling: the synthetic testbed table, and probkit against its_hub.

(a) The testbed's accuracy-vs-budget table (6 methods x budgets 1..128 x 400 problems, the
    research notes' moderate-noise setting) and its wall time on this machine, compilation
    included (a fresh process), then again with every function compiled.
(b) its_hub (PyPI `its-hub`): the same synthetic language model and PRM wrapped in its
    interfaces (`AbstractLanguageModel`, `AbstractProcessRewardModel`,
    `AbstractOutcomeRewardModel`); its `ParticleFiltering` and `BestOfN` against probkit's
    paper-faithful `particle_filter` and `best_of_n` on the same problems. Accuracies must agree
    within standard error; throughput in problems per second for each.

    python -m benchmarks.llm [--quick]
"""

import asyncio
import random
import sys
import time

import jax
import numpy as np

from benchmarks.common import machine, md_table, versions, write_fragment
from probkit import llm
from probkit.llm import answers, testbed

STEP_SEP = "\n\n"


# --------------------------------------------------------------------------------------------
# its_hub adapters for the testbed's model (its interfaces, our synthetic model underneath)


def its_hub_adapters(problem, config, seed):
    from its_hub.api import (
        AbstractLanguageModel,
        AbstractOutcomeRewardModel,
        AbstractProcessRewardModel,
    )

    text_lm = testbed.TextSyntheticLM(problem, config)
    prm = testbed.text_prm("last")
    rng = np.random.default_rng(seed)

    def steps_of(messages):
        last = messages[-1]
        if getattr(last, "role", None) != "assistant" or not last.content:
            return []
        return [s for s in last.content.split(STEP_SEP) if s]

    class SyntheticLM(AbstractLanguageModel):
        async def agenerate_single(self, messages, stop=None, **kwargs):
            steps = steps_of(messages)
            if stop is None:  # a whole solution (best-of-N)
                return {
                    "role": "assistant",
                    "content": STEP_SEP.join(text_lm.complete(steps, rng)[len(steps) :]),
                }
            return {"role": "assistant", "content": text_lm.next_step(steps, rng).text}

        async def agenerate(self, messages, stop=None, **kwargs):
            if messages and isinstance(messages[0], list):
                return [await self.agenerate_single(m, stop, **kwargs) for m in messages]
            return await self.agenerate_single(messages, stop, **kwargs)

    def score_response(prompt, response):
        return prm.score(prompt, [[s for s in response.split(STEP_SEP) if s]])[0]

    class SyntheticPRM(AbstractProcessRewardModel):
        def score(self, prompt, steps):
            if isinstance(steps, str):
                return score_response(prompt, steps)
            return [score_response(prompt, r) for r in steps]

        async def ascore(self, prompt, steps):
            return self.score(prompt, steps)

    class SyntheticORM(AbstractOutcomeRewardModel):
        def score(self, messages, **kwargs):
            if messages and isinstance(messages[0], list):
                return [self.score(m) for m in messages]
            return score_response("", messages[-1].content or "")

        async def ascore(self, messages, orchestrator=None, **kwargs):
            return self.score(messages)

    return SyntheticLM(), SyntheticPRM(), SyntheticORM()


def run_its_hub(method: str, probs, config, budget: int, seed: int = 0):
    """Accuracy and seconds of its_hub's ParticleFiltering / BestOfN on every problem."""
    from its_hub.core.algorithms.bon import BestOfN
    from its_hub.core.algorithms.particle_gibbs import ParticleFiltering
    from its_hub.core.lms.step_generation import StepGeneration

    random.seed(seed)  # its_hub resamples with the `random` module
    correct = []
    start = time.perf_counter()
    for i in range(probs.error_prob.shape[0]):
        problem = jax.tree.map(lambda x, i=i: x[i], probs)
        lm, prm, orm = its_hub_adapters(problem, config, seed * 100_000 + i)
        if method == "pf":
            sg = StepGeneration(
                max_steps=config.num_steps, step_token=STEP_SEP, stop_token=r"\boxed"
            )
            algo = ParticleFiltering(sg, prm)
        else:
            algo = BestOfN(orm)
        out = asyncio.run(algo.ainfer(lm, f"problem {i}", budget))
        correct.append(answers.extract_answer(out["content"] or "") == "0")
    return np.asarray(correct), time.perf_counter() - start


def run_probkit(method: str, probs, config, budget: int, seed: int = 0):
    """probkit on the JAX testbed, vectorised over problems: (correct, cold s, warm s)."""
    lm, prm = testbed.SyntheticLM.from_config(config), testbed.SyntheticPRM("last")
    if method == "pf":

        def one(k, p):
            return llm.particle_filter(k, lm, prm, p, budget, max_steps=config.num_steps).answer
    else:

        def one(k, p):
            return llm.best_of_n(k, lm, prm, p, budget, max_steps=config.num_steps).answer

    fn = jax.jit(jax.vmap(one))
    keys = jax.random.split(jax.random.key(seed), probs.error_prob.shape[0])
    start = time.perf_counter()
    out = jax.block_until_ready(fn(keys, probs))
    cold = time.perf_counter() - start
    start = time.perf_counter()
    jax.block_until_ready(fn(keys, probs))
    return np.asarray(out) == 0, cold, time.perf_counter() - start


def run_probkit_text(probs, config, budget: int, seed: int = 0):
    """probkit's paper filter on the *text* path (host loop, same text model as its_hub).

    The first problem is run once before timing (it compiles the weight update).
    """
    correct = []
    warm = jax.tree.map(lambda x: x[0], probs)
    llm.particle_filter(
        jax.random.key(seed),
        testbed.TextSyntheticLM(warm, config),
        testbed.text_prm(),
        "warm-up",
        budget,
        max_steps=config.num_steps,
    )
    start = time.perf_counter()
    for i in range(probs.error_prob.shape[0]):
        problem = jax.tree.map(lambda x, i=i: x[i], probs)
        lm = testbed.TextSyntheticLM(problem, config)
        res = llm.particle_filter(
            jax.random.key(seed * 100_000 + i),
            lm,
            testbed.text_prm(),
            f"problem {i}",
            budget,
            max_steps=config.num_steps,
        )
        correct.append(res.answer == "0")
    return np.asarray(correct), time.perf_counter() - start


def _acc(c):
    """Mean and standard error over problems (per-problem scores may be seed averages)."""
    c = np.asarray(c, float)
    return c.mean(), c.std(ddof=1) / np.sqrt(c.size)


def main(quick: bool = False) -> str:
    config = testbed.Config()
    out = [
        "## LLM inference-time scaling (`probkit.llm`)",
        "",
        f"Machine: {machine()}",
        "",
        f"Versions: {versions('its_hub')}",
        "",
    ]

    # (a) the testbed table
    budgets = (1, 2, 4, 8, 16, 32) if quick else testbed.DEFAULT_BUDGETS
    num_problems = 100 if quick else 400
    table = testbed.benchmark(
        jax.random.key(0), testbed.DEFAULT_METHODS, budgets, num_problems=num_problems
    )
    warm = testbed.benchmark(
        jax.random.key(0), testbed.DEFAULT_METHODS, budgets, num_problems=num_problems
    )
    out += [
        "### (a) Synthetic testbed: accuracy vs budget",
        "",
        f"{len(table.methods)} methods x budgets {budgets[0]}..{budgets[-1]} x {num_problems} "
        "problems (moderate noise: T = 12, a = 2, sd_b = 1.0, sd_e = 0.8; PRM aggregation "
        "`last`), accuracy ± standard error. Every method sees the same problems.",
        "",
        table.to_markdown(),
        "",
        f"Wall time of the whole table: **{table.seconds:.1f} s** in a fresh process "
        f"(compilation included; target < 60 s), **{warm.seconds:.1f} s** once compiled.",
        "",
    ]
    print("\n".join(out), flush=True)

    # (b) its_hub
    n_hub = 40 if quick else 400
    hub_budgets = (8,) if quick else (8, 32)
    probs = testbed.problems(jax.random.key(1), n_hub, config)
    rows = []
    seeds = 2 if quick else 4  # both averaged over seeds, compared per problem (paired)
    for budget in hub_budgets:
        for method, label in (("pf", "particle filtering (paper rule)"), ("bon", "best-of-N")):
            runs = [run_probkit(method, probs, config, budget, seed=s) for s in range(seeds)]
            ours = np.mean([r[0] for r in runs], axis=0)
            cold, hot = runs[0][1], float(np.median([r[2] for r in runs]))
            hub = [run_its_hub(method, probs, config, budget, seed=s + 1) for s in range(seeds)]
            theirs = np.mean([h[0] for h in hub], axis=0)
            hub_s = float(np.median([h[1] for h in hub]))
            d = ours - theirs
            z = d.mean() / (d.std(ddof=1) / np.sqrt(d.size))
            (a1, s1), (a2, s2) = _acc(ours), _acc(theirs)
            rows.append(
                [
                    label,
                    budget,
                    f"{a1:.3f} ± {s1:.3f}",
                    f"{a2:.3f} ± {s2:.3f}",
                    f"{d.mean():+.3f} ({z:+.2f})",
                    f"{n_hub / hot:,.0f} ({n_hub / cold:,.0f} cold)",
                    f"{n_hub / hub_s:.1f}",
                    f"{hub_s / hot:,.0f}x",
                ]
            )
            print(rows[-1], flush=True)
    n_text = 20 if quick else 100
    text_correct, text_s = run_probkit_text(
        jax.tree.map(lambda x: x[:n_text], probs), config, hub_budgets[-1]
    )
    a_text, s_text = _acc(text_correct)
    out += [
        "### (b) probkit against its_hub on the same synthetic model",
        "",
        f"{n_hub} problems; {versions('its_hub').split(', ')[-1]} runs its "
        "`ParticleFiltering` (its default multinomial resampling, argmax selection) and "
        "`BestOfN` with the testbed's model behind its `AbstractLanguageModel` / PRM / ORM "
        "interfaces (steps as text); probkit runs `particle_filter(weighting='paper')` and "
        "`best_of_n` on the JAX-native testbed, vectorised over problems. Both are averaged "
        f"over {seeds} seeds. The difference is tested per problem (paired); |z| < 2 means the "
        "accuracies agree within standard error. Speed: probkit compiled (first call, "
        "compilation included, in parentheses) against its_hub's asyncio loop.",
        "",
        md_table(
            [
                "method",
                "N",
                "probkit accuracy",
                "its_hub accuracy",
                "difference (paired z)",
                "probkit problems/s",
                "its_hub problems/s",
                "speed-up",
            ],
            rows,
        ),
        "",
        f"probkit's paper filter on the *text* path (host loop, the same text model as its_hub, "
        f"N = {hub_budgets[-1]}, {n_text} problems): accuracy {a_text:.3f} ± {s_text:.3f}, "
        f"{n_text / text_s:.1f} problems/s (after one warm-up problem).",
        "",
        "Notes: its_hub's `ParticleFiltering.__init__` accepts `resampling_method` but does not "
        "pass it on (it always resamples multinomially); the timings above ran on a machine "
        "shared with other jobs and may be disturbed.",
    ]
    text = "\n".join(out)
    write_fragment("llm", text)
    return text


if __name__ == "__main__":
    print(main(quick="--quick" in sys.argv[1:]))
