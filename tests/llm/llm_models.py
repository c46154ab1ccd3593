"""Models shared by the probkit.llm tests: the enumerable tabular model and a fixed-reward mock."""

import dataclasses

import jax.numpy as jnp

from probkit.llm import JaxLanguageModel, JaxRewardModel, StepOutput
from probkit.llm.tabular import TabularLM, TabularPRM

PROMPT = jnp.zeros(())  # the tabular model ignores its prompt


def tabular_models(aggregation="last"):
    """3 step values, 4 steps, value 2 stops early: 31 complete paths."""
    lm = TabularLM(
        initial=(0.5, 0.3, 0.2),
        transition=((0.6, 0.3, 0.1), (0.2, 0.5, 0.3), (0.3, 0.3, 0.4)),
        num_steps=4,
        stop_value=2,
    )
    prm = TabularPRM(
        table=((0.9, 0.4, 0.6), (0.3, 0.8, 0.5), (0.5, 0.5, 0.5), (0.7, 0.2, 0.9)),
        aggregation=aggregation,
    )
    return lm, prm


@dataclasses.dataclass(frozen=True)
class FixedRewardLM(JaxLanguageModel):
    """Particle i is its index; one step per call; finishes after prompt["finish_after"] steps
    (particles listed in `finished_first` finish at their first step)."""

    finished_first: tuple = ()

    def init(self, prompt, num_particles):
        return {"idx": jnp.arange(num_particles), "steps": jnp.zeros(num_particles, jnp.int32)}

    def extend(self, key, prompt, particles):
        steps = particles["steps"] + 1
        first = jnp.isin(particles["idx"], jnp.asarray(self.finished_first, jnp.int32))
        done = (steps >= prompt["finish_after"]) | first
        n = steps.shape[0]
        return {"idx": particles["idx"], "steps": steps}, StepOutput(done, jnp.ones(n, jnp.int32))

    def answer(self, prompt, particles):
        return particles["idx"]


@dataclasses.dataclass(frozen=True)
class FixedRewardPRM(JaxRewardModel):
    """Reward of particle i is prompt["rewards"][i], whatever its prefix."""

    def score(self, prompt, particles):
        return jnp.asarray(prompt["rewards"])[particles["idx"]]


def fixed_prompt(rewards, finish_after=3):
    return {"rewards": jnp.asarray(rewards), "finish_after": jnp.asarray(finish_after)}
