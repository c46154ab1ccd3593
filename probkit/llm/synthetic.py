"""The synthetic reasoning models of the testbed: problems, a JAX language model and PRM.

Each problem has T reasoning steps and a step-error probability q ~ Beta(1.2, 8). At every step
a correct solution goes wrong with probability q, and an error is absorbing. A wrong solution
ends with one of K wrong answers drawn from a skewed, problem-specific law
(p_wrong ~ Dirichlet(0.3·1_K)), so majority voting has a popular wrong answer to fall for.
Answer 0 is the correct one.

The process reward model scores the prefix after step t as

    s_t = sigmoid(c + a·ok_t + b_t + eps_t),   b_t = b_{t-1} + N(0, sd_b²),  eps_t ~ N(0, sd_e²),

where b is a random walk that descendants inherit: a *persistent* PRM error that search can
exploit. Optionally a fraction h of errors are *deceptive* and add +delta to b (reward
hacking). The defaults are the research notes' moderate-noise setting: T = 12, a = 2,
sd_b = 1.0, sd_e = 0.8.

Everything is vectorised in JAX over problems x particles x steps; `probkit.llm.testbed`
runs the accuracy-vs-budget table on these models (and re-exports them).

`TextSyntheticLM` / `text_prm` are the same model behind the *text* protocols (the state is
written into each step's text), for exercising text-model code paths and peers such as its_hub
on identical problems.
"""

import dataclasses
import re
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtri

from probkit.core import validate
from probkit.core.types import Array, PRNGKey
from probkit.llm.protocols import (
    JaxLanguageModel,
    JaxRewardModel,
    ProcessRewardModel,
    Step,
    StepOutput,
    aggregate_scores,
)

__all__ = [
    "Config",
    "Problems",
    "SyntheticLM",
    "SyntheticPRM",
    "SyntheticParticles",
    "TextSyntheticLM",
    "problems",
    "text_prm",
]


@dataclasses.dataclass(frozen=True)
class Config:
    """Testbed parameters (defaults: the research notes' moderate-noise setting).

    Attributes:
        num_steps: T.
        error_a: q ~ Beta(error_a, error_b).
        error_b: second parameter of the Beta law of q.
        num_wrong: K wrong answers.
        wrong_concentration: p_wrong ~ Dirichlet(wrong_concentration·1_K).
        prm_offset: c.
        prm_gap: a: score gap between correct and wrong prefixes.
        prm_step_sd: sd_b: persistent random-walk error per step.
        prm_obs_sd: sd_e: fresh noise per scored prefix.
        deceptive_fraction: h: fraction of errors that fool the PRM.
        deceptive_shift: delta added to b by a deceptive error.
        early_stop: per-step probability that a wrong solution stops early.
        tokens_per_step: reported token count of a step (budget accounting).
    """

    num_steps: int = 12  # T
    error_a: float = 1.2  # q ~ Beta(error_a, error_b)
    error_b: float = 8.0
    num_wrong: int = 10  # K wrong answers
    wrong_concentration: float = 0.3  # p_wrong ~ Dirichlet(wrong_concentration·1_K)
    prm_offset: float = -1.0  # c
    prm_gap: float = 2.0  # a: score gap between correct and wrong prefixes
    prm_step_sd: float = 1.0  # sd_b: persistent random-walk error per step
    prm_obs_sd: float = 0.8  # sd_e: fresh noise per scored prefix
    deceptive_fraction: float = 0.0  # h: fraction of errors that fool the PRM
    deceptive_shift: float = 3.0  # delta added to b by a deceptive error
    early_stop: float = 0.0  # per-step probability that a wrong solution stops early
    tokens_per_step: int = 40  # reported token count of a step (budget accounting)

    def __post_init__(self):
        validate.positive_int("num_steps", self.num_steps)
        validate.positive_float("error_a", self.error_a)
        validate.positive_float("error_b", self.error_b)
        validate.positive_int("num_wrong", self.num_wrong)
        validate.positive_float("wrong_concentration", self.wrong_concentration)
        validate.positive_float("prm_step_sd", self.prm_step_sd, allow_zero=True)
        validate.positive_float("prm_obs_sd", self.prm_obs_sd, allow_zero=True)
        validate.probability("deceptive_fraction", self.deceptive_fraction)
        validate.probability("early_stop", self.early_stop)
        validate.positive_int("tokens_per_step", self.tokens_per_step)


