"""Sequential Monte Carlo for state-space models.

Top-level functions carry their kernel pieces as attributes, blackjax-style:
`smc.particle_filter(...)` runs the loop, `smc.particle_filter.init` / `.step` are the pure
pieces for writing your own loop; likewise `smc.paris.init/.step`, `smc.csmc.init/.step/.kernel`
and `smc.ppg.init/.step/.kernel`.
"""

from probkit.smc import (
    backward,
    conditional,
    config,
    filtering,
    functional,
    gibbs,
    learning,
    propagation,
    simulation,
    smoothing,
)
from probkit.smc.backward import BackwardKernel
from probkit.smc.conditional import CSMCInfo, CSMCKernel, CSMCResult, CSMCState, csmc
from probkit.smc.config import SMCConfig
from probkit.smc.filtering import (
    ParticleFilterInfo,
    ParticleFilterResult,
    ParticleFilterState,
    Proposal,
    particle_filter,
)
from probkit.smc.functional import AdditiveFunctional, FunctionalContext, score_functional
from probkit.smc.gibbs import PPGInfo, PPGKernel, PPGResult, PPGState, ppg
from probkit.smc.learning import FitInfo, FitResult, ParametricProposal, fit_mle, fit_msc
from probkit.smc.simulation import FFBSResult, backward_simulation, ffbs
from probkit.smc.smoothing import ParisInfo, ParisResult, ParisState, paris

__all__ = [
    "AdditiveFunctional",
    "BackwardKernel",
    "CSMCInfo",
    "CSMCKernel",
    "CSMCResult",
    "CSMCState",
    "FFBSResult",
    "FitInfo",
    "FitResult",
    "FunctionalContext",
    "ParametricProposal",
    "ParisInfo",
    "ParisResult",
    "ParisState",
    "PPGInfo",
    "PPGKernel",
    "PPGResult",
    "PPGState",
    "SMCConfig",
    "ParticleFilterInfo",
    "ParticleFilterResult",
    "ParticleFilterState",
    "Proposal",
    "backward",
    "backward_simulation",
    "conditional",
    "config",
    "csmc",
    "ffbs",
    "filtering",
    "fit_mle",
    "fit_msc",
    "functional",
    "gibbs",
    "learning",
    "paris",
    "particle_filter",
    "ppg",
    "propagation",
    "simulation",
    "score_functional",
    "smoothing",
]
