"""GP dynamic programming (Boettiger, Mangel & Munch 2015): fisheries models, GP regression with
NUTS hyperparameters, transition tensors, stochastic dynamic programming, policy evaluation."""

from probkit.gpdp.gp import (
    GPPosterior,
    fit_gp,
    gp_log_marginal,
    gp_predict,
    gp_transition_tensor,
    se_kernel,
)
from probkit.gpdp.models import (
    MODELS,
    PopulationModel,
    Trajectories,
    allen,
    beverton_holt,
    crashes,
    load_training_data,
    myers,
    npv,
    ricker,
    simulate,
    training_data,
)
from probkit.gpdp.paper import (
    PRIORS,
    TRUTH,
    fit_mle,
    fit_parametric,
    parametric_transition_tensor,
    reproduce_paper,
)
from probkit.gpdp.sdp import SDPInfo, SDPSolution, bellman_step, solve_sdp

__all__ = [
    "GPPosterior",
    "MODELS",
    "PRIORS",
    "PopulationModel",
    "SDPInfo",
    "SDPSolution",
    "TRUTH",
    "Trajectories",
    "allen",
    "bellman_step",
    "beverton_holt",
    "crashes",
    "fit_gp",
    "fit_mle",
    "fit_parametric",
    "gp_log_marginal",
    "gp_predict",
    "gp_transition_tensor",
    "load_training_data",
    "myers",
    "npv",
    "parametric_transition_tensor",
    "reproduce_paper",
    "ricker",
    "se_kernel",
    "simulate",
    "solve_sdp",
    "training_data",
]
