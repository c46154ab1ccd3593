"""Particle filtering for LLM inference-time scaling, against search, on a synthetic testbed.

Run standalone: `python examples/llm_inference_scaling.py [--problems 400] [--out out/llm]`.
It (1) runs the accuracy-vs-budget table of Puri et al. (2025) on the synthetic reasoning
testbed -- best-of-N, weighted best-of-N, beam search, DVTS and the particle filter (argmax and
weighted vote) at budgets 1..128 on the same problems -- and plots it; (2) repeats it with
strong deceptive PRM errors, where guidance hurts; (3) points the same particle filter at a
served model: an OpenAI-compatible server on loopback (`probkit.llm.mock_server`, a tiny
addition "reasoner") reached through `OpenAICompatibleLM`, exactly as you would reach vLLM.
"""

import argparse
import pathlib

import jax

from probkit import llm
from probkit.llm import testbed
from probkit.llm.mock_server import AdditionModel, AdditionPRM, MockServer
from probkit.tour import TourResult

TOUR = {"method": "LLM inference-time scaling: particle filtering vs search", "order": 40}


def served_model_demo() -> dict:
    """The same `particle_filter` call, on an HTTP server instead of the JAX testbed."""
    with MockServer(AdditionModel(slip=0.25)) as server:
        # With vLLM: OpenAICompatibleLM("http://localhost:8000/v1", "<served model name>")
        lm = llm.OpenAICompatibleLM(server.url, "tiny-adder", temperature=0.8, max_concurrency=8)
        prm = AdditionPRM("min")  # any RewardModel: score(prompt, prefixes) -> [0, 1]
        problem = "Add: 17 25 8 13 9 31"
        pf_res = llm.particle_filter(jax.random.key(0), lm, prm, problem, 8)
        bon_res = llm.best_of_n(jax.random.key(0), lm, prm, problem, 8)
        requests = len(server.requests)
    return {
        "problem": problem,
        "correct": str(17 + 25 + 8 + 13 + 9 + 31),
        "pf_answer": pf_res.answer,
        "pf_response": pf_res.response,
        "bon_answer": bon_res.answer,
        "http_requests": requests,
        "pf_budget": pf_res.budget,
    }


def run(
    num_problems: int = 400, budgets=testbed.DEFAULT_BUDGETS, out_dir: pathlib.Path | None = None
) -> dict:
    key = jax.random.key(0)
    table = testbed.benchmark(key, testbed.DEFAULT_METHODS, budgets, num_problems=num_problems)
    deceptive = testbed.benchmark(
        key,
        testbed.DEFAULT_METHODS,
        budgets,
        num_problems=num_problems,
        config=testbed.Config(deceptive_fraction=0.3, deceptive_shift=3.0),
    )
    summary = {"table": table, "deceptive": deceptive, "served": served_model_demo()}
    if out_dir is not None:
        out_dir = pathlib.Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        fig1 = out_dir / "llm_accuracy_vs_budget.png"
        table.plot(fig1, title="Moderate PRM noise: accuracy vs budget")
        fig2 = out_dir / "llm_deceptive_prm.png"
        deceptive.plot(fig2, title="Deceptive PRM errors (h = 0.3, delta = 3)")
        (out_dir / "llm_tables.md").write_text(
            "## Moderate noise\n\n"
            + table.to_markdown()
            + "\n\n## Deceptive errors\n\n"
            + deceptive.to_markdown()
            + "\n"
        )
        summary["figures"] = (str(fig1), str(fig2))
    return summary


def _at(table, method, budget):
    return table.accuracy[table.methods.index(method), table.budgets.index(budget)]


def tour(out_dir: pathlib.Path) -> TourResult:
    s = run(num_problems=400, out_dir=out_dir)
    t, served = s["table"], s["served"]
    return TourResult(
        computed="testbed accuracy at N=32 (PF vote / beam / DVTS / BoN); served-model PF",
        value=(
            f"{_at(t, 'pf_vote', 32):.2f} / {_at(t, 'beam', 32):.2f} / {_at(t, 'dvts', 32):.2f}"
            f" / {_at(t, 'bon', 32):.2f} in {t.seconds:.0f}s; HTTP PF answer "
            f"{served['pf_answer']} (correct {served['correct']})"
        ),
        figures=s.get("figures", ()),
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--problems",
        type=int,
        default=400,
        help="number of synthetic reasoning problems per budget (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        default="out/llm_inference_scaling",
        help="folder for the figures (default: %(default)s)",
    )
    args = parser.parse_args()
    s = run(args.problems, out_dir=pathlib.Path(args.out))
    print("Moderate PRM noise (accuracy ± SE):")
    print(s["table"].to_markdown())
    print(f"\n({s['table'].seconds:.1f} s, compilation included)\n")
    print("Deceptive PRM errors:")
    print(s["deceptive"].to_markdown())
    served = s["served"]
    print(f"\nServed model ({served['http_requests']} HTTP requests): {served['problem']}")
    print(
        f"particle filter -> {served['pf_answer']}, best-of-8 -> {served['bon_answer']} "
        f"(correct: {served['correct']})"
    )
    print(served["pf_response"])
    print("figures:", *s.get("figures", ()))