class Problems(NamedTuple):
    """Problems with their step policy and PRM parameters (every field has a leading axis).

    The noise parameters travel with the problems as data, so one compiled method serves every
    noise setting (and settings can be mixed or `vmap`-ed).

    Attributes:
        error_prob: (P,) q: per-step error probability.
        wrong_probs: (P, K) law of the wrong answers.
        prm_offset: (P,) c.
        prm_gap: (P,) a.
        prm_step_sd: (P,) sd_b.
        prm_obs_sd: (P,) sd_e.
        deceptive_fraction: (P,) h.
        deceptive_shift: (P,) delta.
        early_stop: (P,) per-step probability that a wrong solution stops early.
    """

    error_prob: Array  # (P,) q: per-step error probability
    wrong_probs: Array  # (P, K) law of the wrong answers
    prm_offset: Array  # (P,) c
    prm_gap: Array  # (P,) a
    prm_step_sd: Array  # (P,) sd_b
    prm_obs_sd: Array  # (P,) sd_e
    deceptive_fraction: Array  # (P,) h
    deceptive_shift: Array  # (P,) delta
    early_stop: Array  # (P,)


def problems(key: PRNGKey, num_problems: int, config: Config = Config()) -> Problems:
    """`num_problems` problems: a leading axis on every field (index one to get a prompt).

    Drawn with NumPy from a seed taken from `key` (Beta and Dirichlet draws compile slowly in
    JAX, and problems are data, not part of any method).
    """
    validate.key("key", key)
    num_problems = validate.positive_int("num_problems", num_problems)
    seed = np.asarray(
        jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    ).ravel()
    rng = np.random.default_rng(seed.astype(np.uint64).tolist())
    f = jnp.result_type(float)
    q = rng.beta(config.error_a, config.error_b, num_problems)
    w = rng.dirichlet(np.full(config.num_wrong, config.wrong_concentration), num_problems)
    w = np.maximum(w, np.finfo(np.float32).tiny)  # tiny concentrations can underflow to 0
    w = w / w.sum(axis=1, keepdims=True)
    fill = lambda v: jnp.full((num_problems,), v, f)  # noqa: E731
    return Problems(
        jnp.asarray(q, f),
        jnp.asarray(w, f),
        fill(config.prm_offset),
        fill(config.prm_gap),
        fill(config.prm_step_sd),
        fill(config.prm_obs_sd),
        fill(config.deceptive_fraction),
        fill(config.deceptive_shift),
        fill(config.early_stop),
    )


class SyntheticParticles(NamedTuple):
    """Particles of the synthetic testbed's language model (`SyntheticLM`).

    Attributes:
        ok: (N,) bool, no error so far.
        answer: (N,) int32: 0 correct, 1..K wrong, -1 not finished.
        bias: (N,) persistent PRM error b.
        scores: (N, T) PRM score of each prefix (0 beyond the length).
        length: (N,) int32 steps taken.
    """

    ok: Array  # (N,) bool, no error so far
    answer: Array  # (N,) int32: 0 correct, 1..K wrong, -1 not finished
    bias: Array  # (N,) persistent PRM error b
    scores: Array  # (N, T) PRM score of each prefix (0 beyond the length)
    length: Array  # (N,) int32


@dataclasses.dataclass(frozen=True)
class SyntheticLM(JaxLanguageModel):
    """The testbed's step policy; the prompt is one problem of `Problems` (which carries the
    noise parameters), the model itself only the static sizes.

    Attributes:
        num_steps: T, steps of a complete solution.
        tokens_per_step: reported token count of a step (budget accounting).
    """

    num_steps: int = 12
    tokens_per_step: int = 40

    @classmethod
    def from_config(cls, config: Config) -> "SyntheticLM":
        return cls(config.num_steps, config.tokens_per_step)

    def init(self, prompt, num_particles):
        n, t = num_particles, self.num_steps
        f = jnp.result_type(float)
        return SyntheticParticles(
            jnp.ones((n,), bool),
            jnp.full((n,), -1, jnp.int32),
            jnp.zeros((n,), f),
            jnp.zeros((n, t), f),
            jnp.zeros((n,), jnp.int32),
        )

    def extend(self, key, prompt, particles):
        c = prompt
        n = particles.length.shape[0]
        f = particles.bias.dtype
        # One uniform draw per particle and purpose (a single threefry call keeps compilation
        # fast); normals by the inverse CDF, the wrong answer by inverting its CDF.
        tiny = jnp.finfo(f).eps
        u = jax.random.uniform(key, (6, n), f, minval=tiny, maxval=1 - tiny)
        err = particles.ok & (u[0] < c.error_prob)
        deceptive = err & (u[1] < c.deceptive_fraction)
        ok = particles.ok & ~err
        bias = particles.bias + c.prm_step_sd * ndtri(u[2]) + c.deceptive_shift * deceptive
        eps = c.prm_obs_sd * ndtri(u[3])
        s = jax.nn.sigmoid(c.prm_offset + c.prm_gap * ok + bias + eps)
        pos = jnp.clip(particles.length, 0, self.num_steps - 1)
        scores = particles.scores.at[jnp.arange(n), pos].set(s)
        length = particles.length + 1
        finished = (length >= self.num_steps) | (~ok & (u[4] < c.early_stop))
        cdf = jnp.cumsum(c.wrong_probs)
        k = c.wrong_probs.shape[-1]
        wrong = 1 + jnp.clip(jnp.searchsorted(cdf, u[5] * cdf[-1]), 0, k - 1)
        answer = jnp.where(finished, jnp.where(ok, 0, wrong), -1).astype(jnp.int32)
        out = StepOutput(finished, jnp.full((n,), self.tokens_per_step, jnp.int32))
        return SyntheticParticles(ok, answer, bias, scores, length), out

    def answer(self, prompt, particles):
        return particles.answer


