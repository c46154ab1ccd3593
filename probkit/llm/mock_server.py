"""An OpenAI-compatible server on loopback that serves a tiny in-process model.

For tests, demos and trying the HTTP adapter without a GPU: `MockServer` answers
``POST /v1/chat/completions`` and ``POST /v1/completions`` the way vLLM does — it honours
``stop``, ``max_tokens``, ``n``, ``seed``, ``logprobs`` and ``continue_final_message``, reports
``finish_reason`` and ``stop_reason``, and counts tokens — and can inject failures (HTTP errors
for the first k requests, slow responses) to exercise retries and timeouts.

The model, `AdditionModel`, solves "Add: 3 4 5"-style problems one step per line pair
("3 + 4 = 7", "7 + 5 = 12", then "The answer is \\boxed{12}."), making an off-by-one slip with
probability `slip` at each step (a slip is absorbing, as in the synthetic testbed). Every
character is one token. `AdditionPRM` is a matching process reward model that checks each
step's arithmetic.
"""

import http.server
import json
import math
import random
import re
import threading
import time
from collections.abc import Sequence

from probkit.llm.protocols import ProcessRewardModel

__all__ = ["AdditionModel", "AdditionPRM", "MockServer"]

_STEP = re.compile(r"^\s*(-?\d+) \+ (-?\d+) = (-?\d+)\s*$")


class AdditionModel:
    """A tiny random "reasoner" for problems like ``"Add: 3 4 5"`` (character tokens)."""

    def __init__(self, slip: float = 0.2, separator: str = "\n\n"):
        self.slip = slip
        self.separator = separator

    @staticmethod
    def numbers(problem: str) -> list[int]:
        m = re.search(r"Add:\s*((?:-?\d+\s*)+)", problem)
        if m is None:
            raise ValueError(f"not an addition problem: {problem!r}")
        return [int(x) for x in m.group(1).split()]

    def continuation(self, problem: str, partial: str, rng: random.Random) -> str:
        """The rest of the solution after `partial` (which ends at a step boundary or not)."""
        nums = self.numbers(problem)
        parts = partial.split(self.separator)
        tail = "" if partial.endswith(self.separator) or not partial else parts[-1]
        done = [s for s in (parts if not tail else parts[:-1]) if _STEP.match(s)]
        total = int(_STEP.match(done[-1]).group(3)) if done else nums[0]
        slipped = bool(done) and any(
            int(m.group(1)) + int(m.group(2)) != int(m.group(3))
            for m in (_STEP.match(s) for s in done)
        )
        steps = []
        for x in nums[len(done) + 1 :]:
            value = total + x
            if slipped or (rng.random() < self.slip and not (tail and not steps)):
                slipped = True
                value += rng.choice((-1, 1))
            steps.append(f"{total} + {x} = {value}")
            total = value
        steps.append(f"The answer is \\boxed{{{total}}}.")
        text = self.separator.join(steps)
        if tail:  # continue a step cut mid-way (fixed-size steps), or close it if it diverged
            text = text[len(tail) :] if text.startswith(tail) else self.separator + text
        return text


def _prm_scores(prompt: str, prefixes: Sequence[Sequence[str]]) -> list[list[float]]:
    out = []
    for steps in prefixes:
        scores, ok = [], True
        for s in steps:
            m = _STEP.match(s)
            if m is not None:
                ok = ok and int(m.group(1)) + int(m.group(2)) == int(m.group(3))
            scores.append(0.9 if ok else 0.1)
        out.append(scores)
    return out


