"""`SMCConfig`: the static settings of a state-space particle method, validated once.

The particle filter, PaRIS, PPG, conditional SMC and the learning loops share the same
choices: how many particles, how to resample and when, the forward proposal, and how backward
indices are drawn. The public functions keep these as keyword arguments; they validate them
once into an `SMCConfig` and hand that one hashable object down through their compiled layers
(a static `jit` argument: one compilation per configuration), instead of passing every option
by hand. The LLM filter's `llm.FilterConfig` uses the same names for the same things
(`resampling`, `ess_threshold`).

    cfg = smc.SMCConfig(num_particles=500, resampling="stratified", backward="exact")
    cfg.resampling.name            # "stratified": names are resolved to objects when built
    smc.SMCConfig(num_particles=1)  # ValueError naming num_particles
"""

import dataclasses

import jax

from probkit.core import resampling as resampling_mod
from probkit.core import sharding as sharding_mod
from probkit.core import validate
from probkit.smc import backward as backward_mod
from probkit.smc.propagation import Proposal

__all__ = ["RESAMPLING_SCOPES", "SMCConfig"]

RESAMPLING_SCOPES = ("global", "island")
"""Accepted values of `resampling_scope`: one particle system, or islands (`smc.islands`)."""


@dataclasses.dataclass(frozen=True)
class SMCConfig:
    """Static settings shared by the state-space particle methods (hashable).

    Attributes:
        num_particles: N >= 2.
        resampling: a scheme name ("systematic", "stratified", "multinomial", "residual") or a
            `core.resampling.Resampler`; stored as the `Resampler`.
        ess_threshold: resample when ESS < ess_threshold·N, in [0, 1] (1: every step).
        proposal: a `smc.Proposal` for a guided forward pass, or None (bootstrap).
        num_backward: K >= 1 backward draws per particle (PaRIS, PPG, learning).
        backward: "hybrid", "exact", "rejection", "mcmc" or a `smc.backward.BackwardKernel`;
            stored as the `BackwardKernel`. Whether the model supports it is checked per call
            (accept–reject kernels need `model.transition_log_bound`).
        sharding: the particle axis split over devices: a `NamedSharding`
            (`probkit.core.sharding.batch_sharding`), a `Mesh`, or None
            (see `core.sharding.resolve`).
        resampling_scope: "global" (one particle system; resampling draws from all N weights,
            with XLA's collectives when sharded) or "island" (`num_islands` islands resample
            locally; whole islands are resampled by island weight at most every
            `exchange_every` steps). Only `smc.particle_filter` reads it; see
            `probkit.smc.islands`.
        num_islands: islands for the "island" scope (None: one per device of `sharding`, or 1
            unsharded); must divide num_particles and be a multiple of the device count.
        exchange_every: k >= 1: island-level resampling is considered at steps t with t % k == 0
            (and done when the island ESS < ess_threshold·num_islands).

    Raises:
        TypeError, ValueError: naming the offending field.
    """

    num_particles: int = 100
    resampling: "str | resampling_mod.Resampler" = "systematic"
    ess_threshold: float = 0.5
    proposal: Proposal | None = None
    num_backward: int = 2
    backward: "str | backward_mod.BackwardKernel" = "hybrid"
    sharding: "jax.sharding.Sharding | None" = None
    resampling_scope: str = "global"
    num_islands: int | None = None
    exchange_every: int = 10

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        put("num_particles", validate.positive_int("num_particles", self.num_particles, minimum=2))
        put("resampling", resampling_mod.get(self.resampling))
        put("ess_threshold", validate.probability("ess_threshold", self.ess_threshold))
        if self.proposal is not None and not isinstance(self.proposal, Proposal):
            raise TypeError(
                f"proposal must be a probkit.smc.Proposal or None, got {type(self.proposal)}"
            )
        put("num_backward", validate.positive_int("num_backward", self.num_backward, minimum=1))
        put("backward", backward_mod.get(self.backward))
        put("sharding", sharding_mod.resolve(self.sharding))

        validate.one_of("resampling_scope", self.resampling_scope, RESAMPLING_SCOPES)
        if self.num_islands is not None:
            put("num_islands", validate.positive_int("num_islands", self.num_islands))
        put("exchange_every", validate.positive_int("exchange_every", self.exchange_every))

    def replace(self, **changes) -> "SMCConfig":
        """A copy with `changes` applied (validated like a new config)."""
        return dataclasses.replace(self, **changes)
