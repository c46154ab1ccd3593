"""A tiny enumerable reasoning model: exact targets for testing particle methods.

Each step emits a value in {0, ..., V-1} from a Markov chain (`TabularLM`); emitting
`stop_value` finishes the solution early, otherwise it finishes after `num_steps` steps. The
answer is the sum of the emitted values modulo V. The reward of a step is a table indexed by
(previous value, value) (`TabularPRM`, the first step uses the row V), aggregated over the
prefix with "last", "min" or "prod". With V = 3 and 4 steps there are at most 3^4 paths, so the
twisted target p(x) r(x)^(1/tau) / Z, its evidence Z and its answer law are computed exactly by
`exact_target`.
"""

import dataclasses
import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from probkit.core import validate
from probkit.llm.protocols import (
    JaxLanguageModel,
    JaxRewardModel,
    StepOutput,
    aggregate_scores,
)

__all__ = ["ExactTarget", "TabularLM", "TabularPRM", "exact_target"]


def _tuple2(name, value, shape):
    arr = np.asarray(value, dtype=float)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    return tuple(map(tuple, arr)) if arr.ndim == 2 else tuple(arr)


class TabularParticles(NamedTuple):
    values: jax.Array  # (N, T) int32, -1 after the last step
    length: jax.Array  # (N,) int32


@dataclasses.dataclass(frozen=True)
class TabularLM(JaxLanguageModel):
    """Markov chain over step values; `initial` (V,), `transition` (V, V) probabilities.

    Attributes:
        initial: (V,) law of the first step's value (stored as a tuple).
        transition: (V, V) transition probabilities between step values (stored as tuples).
        num_steps: steps of a complete path.
        stop_value: a value that ends the path when emitted, or None.
    """

    initial: tuple
    transition: tuple
    num_steps: int = 4
    stop_value: int | None = None

    def __post_init__(self):
        init = np.asarray(self.initial, float)
        v = init.shape[0]
        object.__setattr__(self, "initial", _tuple2("initial", init, (v,)))
        object.__setattr__(self, "transition", _tuple2("transition", self.transition, (v, v)))
        validate.stochastic("initial", np.asarray(self.initial), 1, what="probabilities")
        validate.stochastic("transition", np.asarray(self.transition), 1, what="rows")
        validate.positive_int("num_steps", self.num_steps)
        if self.stop_value is not None and not 0 <= self.stop_value < v:
            raise ValueError(f"stop_value must be in [0, {v}), got {self.stop_value}")

    @property
    def num_values(self) -> int:
        return len(self.initial)

    def init(self, prompt, num_particles):
        return TabularParticles(
            jnp.full((num_particles, self.num_steps), -1, jnp.int32),
            jnp.zeros((num_particles,), jnp.int32),
        )

    def extend(self, key, prompt, particles):
        n = particles.length.shape[0]
        last = jnp.take_along_axis(
            particles.values, jnp.clip(particles.length - 1, 0)[:, None], axis=1
        )[:, 0]
        logits = jnp.where(
            (particles.length > 0)[:, None],
            jnp.log(jnp.asarray(self.transition))[jnp.clip(last, 0)],
            jnp.log(jnp.asarray(self.initial))[None, :],
        )
        v = jax.random.categorical(key, logits).astype(jnp.int32)
        pos = jnp.clip(particles.length, 0, self.num_steps - 1)
        values = particles.values.at[jnp.arange(n), pos].set(v)
        length = particles.length + 1
        finished = length >= self.num_steps
        if self.stop_value is not None:
            finished = finished | (v == self.stop_value)
        return TabularParticles(values, length), StepOutput(finished, jnp.ones((n,), jnp.int32))

    def answer(self, prompt, particles):
        total = jnp.sum(jnp.where(particles.values >= 0, particles.values, 0), axis=1)
        return (total % self.num_values).astype(jnp.int32)


@dataclasses.dataclass(frozen=True)
class TabularPRM(JaxRewardModel):
    """Step reward table (V + 1, V): row = previous value (row V for the first step).

    Attributes:
        table: (V + 1, V) step rewards in [0, 1] (stored as tuples).
        aggregation: "last", "min" or "prod" of the step rewards.
    """

    table: tuple
    aggregation: str = "last"

    def __post_init__(self):
        arr = np.asarray(self.table, float)
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1] + 1:
            raise ValueError(f"table must have shape (V + 1, V), got {arr.shape}")
        if np.any((arr < 0) | (arr > 1)):
            raise ValueError("table entries must lie in [0, 1]")
        object.__setattr__(self, "table", tuple(map(tuple, arr)))
        validate.one_of("aggregation", self.aggregation, ("last", "min", "prod"))

    def step_scores(self, values):
        v = jnp.asarray(values)
        table = jnp.asarray(self.table)
        prev = jnp.concatenate([jnp.full((*v.shape[:-1], 1), table.shape[1]), v[..., :-1]], -1)
        return table[jnp.clip(prev, 0), jnp.clip(v, 0)]

    def score(self, prompt, particles):
        return aggregate_scores(
            self.step_scores(particles.values), particles.length, self.aggregation
        )


class ExactTarget(NamedTuple):
    """The exact target law of a tabular model, by enumeration of every complete path.

    Attributes:
        paths: complete paths (tuples of values).
        prior: p_LM(path).
        rewards: aggregated reward of each complete path.
        target: p(x) r(x)^(1/tau) / Z.
        evidence: Z = sum_x p(x) r(x)^(1/tau).
        answers: answer of each path.
        answer_probs: (V,) target law of the answer.
    """

    paths: list  # complete paths (tuples of values)
    prior: np.ndarray  # p_LM(path)
    rewards: np.ndarray  # aggregated reward of each complete path
    target: np.ndarray  # p(x) r(x)^(1/tau) / Z
    evidence: float  # Z = sum_x p(x) r(x)^(1/tau)
    answers: np.ndarray  # answer of each path
    answer_probs: np.ndarray  # (V,) target law of the answer


def exact_target(lm: TabularLM, prm: TabularPRM, temperature: float = 1.0) -> ExactTarget:
    """Enumerate every complete path of `lm` and the twisted target p(x) r(x)^(1/tau) / Z."""
    v, t_max = lm.num_values, lm.num_steps
    init = np.asarray(lm.initial)
    trans = np.asarray(lm.transition)
    table = np.asarray(prm.table)
    paths, prior, rewards = [], [], []
    for length in range(1, t_max + 1):
        for path in itertools.product(range(v), repeat=length):
            stops = [x == lm.stop_value for x in path]
            if any(stops[:-1]) or (length < t_max and not stops[-1]):
                continue  # stopped earlier, or not finished yet
            p = init[path[0]] * np.prod([trans[a, b] for a, b in itertools.pairwise(path)])
            prev = (v, *path[:-1])
            s = np.array([table[a, b] for a, b in zip(prev, path)])
            r = {"last": s[-1], "min": s.min(), "prod": s.prod()}[prm.aggregation]
            paths.append(path)
            prior.append(p)
            rewards.append(r)
    prior, rewards = np.array(prior), np.array(rewards)
    tilt = prior * rewards ** (1.0 / temperature)
    z = tilt.sum()
    answers = np.array([sum(p) % v for p in paths])
    target = tilt / z
    answer_probs = np.bincount(answers, weights=target, minlength=v)
    return ExactTarget(paths, prior, rewards, target, float(z), answers, answer_probs)
