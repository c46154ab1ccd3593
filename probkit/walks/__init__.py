"""Random walks on graphs: SRW, MHRW, NBRW, self-repellent walks (SRRW), HDT and SA-SRRW.

Doshi, Hu & Eun, *Self-Repellent Random Walks on General Graphs* (ICML 2023); Hu, Doshi & Eun,
*Accelerating Distributed Stochastic Optimization via Self-Repellent Random Walks* (ICLR 2024).
"""

from probkit.walks.estimators import SRRWSummary, ergodic_average, nrmse, tvd, visit_frequencies
from probkit.walks.graph import BASES, BaseChain, Graph, base_chain, dense_transition, from_networkx
from probkit.walks.kernel import (
    SRRWInfo,
    SRRWResult,
    SRRWState,
    empirical_measure,
    growing_alpha,
    hdt,
    hdt_step,
    init,
    srrw,
    step,
    transition_probabilities,
)
from probkit.walks.sa import SAInfo, SAResult, SAState, sa_init, sa_srrw, sa_step
from probkit.walks.theory import asymptotic_covariance, sa_asymptotic_covariance, spectrum

__all__ = [
    "BASES",
    "BaseChain",
    "Graph",
    "SAInfo",
    "SAResult",
    "SAState",
    "SRRWInfo",
    "SRRWResult",
    "SRRWState",
    "SRRWSummary",
    "asymptotic_covariance",
    "base_chain",
    "dense_transition",
    "empirical_measure",
    "ergodic_average",
    "from_networkx",
    "growing_alpha",
    "hdt",
    "hdt_step",
    "init",
    "nrmse",
    "sa_asymptotic_covariance",
    "sa_init",
    "sa_srrw",
    "sa_step",
    "spectrum",
    "srrw",
    "step",
    "transition_probabilities",
    "tvd",
    "visit_frequencies",
]
