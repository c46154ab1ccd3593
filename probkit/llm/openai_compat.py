"""A `LanguageModel` backed by an OpenAI-compatible HTTP server (vLLM, SGLang, llama.cpp, ...).

Standard library only (`urllib`, `concurrent.futures`). One `extend` call sends one request per
distinct prefix, concurrently (at most `max_concurrency` in flight); identical prefixes — the
clones that resampling creates — are sent once with ``n`` set to their count. Each request
continues the partial solution:

* ``api="chat"``: ``/v1/chat/completions`` with the prompt as the user message and the steps so
  far as a final *assistant* message, plus ``continue_final_message=True`` and
  ``add_generation_prompt=False`` (vLLM's extension for continuing a message; its_hub does the
  same).
* ``api="completions"``: ``/v1/completions`` with ``prompt_template.format(prompt=...)`` followed
  by the steps so far.

A step ends at a stop string (default ``"\\n\\n"``), or after `tokens_per_step` tokens when that
is set instead. A particle is *finished* when the server reports end of sequence (finish_reason
``"stop"`` with no matched stop string — vLLM and SGLang report the match in ``stop_reason``),
or when the step contains `answer_marker` (default ``\\boxed``). A step cut at
`max_tokens_per_step` (finish_reason ``"length"``) does not finish the solution; servers that do
not report which stop string matched (plain OpenAI) need the answer marker, or `max_steps`, to
end a solution.

Failures: connection errors, timeouts and HTTP 408/409/429/5xx are retried `max_retries` times
with exponential backoff (``backoff · 2^attempt`` seconds plus jitter); other HTTP errors, and
retries exhausted, raise `LMRequestError` with the server's message.
"""

import concurrent.futures
import json
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

from probkit.core import validate
from probkit.core.errors import ProbkitError
from probkit.llm.protocols import Step, step_boundaries

__all__ = ["LMRequestError", "OpenAICompatibleLM"]

_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class LMRequestError(ProbkitError, RuntimeError):
    """A request to the language-model server failed (after retries, where they apply)."""


