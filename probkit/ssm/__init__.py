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
    "StateSpaceModel",
    "LinearGaussianParams",
    "StochVolParams",
    "GrowthParams",
    "KalmanResult",
    "RTSResult",
    "linear_gaussian",
    "stochastic_volatility",
    "nonlinear_growth",
    "log_joint",
    "simulate",
    "kalman_filter",
    "rts_smoother",
    "sample_initial",
    "sample_transition",
    "initial_log_prob",
    "transition_log_prob",
    "observation_log_prob",
]
