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
    "connections",
    "graph",
    "ideal",
    "identifiability",
    "model",
    "symbolic",
    "MixedGraph",
    "Trek",
    "TooManyTerms",
    "CycleFamily",
    "OneConnection",
    "ConnectionPlan",
    "compile_plan",
    "evaluate_plan",
    "cycle_families",
    "iter_cycle_families",
    "one_connections",
    "iter_one_connections",
    "LinearSEM",
    "CovarianceResult",
    "covariance",
    "batch_covariance",
    "random_parameters",
    "parameter_names",
    "pack_parameters",
    "unpack_parameters",
    "SymbolicCovariance",
    "symbolic_covariance",
    "symbolic_parametrization",
    "parameter_symbols",
    "covariance_symbols",
    "FiniteToOne",
    "is_generically_finite_to_one",
    "exact_jacobian_rank",
    "jacobian",
    "VanishingIdealResult",
    "vanishing_ideal",
    "explore_vanishing_ideal",
]
