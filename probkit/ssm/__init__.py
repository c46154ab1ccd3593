"""State-space models (numpyro distributions) and their exact references."""

from probkit.ssm.growth import GrowthParams, nonlinear_growth
from probkit.ssm.joint import log_joint
from probkit.ssm.kalman import KalmanResult, RTSResult, kalman_filter, rts_smoother
from probkit.ssm.linear_gaussian import LinearGaussianParams, linear_gaussian
from probkit.ssm.model import (
    StateSpaceModel,
    initial_log_prob,
    observation_log_prob,
    sample_initial,
    sample_transition,
    transition_log_prob,
)
from probkit.ssm.simulate import simulate
from probkit.ssm.stochastic_volatility import StochVolParams, stochastic_volatility

__all__ = [
    "GrowthParams",
    "KalmanResult",
    "LinearGaussianParams",
    "RTSResult",
    "StateSpaceModel",
    "StochVolParams",
    "initial_log_prob",
    "kalman_filter",
    "linear_gaussian",
    "log_joint",
    "nonlinear_growth",
    "observation_log_prob",
    "rts_smoother",
    "sample_initial",
    "sample_transition",
    "simulate",
    "stochastic_volatility",
    "transition_log_prob",
]
