"""Particle methods for LLM inference-time scaling (Puri et al. 2025) and their baselines.

Reasoning steps are latent states, the language model is the transition and a process reward
model is the likelihood. `particle_filter` (paper-faithful or properly weighted),
`particle_gibbs` and `parallel_tempering` explore the reward-tilted distribution of solutions;
`best_of_n`, `weighted_best_of_n`, `beam_search` and `dvts` are the search baselines at equal
budget. Models plug in through the protocols in `probkit.llm.protocols`: text models (an
OpenAI-compatible server, `OpenAICompatibleLM`; a Hugging Face model, `TransformersLM`) or
JAX-native models (the synthetic `testbed`, the enumerable `tabular` model), which compile and
vectorise over problems.
"""

from probkit.llm import (
    answers,
    engine,
    protocols,
    selection,
    synthetic,
    tabular,
    testbed,
    weighting,
)
from probkit.llm.answers import extract_answer
from probkit.llm.filtering import (
    FilterConfig,
    FilterResult,
    FilterState,
    Reference,
    filter_config,
    particle_filter,
)
from probkit.llm.gibbs import ParticleGibbsResult, parallel_tempering, particle_gibbs
from probkit.llm.openai_compat import LMRequestError, OpenAICompatibleLM
from probkit.llm.protocols import (
    Budget,
    JaxLanguageModel,
    JaxRewardModel,
    LanguageModel,
    OutcomeRewardModel,
    ProcessRewardModel,
    RewardModel,
    Step,
    StepOutput,
)
from probkit.llm.search import SearchResult, beam_search, best_of_n, dvts, weighted_best_of_n
from probkit.llm.weighting import Annealing, Entropic

__all__ = [
    "Annealing",
    "Budget",
    "Entropic",
    "FilterConfig",
    "FilterState",
    "JaxLanguageModel",
    "JaxRewardModel",
    "LMRequestError",
    "LanguageModel",
    "OpenAICompatibleLM",
    "OutcomeRewardModel",
    "FilterResult",
    "ParticleGibbsResult",
    "ProcessRewardModel",
    "Reference",
    "RewardModel",
    "SearchResult",
    "Step",
    "StepOutput",
    "TransformersLM",
    "answers",
    "beam_search",
    "best_of_n",
    "dvts",
    "engine",
    "extract_answer",
    "filter_config",
    "parallel_tempering",
    "particle_filter",
    "particle_gibbs",
    "protocols",
    "selection",
    "synthetic",
    "tabular",
    "testbed",
    "weighted_best_of_n",
    "weighting",
]


def __getattr__(name):
    # torch/transformers are imported only when the adapter is used.
    if name == "TransformersLM":
        from probkit.llm.transformers_lm import TransformersLM

        return TransformersLM
    if name == "ParticleFilterResult":  # deprecated spelling of FilterResult (0.2 only)
        from probkit.llm import filtering

        return filtering.__getattr__(name)
    raise AttributeError(f"module 'probkit.llm' has no attribute {name!r}")
