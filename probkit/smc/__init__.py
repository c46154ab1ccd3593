"""Sequential Monte Carlo for state-space models.

Top-level functions carry their kernel pieces as attributes, blackjax-style:
`smc.particle_filter(...)` runs the loop, `smc.particle_filter.init` / `.step` are the pure
pieces for writing your own loop.
"""

from probkit.smc import filtering
from probkit.smc.filtering import (
    ParticleFilterInfo,
    ParticleFilterResult,
    ParticleFilterState,
    Proposal,
    particle_filter,
)

__all__ = [
    "ParticleFilterInfo",
    "ParticleFilterResult",
    "ParticleFilterState",
    "Proposal",
    "filtering",
    "particle_filter",
]
