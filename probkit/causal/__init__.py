"""Causal inference by string-diagram surgery on finite variables.

After Jacobs, Kissinger & Zanasi, "Causal inference by string diagram surgery" (FoSSaCS 2019):

- `Distribution`, `Channel` and the generators `copy`, `discard`, `uniform`: the semantics
  (finite stochastic matrices over named variables, composed by einsum);
- `Box`, `Diagram`, `interpret`, `draw`: the syntax (string diagrams) and its interpretation;
- `CausalModel`: a networkx DAG with CPTs and latent nodes; `.do()` is surgery and
  `cut(diagram, var)` the same intervention on the diagram;
- `comb_disintegrate`, `Comb`: the front-door computation from observational data alone;
- `identify` / `find_hedge`: complete identification (back-door, front-door, Shpitser–Pearl ID)
  returning an evaluable `Estimand`, or the hedge that makes the effect non-identifiable.
"""

from probkit.causal import channel, comb, contraction, diagram, drawing, estimand, identify, model
from probkit.causal.channel import (
    Channel,
    Distribution,
    compose,
    copy,
    discard,
    identity,
    point,
    tensor,
    uniform,
)
from probkit.causal.comb import Comb, comb_disintegrate, front_door
from probkit.causal.contraction import contract
from probkit.causal.diagram import (
    Box,
    Copy,
    Diagram,
    Discard,
    Layer,
    Permute,
    Rename,
    Swap,
    Uniform,
    Wire,
    cut,
    evaluate,
    interpret,
)
from probkit.causal.drawing import draw
from probkit.causal.estimand import Estimand
from probkit.causal.identify import (
    Hedge,
    backdoor_set,
    find_hedge,
    frontdoor_set,
    identify,
    latent_projection,
)
from probkit.causal.model import CausalModel, empirical, random_model

__all__ = [
    "channel",
    "comb",
    "contraction",
    "diagram",
    "drawing",
    "estimand",
    "model",
    "Channel",
    "Distribution",
    "compose",
    "tensor",
    "identity",
    "copy",
    "discard",
    "uniform",
    "point",
    "contract",
    "Wire",
    "Box",
    "Copy",
    "Discard",
    "Uniform",
    "Permute",
    "Swap",
    "Rename",
    "Layer",
    "Diagram",
    "interpret",
    "evaluate",
    "cut",
    "draw",
    "CausalModel",
    "random_model",
    "empirical",
    "Comb",
    "comb_disintegrate",
    "front_door",
    "Estimand",
    "Hedge",
    "identify",
    "find_hedge",
    "backdoor_set",
    "frontdoor_set",
    "latent_projection",
]
