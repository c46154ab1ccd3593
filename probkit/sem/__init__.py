"""Linear structural equation models on mixed graphs (Adhikari, Gross, Härkönen, Tsigaridas 2022).

`MixedGraph` holds directed edges (cycles allowed) and bidirected edges; `covariance` gives
Sigma = (I - Lambda)^{-T} Omega (I - Lambda)^{-1} by linear solves or by the finite
one-connection rule; `one_connections` and `cycle_families` enumerate the rule's terms;
`symbolic_covariance` builds Sigma in sympy; `is_generically_finite_to_one` ranks the
parametrization's Jacobian; `vanishing_ideal` finds and certifies polynomial relations among
the covariances.
"""

from probkit.sem import connections, graph, ideal, identifiability, model, symbolic
from probkit.sem.connections import (
    ConnectionPlan,
    CycleFamily,
    OneConnection,
    TooManyTerms,
    compile_plan,
    cycle_families,
    evaluate_plan,
    iter_cycle_families,
    iter_one_connections,
    one_connections,
)
from probkit.sem.graph import MixedGraph, Trek
from probkit.sem.ideal import VanishingIdealResult, explore_vanishing_ideal, vanishing_ideal
from probkit.sem.identifiability import (
    FiniteToOne,
    exact_jacobian_rank,
    is_generically_finite_to_one,
    jacobian,
)
from probkit.sem.model import (
    CovarianceResult,
    LinearSEM,
    batch_covariance,
    covariance,
    pack_parameters,
    parameter_names,
    random_parameters,
    unpack_parameters,
)
from probkit.sem.symbolic import (
    SymbolicCovariance,
    covariance_symbols,
    parameter_symbols,
    symbolic_covariance,
    symbolic_parametrization,
)

__all__ = [
    "ConnectionPlan",
    "CovarianceResult",
    "CycleFamily",
    "FiniteToOne",
    "LinearSEM",
    "MixedGraph",
    "OneConnection",
    "SymbolicCovariance",
    "TooManyTerms",
    "Trek",
    "VanishingIdealResult",
    "batch_covariance",
    "compile_plan",
    "connections",
    "covariance",
    "covariance_symbols",
    "cycle_families",
    "evaluate_plan",
    "exact_jacobian_rank",
    "explore_vanishing_ideal",
    "graph",
    "ideal",
    "identifiability",
    "is_generically_finite_to_one",
    "iter_cycle_families",
    "iter_one_connections",
    "jacobian",
    "model",
    "one_connections",
    "pack_parameters",
    "parameter_names",
    "parameter_symbols",
    "random_parameters",
    "symbolic",
    "symbolic_covariance",
    "symbolic_parametrization",
    "unpack_parameters",
    "vanishing_ideal",
]
