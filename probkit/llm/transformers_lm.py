"""A `LanguageModel` backed by a Hugging Face transformers causal LM (PyTorch).

Install the ``llm`` extra (``pip install "probkit-jax[llm]"``: torch and transformers; since
transformers v5 the library is PyTorch-only). Prefixes are batched (left padding, `batch_size`
rows per `generate` call). A step ends at a stop string (checked on the decoded text of each row
while generating, so token boundaries do not matter) or after `tokens_per_step` tokens. A row is
*finished* when it generates the end-of-sequence token or when its step contains
`answer_marker`. Step log-probabilities come from `compute_transition_scores` (the sampling
distribution after temperature/top-p).

With a chat template the partial solution is continued as the assistant's message
(``continue_final_message=True``); without one, the text is
``prompt_template.format(prompt=...) + steps``. Sampling uses `torch`'s generator seeded from the
first seed of each batch, inside `torch.random.fork_rng` so the global RNG is left alone.
"""

from collections.abc import Sequence
from typing import Any

from probkit.core import validate
from probkit.llm.protocols import Step, step_boundaries

__all__ = ["TransformersLM"]


def _stop_criteria(tokenizer, stops: Sequence[str], start: int):
    from transformers import StoppingCriteria

    class StopOnStrings(StoppingCriteria):
        """Per row: stop once the text generated since `start` contains a stop string."""

        def __call__(self, input_ids, scores, **kwargs):
            import torch

            done = []
            for row in input_ids[:, start:]:
                text = tokenizer.decode(row, skip_special_tokens=True)
                done.append(any(s in text for s in stops))
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StopOnStrings()


