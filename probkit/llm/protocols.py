"""What the particle methods need from a language model and a reward model.

Two families of models plug into the same algorithms:

* **Text models** (a served LLM, a Hugging Face model, your own Python object). A
  `LanguageModel` extends many partial solutions by one reasoning step in one batched call;
  a `RewardModel` scores many prefixes in one batched call and returns one number in [0, 1]
  per prefix. Particles are tuples of step strings kept on the host; the weight arithmetic
  and resampling still run in JAX (`probkit.core`).
* **JAX-native models** (`JaxLanguageModel`, `JaxRewardModel`: the synthetic testbed, the
  tabular model of the exactness tests). Particles are pytrees of arrays with a leading
  particle axis, and the whole run compiles into one `lax.while_loop`, so it can be `vmap`-ed
  over problems and sharded over devices.

A reasoning step is whatever the language model returns between two stops: text up to a
stop string (``"\\n\\n"`` by default) or a fixed number of tokens. A particle is *finished*
when the model says so (end of sequence, or a final-answer marker such as ``\\boxed``);
finished particles are never extended again.

Process reward models score every step; `ProcessRewardModel` turns per-step scores into one
score per prefix with the aggregation ``"last"``, ``"min"``, ``"prod"`` or ``"model"`` (the PRM
sees the whole prefix as one step and its last score is used, i.e. the PRM acts as an outcome
model on prefixes). `OutcomeRewardModel` wraps a scorer of whole responses.
"""

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax.numpy as jnp
import numpy as np

from probkit.core.types import Array, PRNGKey, PyTree

__all__ = [
    "AGGREGATIONS",
    "AnswerFn",
    "AnyLanguageModel",
    "AnyRewardModel",
    "Budget",
    "JaxLanguageModel",
    "JaxRewardModel",
    "LanguageModel",
    "OutcomeRewardModel",
    "ProcessRewardModel",
    "Prompt",
    "RewardModel",
    "Step",
    "StepOutput",
    "aggregate_scores",
    "is_jax_native",
    "step_boundaries",
]

AGGREGATIONS = ("last", "min", "prod", "model")
"""Ways to aggregate step rewards into a prefix reward."""


class Step(NamedTuple):
    """One generated reasoning step (text models).

    Attributes:
        text: the step's text, without the stop string that ended it.
        finished: the solution is complete (end of sequence or final-answer marker).
        num_tokens: tokens generated for this step.
        log_prob: sum of the generated tokens' log-probabilities, when the model reports them.
    """

    text: str
    finished: bool
    num_tokens: int = 0
    log_prob: float | None = None


class StepOutput(NamedTuple):
    """What a JAX-native model reports about one batched extension.

    Attributes:
        finished: (N,) bool: the particle's solution is complete after this step.
        num_tokens: (N,) int32: tokens generated for this step.
    """

    finished: Array  # (N,) bool: the particle's solution is complete after this step
    num_tokens: Array  # (N,) int32: tokens generated for this step


class Budget(NamedTuple):
    """Compute spent by a method: LM steps generated, tokens generated, prefixes scored.

    Attributes:
        steps: () int: single-step extensions requested from the language model.
        tokens: () int: tokens generated (0 when the model does not report them).
        scored: () int: prefixes scored by the reward model.
    """

    steps: Array  # () int: single-step extensions requested from the language model
    tokens: Array  # () int: tokens generated (0 when the model does not report them)
    scored: Array  # () int: prefixes scored by the reward model

    def __add__(self, other):  # NamedTuple + would concatenate; budgets add fieldwise
        return Budget(*(a + b for a, b in zip(self, other)))


@runtime_checkable
class LanguageModel(Protocol):
    """A text language model that extends many partial solutions by one step.

    `extend(prompt, prefixes, seeds=None)` receives the problem statement and a list of
    prefixes (each a sequence of step strings, possibly empty) and returns one `Step` per
    prefix, in order. `seeds` (one int per prefix) make sampling reproducible where the backend
    supports it. An optional attribute `separator` (default ``"\\n\\n"``) joins steps into a
    response.
    """

    def extend(
        self, prompt: str, prefixes: Sequence[Sequence[str]], *, seeds: Sequence[int] | None = None
    ) -> list[Step]: ...


