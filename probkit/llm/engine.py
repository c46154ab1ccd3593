"""The particle engine every method in `probkit.llm` runs on.

A *backend* hides where particles live. For JAX-native models they are pytrees of arrays and
every operation is traceable, so a whole method compiles into one `lax.while_loop`; for text
models they are tuples of step strings on the host, the language and reward models are called
once per step with the whole batch, and the loop is a Python loop. The algorithms are written
once against the backend's six operations (`init`, `extend`, `score`, `take`, `concat`,
`answers`); their weight arithmetic and resampling are JAX functions from `probkit.core`,
executed eagerly (text) or compiled (JAX-native).
"""

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from probkit.core import validate
from probkit.core.types import Array, PRNGKey, PyTree
from probkit.llm.answers import extract_answer
from probkit.llm.protocols import StepOutput, is_jax_native

__all__ = ["JaxBackend", "TextBackend", "TextParticles", "loop", "make_backend"]


@dataclasses.dataclass(frozen=True)
class TextParticles:
    """Host-side particles of a text model: each is a tuple of step strings.

    Attributes:
        steps: one tuple of step strings per particle.
        log_probs: per particle, the sum of its steps' log-probabilities (NaN where the model did
            not report them).
    """

    steps: tuple[tuple[str, ...], ...]
    log_probs: tuple[float, ...]

    @classmethod
    def empty(cls, num_particles: int) -> "TextParticles":
        return cls(((),) * num_particles, (0.0,) * num_particles)

    def __len__(self) -> int:
        return len(self.steps)

    def texts(self, separator: str = "\n\n") -> list[str]:
        """Each particle's response: its steps joined by `separator`."""
        return [separator.join(s) for s in self.steps]


def loop(jax_native: bool, cond: Callable, body: Callable, carry):
    """`lax.while_loop` for JAX-native backends, a Python loop otherwise."""
    if jax_native:
        return jax.lax.while_loop(cond, body, carry)
    while bool(cond(carry)):
        carry = body(carry)
    return carry


def _check_reward_values(name: str, values: np.ndarray) -> None:
    bad = ~((values >= 0.0) & (values <= 1.0))  # NaN fails both comparisons
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"{name}.score returned {values[i]!r} for prefix {i}; reward scores must be numbers "
            "in [0, 1] (NaN and values outside [0, 1] are refused)"
        )


@dataclasses.dataclass(frozen=True)
class JaxBackend:
    """Backend for JAX-native models: every operation is traceable.

    Attributes:
        lm: a `JaxLanguageModel`.
        reward_model: a `JaxRewardModel`.
    """

    lm: Any
    reward_model: Any
    jax_native = True

    def init(self, prompt: PyTree, num_particles: int) -> PyTree:
        return self.lm.init(prompt, num_particles)

    def extend(self, key: PRNGKey, prompt, particles, active: Array):
        new, out = self.lm.extend(key, prompt, particles)

        def keep(n, o):
            mask = active.reshape(active.shape + (1,) * (n.ndim - 1))
            return jnp.where(mask, n, o)

        new = jax.tree.map(keep, new, particles)
        finished = jnp.asarray(out.finished, bool) & active
        tokens = jnp.where(active, jnp.asarray(out.num_tokens, jnp.int32), 0)
        return new, StepOutput(finished, tokens)

    def score(self, prompt, particles, mask: Array) -> tuple[Array, Array]:
        """Rewards of the masked particles (0 elsewhere) and the number of invalid scores."""
        r = jnp.asarray(self.reward_model.score(prompt, particles))
        if not jnp.issubdtype(r.dtype, jnp.floating):
            r = r.astype(jnp.result_type(float))
        bad = mask & ~((r >= 0) & (r <= 1))
        r = jnp.where(mask & ~bad, r, jnp.zeros_like(r))
        return r, jnp.sum(bad).astype(jnp.int32)

    @staticmethod
    def take(particles, idx: Array):
        return jax.tree.map(lambda x: jnp.take(x, idx, axis=0), particles)

    @staticmethod
    def concat(a, b):
        return jax.tree.map(lambda x, y: jnp.concatenate([x, y], axis=0), a, b)

    @staticmethod
    def put(particles, index: int, item):
        """Set particle `index` to `item` (a single particle: leaves without the particle axis)."""
        return jax.tree.map(lambda x, v: x.at[index].set(v), particles, item)

    @staticmethod
    def index(particles, i):
        """One particle (leaves without the particle axis)."""
        return jax.tree.map(lambda x: x[i], particles)

    def answers(self, prompt, particles) -> tuple[Array, None]:
        return jnp.asarray(self.lm.answer(prompt, particles), jnp.int32), None

    def texts(self, particles):  # JAX-native particles have no text
        return None


