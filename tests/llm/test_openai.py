"""The OpenAI-compatible client against a real HTTP server on loopback (a tiny in-process model)."""

import time

import jax
import pytest

from probkit import llm
from probkit.llm.mock_server import AdditionModel, AdditionPRM, MockServer

PROBLEM = "Add: 3 4 5"


def test_chat_steps_end_at_stop_strings_and_continue_the_assistant_message():
    with MockServer(AdditionModel(slip=0.0)) as srv:
        lm = llm.OpenAICompatibleLM(srv.url, "tiny", logprobs=True)
        steps = lm.extend(
            PROBLEM, [(), ("3 + 4 = 7",), ("3 + 4 = 7", "7 + 5 = 12")], seeds=[1, 2, 3]
        )
        bodies = [b for _, b in srv.requests]
    assert [s.text for s in steps] == ["3 + 4 = 7", "7 + 5 = 12", "The answer is \\boxed{12}."]
    # Stopped at "\n\n" (not finished) twice; the last step ends the sequence (finished).
    assert [s.finished for s in steps] == [False, False, True]
    assert [s.num_tokens for s in steps] == [9, 10, 25]  # one token per character
    assert steps[0].log_prob == pytest.approx(9 * -0.10536, rel=1e-3)
    first, second, _ = sorted(bodies, key=lambda b: len(str(b["messages"])))
    assert first["stop"] == ["\n\n"] and "continue_final_message" not in first
    assert first["messages"] == [{"role": "user", "content": PROBLEM}]
    assert second["messages"][-1] == {"role": "assistant", "content": "3 + 4 = 7\n\n"}
    assert second["continue_final_message"] and not second["add_generation_prompt"]


def test_max_tokens_cut_and_fixed_token_steps():
    with MockServer(AdditionModel(slip=0.0)) as srv:
        lm = llm.OpenAICompatibleLM(srv.url, "tiny", max_tokens_per_step=4)
        (step,) = lm.extend(PROBLEM, [()], seeds=[0])
        assert step == llm.Step("3 + ", False, 4, None)  # cut by max_tokens: not finished
        assert srv.requests[-1][1]["max_tokens"] == 4
        fixed = llm.OpenAICompatibleLM(srv.url, "tiny", api="completions", tokens_per_step=5)
        steps, finished = (), False
        while not finished:
            (step,) = fixed.extend(PROBLEM, [steps], seeds=[0])
            steps, finished = (*steps, step.text), step.finished
        path, body = srv.requests[-1]
    assert path == "/v1/completions" and "stop" not in body and body["max_tokens"] == 5
    assert all(len(s) == 5 for s in steps[:-1]) and len(steps[-1]) <= 5
    assert "".join(steps) == "3 + 4 = 7\n\n7 + 5 = 12\n\nThe answer is \\boxed{12}."


def test_server_errors_are_retried_with_backoff():
    with MockServer(AdditionModel(slip=0.0), fail_first=2) as srv:
        lm = llm.OpenAICompatibleLM(srv.url, "tiny", max_retries=3, backoff=0.01)
        (step,) = lm.extend(PROBLEM, [()], seeds=[0])
        assert step.text == "3 + 4 = 7" and len(srv.requests) == 3 and lm.requests_sent == 3
    with MockServer(fail_first=10, fail_status=503) as srv:
        lm = llm.OpenAICompatibleLM(srv.url, "tiny", max_retries=2, backoff=0.01)
        with pytest.raises(llm.LMRequestError, match="HTTP 503.*gave up after 3 attempts"):
            lm.extend(PROBLEM, [()])
    with MockServer(fail_first=10, fail_status=400) as srv:
        lm = llm.OpenAICompatibleLM(srv.url, "tiny", max_retries=5, backoff=0.01)
        with pytest.raises(llm.LMRequestError, match="HTTP 400"):
            lm.extend(PROBLEM, [()])
        assert len(srv.requests) == 1  # a client error is not retried


def test_timeouts_are_retried_then_reported():
    with MockServer(delay=1.0) as srv:
        lm = llm.OpenAICompatibleLM(srv.url, "tiny", timeout=0.1, max_retries=1, backoff=0.01)
        start = time.perf_counter()
        with pytest.raises(llm.LMRequestError, match="timed out after 0.1 s"):
            lm.extend(PROBLEM, [()])
        assert time.perf_counter() - start < 0.9  # two 0.1 s attempts, not the 1 s delay
        assert len(srv.requests) == 2


def test_batching_groups_duplicates_and_limits_concurrency():
    with MockServer(AdditionModel(slip=0.0), delay=0.05) as srv:
        lm = llm.OpenAICompatibleLM(srv.url, "tiny", max_concurrency=2)
        prefixes = [()] * 3 + [("3 + 4 = 7",)] + [(f"{i}",) for i in range(4)]
        steps = lm.extend(PROBLEM, prefixes, seeds=list(range(8)))
        assert len(steps) == 8 and steps[3].text == "7 + 5 = 12"
        ns = sorted(b["n"] for _, b in srv.requests)
        assert ns == [1, 1, 1, 1, 1, 3]  # the three clones of () went as one request, n=3
        assert srv.max_in_flight == 2
    with pytest.raises(ValueError, match="base_url"):
        llm.OpenAICompatibleLM("localhost:8000", "m")
    with pytest.raises(ValueError, match="stop strings or tokens_per_step"):
        llm.OpenAICompatibleLM("http://x", "m", stop=())


def test_particle_filter_over_http():
    with MockServer(AdditionModel(slip=0.3)) as srv:
        lm = llm.OpenAICompatibleLM(srv.url, "tiny")
        res = llm.particle_filter(jax.random.key(0), lm, AdditionPRM(), "Add: 1 2 3 4 5", 8)
        once, twice = (lm.extend("Add: 1 2 3 4 5", [()] * 3, seeds=[5, 6, 7]) for _ in range(2))
    # The verifier PRM steers the filter to the slip-free solution.
    assert res.answer == "15" and res.response.endswith("\\boxed{15}.")
    assert once == twice  # seeded requests are reproducible
    assert int(res.budget.steps) == 8 * 5 and int(res.budget.tokens) > 0
