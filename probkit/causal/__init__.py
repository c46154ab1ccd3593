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

from probkit.causal import (
    channel,
    comb,
    contraction,
    diagram,
    drawing,
    estimand,
    identification,
    interop,
    model,
)
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
from probkit.causal.identification import (
    Hedge,
    NotIdentifiable,
    NotIdentifiableError,
    backdoor_set,
    find_hedge,
    frontdoor_set,
    identify,
    latent_projection,
)
from probkit.causal.model import CausalModel, empirical, random_cpts, random_model

__all__ = [
    "Box",
    "CausalModel",
    "Channel",
    "Comb",
    "Copy",
    "Diagram",
    "Discard",
    "Distribution",
    "Estimand",
    "Hedge",
    "Layer",
    "NotIdentifiable",
    "NotIdentifiableError",
    "Permute",
    "Rename",
    "Swap",
    "Uniform",
    "Wire",
    "backdoor_set",
    "channel",
    "comb",
    "comb_disintegrate",
    "compose",
    "contract",
    "contraction",
    "copy",
    "cut",
    "diagram",
    "discard",
    "draw",
    "drawing",
    "empirical",
    "estimand",
    "evaluate",
    "find_hedge",
    "front_door",
    "frontdoor_set",
    "identification",
    "identify",
    "identity",
    "interop",
    "interpret",
    "latent_projection",
    "model",
    "point",
    "random_cpts",
    "random_model",
    "tensor",
    "uniform",
]