class OpenAICompatibleLM:
    """Extend partial solutions by one step through an OpenAI-compatible server.

    Args:
        base_url: e.g. ``"http://localhost:8000/v1"``.
        model: the served model's name.
        api: ``"chat"`` (continue an assistant message) or ``"completions"`` (raw text).
        stop: stop strings that end a step (ignored when `tokens_per_step` is set).
        tokens_per_step: fixed-size steps of this many tokens instead of stop strings.
        max_tokens_per_step: cap on a step's length in stop-string mode.
        temperature: sampling temperature (the paper uses 0.8).
        top_p: nucleus-sampling mass.
        separator: joins steps into the assistant message; by default the first stop string
            (so the text sent back is exactly what the model wrote), "" with `tokens_per_step`.
        answer_marker: a step containing it finishes the solution (None to disable).
        system_prompt: optional system message (chat API).
        prompt_template: completions API: ``str.format`` template with a ``{prompt}`` field.
        logprobs: request token log-probabilities and report each step's sum.
        max_concurrency: requests in flight at once.
        timeout: seconds per request (connect and each read).
        max_retries: retries of a failed request (0 disables retrying).
        backoff: base delay in seconds of the exponential backoff.
        api_key: sent as a Bearer token (e.g. for hosted endpoints).
        extra_body: more JSON fields for every request (e.g. ``{"top_k": 20}``).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api: str = "chat",
        stop: Sequence[str] | str = ("\n\n",),
        tokens_per_step: int | None = None,
        max_tokens_per_step: int = 1024,
        temperature: float = 0.8,
        top_p: float = 1.0,
        separator: str | None = None,
        answer_marker: str | None = "\\boxed",
        system_prompt: str | None = None,
        prompt_template: str = "{prompt}\n\n",
        logprobs: bool = False,
        max_concurrency: int = 16,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        api_key: str | None = None,
        extra_body: dict | None = None,
    ):
        if api not in ("chat", "completions"):
            raise ValueError(f"api must be 'chat' or 'completions', got {api!r}")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        self.stop, self.tokens_per_step, self.separator = step_boundaries(
            stop, tokens_per_step, separator
        )
        max_concurrency = validate.positive_int("max_concurrency", max_concurrency)
        max_retries = validate.positive_int("max_retries", max_retries, minimum=0)
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api = api
        self.max_tokens_per_step = int(max_tokens_per_step)
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.answer_marker = answer_marker
        self.system_prompt = system_prompt
        self.prompt_template = prompt_template
        self.logprobs = bool(logprobs)
        self.max_concurrency = max_concurrency
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.backoff = float(backoff)
        self.api_key = api_key
        self.extra_body = dict(extra_body or {})
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.requests_sent = 0  # HTTP requests, retries included

    # -- plumbing -------------------------------------------------------------------------

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=self.max_concurrency, thread_name_prefix="probkit-llm"
                )
            return self._pool

    def close(self) -> None:
        """Shut the request threads down (also done on garbage collection)."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False)

    def _post(self, path: str, body: dict) -> dict:
        url = self.base_url + path
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last_error = "no attempt made"
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = self.backoff * 2 ** (attempt - 1)
                time.sleep(delay * (1.0 + 0.25 * random.random()))
            with self._lock:
                self.requests_sent += 1
            request = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read().decode())
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace")[:500]
                last_error = f"HTTP {exc.code} from {url}: {detail}"
                if exc.code not in _RETRY_STATUS:
                    raise LMRequestError(last_error) from None
            except TimeoutError as exc:
                last_error = f"timed out after {self.timeout} s waiting for {url} ({exc})"
            except urllib.error.URLError as exc:
                if isinstance(exc.reason, TimeoutError | socket.timeout):
                    last_error = f"timed out after {self.timeout} s connecting to {url}"
                else:
                    last_error = f"cannot reach {url}: {exc.reason}"
            except (ConnectionError, json.JSONDecodeError) as exc:
                last_error = f"bad response from {url}: {exc}"
        raise LMRequestError(f"{last_error} (gave up after {self.max_retries + 1} attempts)")

    # -- requests -------------------------------------------------------------------------

    def _body(self, prompt: str, prefix: str, n: int, seed: int | None) -> tuple[str, dict]:
        body = {
            "model": self.model,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "n": n,
            "max_tokens": self.tokens_per_step or self.max_tokens_per_step,
        }
        if self.stop:
            body["stop"] = list(self.stop)
        if seed is not None:
            body["seed"] = int(seed)
        if self.api == "chat":
            messages = []
            if self.system_prompt:
                messages.append({"role": "system", "content": self.system_prompt})
            messages.append({"role": "user", "content": prompt})
            if prefix:
                messages.append({"role": "assistant", "content": prefix})
                body["continue_final_message"] = True
                body["add_generation_prompt"] = False
            body["messages"] = messages
            if self.logprobs:
                body["logprobs"] = True
            path = "/chat/completions"
        else:
            body["prompt"] = self.prompt_template.format(prompt=prompt) + prefix
            if self.logprobs:
                body["logprobs"] = 1
            path = "/completions"
        body.update(self.extra_body)
        return path, body

    def _prefix_text(self, steps: Sequence[str]) -> str:
        if not steps:
            return ""
        text = self.separator.join(steps)
        # In stop-string mode the model wrote the separator after each step: send it back.
        return text + self.separator if self.stop else text

    def _parse(self, choice: dict, usage_tokens: int | None) -> Step:
        if self.api == "chat":
            text = (choice.get("message") or {}).get("content") or ""
            lp = choice.get("logprobs") or {}
            token_lps = [c.get("logprob", 0.0) for c in (lp.get("content") or [])]
        else:
            text = choice.get("text") or ""
            lp = choice.get("logprobs") or {}
            token_lps = [x for x in (lp.get("token_logprobs") or []) if x is not None]
        reason = choice.get("finish_reason")
        stop_reason = choice.get("stop_reason", "unreported")
        if self.tokens_per_step:
            finished = reason == "stop"  # a fixed-size step that ended early hit end of sequence
        else:
            # finish_reason "length": the step was cut at max_tokens_per_step and the solution
            # goes on. "stop" without a matched stop string is end of sequence, when the server
            # says which stop it matched (vLLM, SGLang); otherwise it is taken as a step end.
            matched_stop = isinstance(stop_reason, str) and stop_reason in self.stop
            finished = reason == "stop" and not matched_stop and stop_reason != "unreported"
        if self.answer_marker and self.answer_marker in text:
            finished = True
        num_tokens = len(token_lps) if token_lps else (usage_tokens or 0)
        log_prob = float(sum(token_lps)) if (self.logprobs and token_lps) else None
        return Step(text, bool(finished), int(num_tokens), log_prob)

    def _request(self, prompt: str, steps: Sequence[str], n: int, seed: int | None) -> list[Step]:
        path, body = self._body(prompt, self._prefix_text(steps), n, seed)
        out = self._post(path, body)
        choices = sorted(out.get("choices") or [], key=lambda c: c.get("index", 0))
        if len(choices) != n:
            raise LMRequestError(f"server returned {len(choices)} choices for n={n}")
        usage = (out.get("usage") or {}).get("completion_tokens")
        per_choice = None if usage is None else round(usage / n)
        return [self._parse(c, per_choice) for c in choices]

    def extend(
        self, prompt: str, prefixes: Sequence[Sequence[str]], *, seeds: Sequence[int] | None = None
    ) -> list[Step]:
        """One step for every prefix (identical prefixes share one request with ``n``)."""
        prefixes = [tuple(p) for p in prefixes]
        groups: dict[tuple, list[int]] = {}
        for i, p in enumerate(prefixes):
            groups.setdefault(p, []).append(i)
        jobs = []
        for p, members in groups.items():
            seed = None if seeds is None else int(seeds[members[0]])
            jobs.append((p, members, seed))
        futures = [
            self._executor().submit(self._request, prompt, p, len(members), seed)
            for p, members, seed in jobs
        ]
        out: list[Step | None] = [None] * len(prefixes)
        for (_, members, _), fut in zip(jobs, futures):
            for i, step in zip(members, fut.result()):
                out[i] = step
        return out  # type: ignore[return-value]