@dataclasses.dataclass(frozen=True, eq=False)
class TextBackend:
    """Backend for text models: particles are `TextParticles` on the host.

    Attributes:
        lm: a text `LanguageModel`.
        reward_model: a text `RewardModel`.
        answer_fn: `answer_fn(text) -> str | None` extracts the final answer (default
            `extract_answer`).
    """

    lm: Any
    reward_model: Any
    answer_fn: Callable[[str], str | None] = extract_answer
    jax_native = False

    @property
    def separator(self) -> str:
        return getattr(self.lm, "separator", "\n\n")

    def init(self, prompt: str, num_particles: int) -> TextParticles:
        return TextParticles.empty(num_particles)

    def extend(self, key: PRNGKey, prompt: str, particles: TextParticles, active: Array):
        n = len(particles)
        idx = np.flatnonzero(np.asarray(active))
        finished = np.zeros(n, bool)
        tokens = np.zeros(n, np.int32)
        if idx.size == 0:
            return particles, StepOutput(jnp.asarray(finished), jnp.asarray(tokens))
        seeds = np.asarray(jax.random.randint(key, (n,), 0, 2**31 - 1))
        out = self.lm.extend(
            prompt, [particles.steps[i] for i in idx], seeds=[int(seeds[i]) for i in idx]
        )
        if not isinstance(out, Sequence) or len(out) != idx.size:
            got = len(out) if isinstance(out, Sequence) else type(out).__name__
            raise ValueError(
                f"lm.extend returned {got} steps for {idx.size} prefixes; it must return one "
                "Step per prefix, in order"
            )
        steps = list(particles.steps)
        logps = list(particles.log_probs)
        for j, i in enumerate(idx):
            step = out[j]
            text = getattr(step, "text", None)
            if not isinstance(text, str):
                raise TypeError(
                    f"lm.extend must return probkit.llm.Step objects (text: str), got {step!r}"
                )
            steps[i] = (*steps[i], text)
            finished[i] = bool(step.finished)
            tokens[i] = int(getattr(step, "num_tokens", 0) or 0)
            lp = getattr(step, "log_prob", None)
            logps[i] = logps[i] + (float(lp) if lp is not None else float("nan"))
        return TextParticles(tuple(steps), tuple(logps)), StepOutput(
            jnp.asarray(finished), jnp.asarray(tokens)
        )

    def score(self, prompt: str, particles: TextParticles, mask: Array) -> tuple[Array, Array]:
        n = len(particles)
        idx = np.flatnonzero(np.asarray(mask))
        out = np.zeros(n, float)
        if idx.size:
            vals = self.reward_model.score(prompt, [particles.steps[i] for i in idx])
            try:
                vals = np.asarray(vals, dtype=float).reshape(-1)
            except (TypeError, ValueError):
                raise TypeError(
                    f"reward_model.score must return a sequence of floats, got {vals!r}"
                ) from None
            if vals.size != idx.size:
                raise ValueError(
                    f"reward_model.score returned {vals.size} scores for {idx.size} prefixes"
                )
            _check_reward_values("reward_model", vals)
            out[idx] = vals
        return jnp.asarray(out, dtype=jnp.result_type(float)), jnp.zeros((), jnp.int32)

    @staticmethod
    def take(particles: TextParticles, idx) -> TextParticles:
        idx = np.asarray(idx)
        return TextParticles(
            tuple(particles.steps[i] for i in idx), tuple(particles.log_probs[i] for i in idx)
        )

    @staticmethod
    def concat(a: TextParticles, b: TextParticles) -> TextParticles:
        return TextParticles(a.steps + b.steps, a.log_probs + b.log_probs)

    @staticmethod
    def put(particles: TextParticles, index: int, item) -> TextParticles:
        steps, logp = item
        s = list(particles.steps)
        lp = list(particles.log_probs)
        s[index], lp[index] = steps, logp
        return TextParticles(tuple(s), tuple(lp))

    @staticmethod
    def index(particles: TextParticles, i):
        i = int(i)
        return particles.steps[i], particles.log_probs[i]

    def answers(self, prompt: str, particles: TextParticles) -> tuple[Array, list[str]]:
        """Canonical answer ids (-1 for none) and the id -> answer table."""
        labels: list[str] = []
        table: dict[str, int] = {}
        ids = np.full(len(particles), -1, np.int32)
        for i, text in enumerate(particles.texts(self.separator)):
            ans = self.answer_fn(text)
            if ans is None:
                continue
            ans = str(ans)
            if ans not in table:
                table[ans] = len(labels)
                labels.append(ans)
            ids[i] = table[ans]
        return jnp.asarray(ids), labels

    def texts(self, particles: TextParticles) -> list[str]:
        return particles.texts(self.separator)


def make_backend(lm, reward_model, answer_fn=None):
    """The backend for a (language model, reward model) pair; both must be of the same family."""
    lm_native, rm_native = is_jax_native(lm), is_jax_native(reward_model)
    if lm_native != rm_native:
        raise TypeError(
            "lm and reward_model must both be JAX-native (probkit.llm.JaxLanguageModel / "
            "JaxRewardModel) or both text models; got "
            f"{type(lm).__name__} and {type(reward_model).__name__}"
        )
    if lm_native:
        if answer_fn is not None:
            raise ValueError("answer_fn applies to text models; JAX-native models define answer()")
        try:
            hash(lm), hash(reward_model)
        except TypeError:
            raise TypeError(
                "JAX-native models must be hashable (e.g. frozen dataclasses): they are static "
                "arguments of jit"
            ) from None
        return JaxBackend(lm, reward_model)
    if not callable(getattr(lm, "extend", None)):
        raise TypeError(
            f"lm must implement extend(prompt, prefixes, seeds=...) (probkit.llm.LanguageModel), "
            f"got {type(lm).__name__}"
        )
    if not callable(getattr(reward_model, "score", None)):
        raise TypeError(
            "reward_model must implement score(prompt, prefixes) (probkit.llm.RewardModel), got "
            f"{type(reward_model).__name__}"
        )
    validate.callable_("answer_fn", answer_fn, allow_none=True)
    return TextBackend(lm, reward_model, answer_fn or extract_answer)


def check_prompt(backend, prompt) -> None:
    """Text prompts must be non-empty strings; JAX-native prompts are pytrees of arrays."""
    if backend.jax_native:
        if prompt is None or isinstance(prompt, str):
            raise TypeError(
                "prompt of a JAX-native model must be a pytree of arrays describing the problem, "
                f"got {type(prompt).__name__}"
            )
        return
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a string, got {type(prompt).__name__}")
    if not prompt.strip():
        raise ValueError("prompt must be a non-empty string (got an empty or blank prompt)")