@runtime_checkable
class RewardModel(Protocol):
    """A batched scorer of partial solutions: one number in [0, 1] per prefix.

    Scores outside [0, 1] and NaN are refused with a `ValueError` by every algorithm.
    """

    def score(self, prompt: str, prefixes: Sequence[Sequence[str]]) -> Sequence[float]: ...


class JaxLanguageModel:
    """Base class of JAX-native language models (pure functions on particle pytrees).

    Subclasses must be hashable (e.g. frozen dataclasses): they are static arguments of `jit`.
    `prompt` is any pytree of arrays describing the problem (it is traced and can be `vmap`-ed).
    """

    jax_native = True

    def init(self, prompt: PyTree, num_particles: int) -> PyTree:
        """Empty partial solutions: a pytree whose leaves have leading axis `num_particles`."""
        raise NotImplementedError

    def extend(self, key: PRNGKey, prompt: PyTree, particles: PyTree) -> tuple[PyTree, StepOutput]:
        """Extend every particle by one step (the caller keeps finished particles frozen)."""
        raise NotImplementedError

    def answer(self, prompt: PyTree, particles: PyTree) -> Array:
        """(N,) int32 canonical answer of each particle; -1 when it has none."""
        raise NotImplementedError


class JaxRewardModel:
    """Base class of JAX-native reward models: `score(prompt, particles) -> (N,)` in [0, 1]."""

    jax_native = True

    def score(self, prompt: PyTree, particles: PyTree) -> Array:
        raise NotImplementedError


AnyLanguageModel = LanguageModel | JaxLanguageModel
"""A text or a JAX-native language model."""

AnyRewardModel = RewardModel | JaxRewardModel
"""A text or a JAX-native reward model."""

Prompt = str | PyTree
"""A problem: a non-empty string (text models) or a pytree of arrays (JAX-native models)."""

AnswerFn = Callable[[str], str | None]
"""Response text -> canonical answer (None when it has none)."""


def step_boundaries(
    stop: Sequence[str] | str, tokens_per_step: int | None, separator: str | None
) -> tuple[tuple[str, ...], int | None, str]:
    """Validated step delimiters of an LM adapter: (stop strings, tokens per step, separator).

    Steps end at a stop string, or every `tokens_per_step` tokens when that is given (then no
    stop strings apply). The separator that joins steps defaults to the first stop string (the
    text the model wrote between steps), or "" for fixed-size steps.
    """
    stop = (stop,) if isinstance(stop, str) else tuple(stop)
    if tokens_per_step is None and not stop:
        raise ValueError("give stop strings or tokens_per_step to delimit steps")
    if tokens_per_step is not None:
        if isinstance(tokens_per_step, bool) or not isinstance(tokens_per_step, int):
            raise ValueError(f"tokens_per_step must be a positive integer, got {tokens_per_step}")
        if tokens_per_step < 1:
            raise ValueError(f"tokens_per_step must be a positive integer, got {tokens_per_step}")
        stop = ()
    if separator is None:
        separator = "" if tokens_per_step else stop[0]
    return stop, tokens_per_step, separator


def is_jax_native(model: Any) -> bool:
    """True for models written against the JAX-native protocol."""
    return bool(getattr(model, "jax_native", False))