@dataclasses.dataclass(frozen=True)
class SyntheticPRM(JaxRewardModel):
    """The testbed's PRM: the stored prefix scores aggregated by "last", "min" or "prod".

    Attributes:
        aggregation: "last", "min" or "prod" of the prefix scores.
    """

    aggregation: str = "last"

    def __post_init__(self):
        validate.one_of("aggregation", self.aggregation, ("last", "min", "prod"))

    def score(self, prompt, particles):
        return aggregate_scores(particles.scores, particles.length, self.aggregation)


# ---------------------------------------------------------------------------------------------
# The same model behind the text protocols.

_STATE = re.compile(r"\[ok=(\d) b=([-+0-9.eE]+) s=([0-9.eE+-]+)\]")


class TextSyntheticLM:
    """The testbed's step policy as a text `LanguageModel` for one problem.

    Each step reads ``"step t [ok=1 b=+0.123 s=0.711]"``; the last step appends
    ``"\\boxed{A}"`` with A = 0 for the correct answer. Sampling uses `seeds` (one NumPy
    generator per request), so runs are reproducible. With `stop=None` (a request for the
    whole remaining solution, as best-of-N peers make) every remaining step is generated and
    joined with the separator.
    """

    separator = "\n\n"

    def __init__(self, problem: Problems, config: Config = Config()):
        self.params = {
            k: float(np.asarray(v)) for k, v in problem._asdict().items() if k != "wrong_probs"
        }
        self.wrong = np.asarray(problem.wrong_probs, dtype=float)
        self.wrong = self.wrong / self.wrong.sum()
        self.num_steps = config.num_steps
        self.tokens_per_step = config.tokens_per_step

    def next_step(self, steps: Sequence[str], rng: np.random.Generator) -> Step:
        c = self.params
        ok, bias = True, 0.0
        if steps:
            m = _STATE.search(steps[-1])
            if m is None:
                raise ValueError(f"unrecognised step text {steps[-1]!r}")
            ok, bias = m.group(1) == "1", float(m.group(2))
        err = ok and rng.random() < c["error_prob"]
        deceptive = err and rng.random() < c["deceptive_fraction"]
        ok = ok and not err
        bias += c["prm_step_sd"] * rng.standard_normal() + c["deceptive_shift"] * deceptive
        eps = c["prm_obs_sd"] * rng.standard_normal()
        s = 1.0 / (1.0 + np.exp(-(c["prm_offset"] + c["prm_gap"] * ok + bias + eps)))
        t = len(steps) + 1
        finished = t >= self.num_steps or (not ok and rng.random() < c["early_stop"])
        text = f"step {t} [ok={int(ok)} b={bias:+.6f} s={s:.9f}]"
        if finished:
            ans = 0 if ok else 1 + int(rng.choice(len(self.wrong), p=self.wrong))
            text += f" so the answer is \\boxed{{{ans}}}"
        return Step(text, finished, self.tokens_per_step)

    def extend(self, prompt, prefixes, *, seeds=None):
        seeds = seeds if seeds is not None else [None] * len(prefixes)
        return [self.next_step(p, np.random.default_rng(s)) for p, s in zip(prefixes, seeds)]

    def complete(self, steps: Sequence[str], rng: np.random.Generator) -> list[str]:
        """Generate every remaining step of a solution."""
        steps = list(steps)
        while True:
            step = self.next_step(steps, rng)
            steps.append(step.text)
            if step.finished:
                return steps


def _step_scores_from_text(prompt, prefixes):
    out = []
    for steps in prefixes:
        scores = []
        for s in steps:
            scores += [float(m.group(3)) for m in _STATE.finditer(s)]
        out.append(scores)
    return out


def text_prm(aggregation: str = "last") -> ProcessRewardModel:
    """The testbed's PRM as a text `ProcessRewardModel` (reads the scores written in steps)."""
    return ProcessRewardModel(_step_scores_from_text, aggregation)


# ---------------------------------------------------------------------------------------------
# The benchmark.