def AdditionPRM(aggregation: str = "min") -> ProcessRewardModel:
    """A verifier PRM for `AdditionModel`: 0.9 for a correct prefix step, 0.1 after a slip."""
    return ProcessRewardModel(_prm_scores, aggregation)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, payload: dict):
        data = json.dumps(payload).encode()
        # A request stops counting as in flight when its answer starts: the client can send
        # its next request only after reading this one, so counting until the handler thread
        # returns (which a loaded machine may delay) would overstate the client's concurrency.
        self._answered()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        server: MockServer = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length).decode() or "{}")
        with server.lock:
            server.requests.append((self.path, body))
            count = len(server.requests)
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
        self._in_flight = True
        try:
            self._answer(server, body, count)
        finally:
            self._answered()

    def _answered(self):
        if getattr(self, "_in_flight", False):
            self._in_flight = False
            server: MockServer = self.server.owner  # type: ignore[attr-defined]
            with server.lock:
                server.in_flight -= 1

    def _answer(self, server, body, count):
        if server.delay:
            time.sleep(server.delay)
        if count <= server.fail_first:
            self._send(server.fail_status, {"error": {"message": "injected failure"}})
            return
        if self.path.endswith("/chat/completions"):
            chat = True
        elif self.path.endswith("/completions"):
            chat = False
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            payload = server.complete(body, chat)
        except (ValueError, KeyError) as exc:
            self._send(400, {"error": {"message": str(exc)}})
            return
        self._send(200, payload)


class MockServer:
    """A loopback OpenAI-compatible server; use as a context manager yielding its base URL.

    Args:
        model: the in-process model (default `AdditionModel()`).
        fail_first: answer the first `fail_first` requests with HTTP `fail_status`.
        fail_status: the injected error's status code.
        delay: seconds to wait before answering each request (to provoke timeouts).

    Attributes:
        requests: every (path, JSON body) received, in order.
        max_in_flight: the most requests received and not yet being answered at one time (the
            client's concurrency).
        url: ``http://127.0.0.1:<port>/v1`` once started.
    """

    def __init__(
        self,
        model: AdditionModel | None = None,
        *,
        fail_first: int = 0,
        fail_status: int = 500,
        delay: float = 0.0,
    ):
        self.model = model or AdditionModel()
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.delay = delay
        self.requests: list[tuple[str, dict]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self._httpd = None
        self._thread = None
        self.url = None

    def complete(self, body: dict, chat: bool) -> dict:
        """The JSON answer to one request (vLLM's fields)."""
        if chat:
            messages = body["messages"]
            problem = next(m["content"] for m in messages if m["role"] == "user")
            partial = ""
            if messages[-1]["role"] == "assistant":
                if not body.get("continue_final_message"):
                    raise ValueError("a final assistant message needs continue_final_message")
                partial = messages[-1]["content"]
        else:
            text = body["prompt"]
            problem, _, partial = text.partition("\n\n")
        n = int(body.get("n", 1))
        max_tokens = body.get("max_tokens")
        stops = body.get("stop") or []
        stops = [stops] if isinstance(stops, str) else list(stops)
        seed = body.get("seed")
        base = random.Random(seed if seed is not None else random.random())
        choices, total_tokens = [], 0
        for i in range(n):
            rng = random.Random(base.random())
            full = self.model.continuation(problem, partial, rng)
            cut, reason, stop_reason = full, "stop", None
            hits = [(full.find(s), s) for s in stops if s and full.find(s) >= 0]
            if hits:
                pos, s = min(hits)
                cut, stop_reason = full[:pos], s
            if max_tokens is not None and len(cut) > max_tokens:
                cut, reason, stop_reason = cut[:max_tokens], "length", None
            total_tokens += len(cut)
            token_lps = [math.log(0.9)] * len(cut)
            if chat:
                choice = {"index": i, "message": {"role": "assistant", "content": cut}}
                if body.get("logprobs"):
                    choice["logprobs"] = {
                        "content": [{"token": c, "logprob": lp} for c, lp in zip(cut, token_lps)]
                    }
            else:
                choice = {"index": i, "text": cut}
                if body.get("logprobs"):
                    choice["logprobs"] = {"tokens": list(cut), "token_logprobs": token_lps}
            choice.update(finish_reason=reason, stop_reason=stop_reason)
            choices.append(choice)
        return {
            "id": "mock",
            "object": "chat.completion" if chat else "text_completion",
            "model": body.get("model", "mock"),
            "choices": choices,
            "usage": {"completion_tokens": total_tokens},
        }

    def start(self) -> str:
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        return self.url

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
            self._httpd = None

    def __enter__(self) -> "MockServer":
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