def aggregate_scores(scores: Array, length: Array, aggregation: str) -> Array:
    """Aggregate padded per-step scores `(..., T)` over the first `length` steps.

    `"last"` takes the score of step `length`, `"min"` the minimum, `"prod"` the product (in the
    log domain). A prefix of length 0 aggregates to 1 (nothing wrong yet).
    """
    scores = jnp.asarray(scores)
    length = jnp.asarray(length)
    steps = jnp.arange(scores.shape[-1])
    mask = steps < length[..., None]
    if aggregation == "last":
        idx = jnp.clip(length - 1, 0, scores.shape[-1] - 1)
        last = jnp.take_along_axis(scores, idx[..., None], axis=-1)[..., 0]
        return jnp.where(length > 0, last, jnp.ones_like(last))
    if aggregation == "min":
        return jnp.min(jnp.where(mask, scores, jnp.ones_like(scores)), axis=-1)
    if aggregation == "prod":
        logs = jnp.where(mask, jnp.log(scores), jnp.zeros_like(scores))
        return jnp.exp(jnp.sum(logs, axis=-1))
    raise ValueError(f"aggregation must be one of ('last', 'min', 'prod'), got {aggregation!r}")


def _aggregate_list(scores: Sequence[float], aggregation: str) -> float:
    vals = np.asarray(list(scores), dtype=float)
    if vals.size == 0:
        return 1.0
    if aggregation in ("last", "model"):
        return float(vals[-1])
    if aggregation == "min":
        return float(vals.min())
    if aggregation == "prod":
        return float(np.prod(vals))
    raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")


class ProcessRewardModel:
    """A process reward model from a batched per-step scorer.

    Args:
        step_scores: `step_scores(prompt, prefixes) -> list of per-step score lists` (one list
            per prefix, one score in [0, 1] per step).
        aggregation: how step scores become the prefix's score: `"last"`, `"min"`, `"prod"`, or
            `"model"` (each prefix is passed as a single step, ``separator.join(steps)``, and the
            PRM's last score is used: the PRM judges the whole partial answer).
        separator: joins steps for `"model"` aggregation.
    """

    def __init__(
        self,
        step_scores: Callable[[str, Sequence[Sequence[str]]], Sequence[Sequence[float]]],
        aggregation: str = "last",
        *,
        separator: str = "\n\n",
    ):
        if not callable(step_scores):
            raise TypeError(f"step_scores must be callable, got {type(step_scores).__name__}")
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
        self.step_scores = step_scores
        self.aggregation = aggregation
        self.separator = separator

    def score(self, prompt: str, prefixes: Sequence[Sequence[str]]) -> list[float]:
        prefixes = [tuple(p) for p in prefixes]
        if self.aggregation == "model":
            prefixes = [(self.separator.join(p),) if p else () for p in prefixes]
        per_step = self.step_scores(prompt, prefixes)
        if len(per_step) != len(prefixes):
            raise ValueError(
                f"step_scores returned {len(per_step)} score lists for {len(prefixes)} prefixes"
            )
        for i, (prefix, scores) in enumerate(zip(prefixes, per_step)):
            vals = np.asarray(list(scores), dtype=float)
            if prefix and vals.size == 0:
                raise ValueError(
                    f"step_scores returned no scores for prefix {i} ({len(prefix)} step(s)); a "
                    "non-empty prefix needs at least one step score"
                )
            if not np.all(np.isfinite(vals)):
                raise ValueError(f"step_scores returned non-finite scores for prefix {i}: {vals}")
        return [_aggregate_list(s, self.aggregation) for s in per_step]


class OutcomeRewardModel:
    """An outcome reward model: scores whole responses (also used on partial ones).

    Args:
        score_responses: `score_responses(prompt, responses) -> list of floats in [0, 1]`, one
            per response string (steps joined with `separator`).
        separator: joins a prefix's steps into a response.
    """

    def __init__(
        self,
        score_responses: Callable[[str, Sequence[str]], Sequence[float]],
        *,
        separator: str = "\n\n",
    ):
        if not callable(score_responses):
            raise TypeError(
                f"score_responses must be callable, got {type(score_responses).__name__}"
            )
        self.score_responses = score_responses
        self.separator = separator

    def score(self, prompt: str, prefixes: Sequence[Sequence[str]]) -> list[float]:
        return list(self.score_responses(prompt, [self.separator.join(p) for p in prefixes]))
