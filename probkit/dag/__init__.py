"""Linear DAG learning: CoLiDE (EV, NV) and DAGMA on one path-following engine.

`colide` / `dagma` learn a DAG from data (`learn`); `simulate_dag`, `simulate_weights` and
`simulate_linear_sem` (or all three at once, `simulate_problem`) generate seeded benchmark
problems (`simulate`); `metrics` and `sid`
score an estimate (`evaluation`); `threshold_to_dag`, `is_dag` and `to_networkx` handle graphs
(`graph`). The objective's pieces are public in `scores` and `acyclicity`, the solver's
`init` / `step` / `advance` / `run` in `path`.
"""

from probkit.dag import acyclicity, evaluation, graph, learn, path, scores, simulate
from probkit.dag.acyclicity import log_det_acyclicity
from probkit.dag.evaluation import metrics, sid
from probkit.dag.graph import is_dag, threshold_to_dag, to_networkx
from probkit.dag.learn import DagResult, colide, dagma
from probkit.dag.simulate import (
    SimulatedProblem,
    simulate_dag,
    simulate_linear_sem,
    simulate_problem,
    simulate_weights,
)

__all__ = [
    "DagResult",
    "SimulatedProblem",
    "acyclicity",
    "colide",
    "dagma",
    "evaluation",
    "graph",
    "is_dag",
    "learn",
    "log_det_acyclicity",
    "metrics",
    "path",
    "scores",
    "sid",
    "simulate",
    "simulate_dag",
    "simulate_linear_sem",
    "simulate_problem",
    "simulate_weights",
    "threshold_to_dag",
    "to_networkx",
]
