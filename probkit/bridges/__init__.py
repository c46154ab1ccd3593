"""Schroedinger bridges: entropic OT, Gaussian closed forms, reference SDEs, and multi-marginal
bridges with iterative reference refinement (SBIRR). See docs/bridges.md for the conventions."""

from probkit.bridges import experiments
from probkit.bridges.exact import exact_ot, wasserstein2
from probkit.bridges.gaussian import (
    GaussianEOT,
    GaussianSB,
    gaussian_eot,
    gaussian_sb,
    gaussian_sb_drift,
    gaussian_sb_marginal,
    gaussian_sb_sample,
    gaussian_w2,
    linear_bridge_moments,
    linear_bridge_path,
    ou_gramian,
)
from probkit.bridges.references import (
    Reference,
    brownian,
    drift,
    lotka_volterra,
    ou,
    repressilator,
    simulate,
    transition_cost,
)
from probkit.bridges.sbirr import FitInfo, FitResult, Snapshots, bridge_step, fit, prepare, refine
from probkit.bridges.sinkhorn import (
    SinkhornResult,
    batched_sinkhorn,
    sinkhorn,
    sinkhorn_divergence,
    squared_euclidean,
)

__all__ = [
    "FitInfo",
    "FitResult",
    "GaussianEOT",
    "GaussianSB",
    "Reference",
    "SinkhornResult",
    "Snapshots",
    "batched_sinkhorn",
    "bridge_step",
    "brownian",
    "drift",
    "exact_ot",
    "experiments",
    "fit",
    "gaussian_eot",
    "gaussian_sb",
    "gaussian_sb_drift",
    "gaussian_sb_marginal",
    "gaussian_sb_sample",
    "gaussian_w2",
    "linear_bridge_moments",
    "linear_bridge_path",
    "lotka_volterra",
    "ou",
    "ou_gramian",
    "prepare",
    "refine",
    "repressilator",
    "simulate",
    "sinkhorn",
    "sinkhorn_divergence",
    "squared_euclidean",
    "transition_cost",
    "wasserstein2",
]