class TransformersLM:
    """Extend partial solutions by one step with a local transformers model.

    Args:
        model: a causal LM (`AutoModelForCausalLM`/`GPT2LMHeadModel`/...), in eval mode.
        tokenizer: its tokenizer (a pad token is taken from EOS when missing).
        stop: stop strings that end a step (ignored with `tokens_per_step`).
        tokens_per_step: fixed-size steps of this many tokens instead.
        max_tokens_per_step: cap on a step's tokens in stop-string mode (the step is cut, not
            finished, when it is reached).
        temperature: sampling temperature (0 is greedy decoding).
        top_p: nucleus-sampling mass.
        batch_size: rows per `generate` call.
        separator: joins steps (default: the first stop string; "" with `tokens_per_step`).
        answer_marker: a step containing it finishes the solution (None to disable).
        use_chat_template: continue an assistant message through the tokenizer's chat
            template (default: when the tokenizer has one).
        system_prompt: optional system message (chat template only).
        prompt_template: ``str.format`` template with ``{prompt}`` when no chat template is used.
        logprobs: report each step's log-probability.
        generate_kwargs: more keyword arguments for `model.generate` (e.g.
            ``{"repetition_penalty": 1.1}`` or ``{"suppress_tokens": [...]}``).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        stop: Sequence[str] | str = ("\n\n",),
        tokens_per_step: int | None = None,
        max_tokens_per_step: int = 256,
        temperature: float = 0.8,
        top_p: float = 1.0,
        batch_size: int = 16,
        separator: str | None = None,
        answer_marker: str | None = "\\boxed",
        use_chat_template: bool | None = None,
        system_prompt: str | None = None,
        prompt_template: str = "{prompt}\n\n",
        logprobs: bool = True,
        generate_kwargs: dict | None = None,
    ):
        self.stop, self.tokens_per_step, self.separator = step_boundaries(
            stop, tokens_per_step, separator
        )
        batch_size = validate.positive_int("batch_size", batch_size)
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        self.model = model
        self.tokenizer = tokenizer
        self.max_tokens_per_step = int(max_tokens_per_step)
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.batch_size = batch_size
        self.answer_marker = answer_marker
        has_template = getattr(tokenizer, "chat_template", None) is not None
        self.use_chat_template = has_template if use_chat_template is None else use_chat_template
        self.system_prompt = system_prompt
        self.prompt_template = prompt_template
        self.logprobs = bool(logprobs)
        self.generate_kwargs = dict(generate_kwargs or {})
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token

    def _text(self, prompt: str, steps: Sequence[str]) -> str:
        prefix = self.separator.join(steps)
        if steps and self.stop:
            prefix += self.separator
        if not self.use_chat_template:
            return self.prompt_template.format(prompt=prompt) + prefix
        messages = []
        if self.system_prompt:
            messages.append({"role": "system", "content": self.system_prompt})
        messages.append({"role": "user", "content": prompt})
        if prefix:
            messages.append({"role": "assistant", "content": prefix})
            return self.tokenizer.apply_chat_template(
                messages, tokenize=False, continue_final_message=True
            )
        return self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )

    def _eos_ids(self) -> set[int]:
        ids = getattr(self.model.generation_config, "eos_token_id", None)
        if ids is None:
            ids = self.tokenizer.eos_token_id
        ids = ids if isinstance(ids, list | tuple) else [ids]
        return {int(i) for i in ids if i is not None}

    def _cut(self, new_ids) -> tuple[str, int, bool]:
        """(step text, tokens used, hit end of sequence) for one row's generated ids."""
        eos = self._eos_ids()
        ids = [int(i) for i in new_ids]
        end = next((k for k, t in enumerate(ids) if t in eos), None)
        hit_eos = end is not None
        ids = ids[:end] if hit_eos else ids
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        hits = [(text.find(s), s) for s in self.stop if text.find(s) >= 0]
        if not hits:
            return text, len(ids) + int(hit_eos), hit_eos
        pos = min(hits)[0]
        # Tokens needed to produce the text up to and including the stop string.
        need = pos + len(min(hits)[1])
        used = len(ids)
        for k in range(1, len(ids) + 1):
            if len(self.tokenizer.decode(ids[:k], skip_special_tokens=True)) >= need:
                used = k
                break
        return text[:pos], used, False

    def _generate(self, texts: list[str], seed: int | None) -> list[Step]:
        import torch

        tok = self.tokenizer
        side = tok.padding_side
        tok.padding_side = "left"
        try:
            enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        finally:
            tok.padding_side = side
        device = next(self.model.parameters()).device
        enc = {k: enc[k].to(device) for k in ("input_ids", "attention_mask")}
        start = enc["input_ids"].shape[1]
        kwargs = dict(
            max_new_tokens=self.tokens_per_step or self.max_tokens_per_step,
            pad_token_id=tok.pad_token_id,
            eos_token_id=sorted(self._eos_ids()),
            output_scores=self.logprobs,
            return_dict_in_generate=True,
        )
        if self.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.temperature, top_p=self.top_p)
        else:
            kwargs.update(do_sample=False)
        kwargs.update(self.generate_kwargs)
        if self.stop:
            kwargs["stopping_criteria"] = [_stop_criteria(tok, self.stop, start)]
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            if seed is not None:
                torch.manual_seed(int(seed))
            out = self.model.generate(**enc, **kwargs)
        new = out.sequences[:, start:]
        token_lps = None
        if self.logprobs:
            token_lps = self.model.compute_transition_scores(
                out.sequences, out.scores, normalize_logits=True
            )
        steps = []
        for row in range(new.shape[0]):
            text, used, hit_eos = self._cut(new[row])
            finished = hit_eos or bool(self.answer_marker and self.answer_marker in text)
            lp = None
            if token_lps is not None:
                vals = token_lps[row, :used]
                lp = float(vals[torch.isfinite(vals)].sum())
            steps.append(Step(text, finished, int(used), lp))
        return steps

    def extend(
        self, prompt: str, prefixes: Sequence[Sequence[str]], *, seeds: Sequence[int] | None = None
    ) -> list[Step]:
        """One step for every prefix, `batch_size` prefixes per `generate` call."""
        texts = [self._text(prompt, tuple(p)) for p in prefixes]
        out: list[Step] = []
        for b in range(0, len(texts), self.batch_size):
            seed = None if seeds is None else int(seeds[b])
            out.extend(self._generate(texts[b : b + self.batch_size], seed))
        return out
