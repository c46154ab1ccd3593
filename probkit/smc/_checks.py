"""Eager validation shared by the smoothers (PaRIS, conditional SMC, PPG, learning)."""

import jax

from probkit.core import resampling as resampling_mod
from probkit.core import validate
from probkit.smc import backward as backward_mod
from probkit.smc.filtering import Proposal, check_observations
from probkit.ssm.model import StateSpaceModel

__all__ = ["check_path", "check_setup"]


def check_setup(
    key,
    model,
    params,
    ys,
    num_particles,
    *,
    num_backward=None,
    backward=None,
    proposal=None,
    resampling="systematic",
    allow_mcmc=False,
):
    """Validate the arguments every smoother shares; returns `(ys, backward, resampler)`.

    Runs under `jax.ensure_compile_time_eval`, so value checks on concrete arrays also work when
    the caller is inside `jax.jit` (closed-over parameters stay concrete there).
    """
    with jax.ensure_compile_time_eval():
        return _check_setup(
            key,
            model,
            params,
            ys,
            num_particles,
            num_backward,
            backward,
            proposal,
            resampling,
            allow_mcmc,
        )


def _check_setup(
    key, model, params, ys, num_particles, num_backward, backward, proposal, resampling, allow_mcmc
):
    validate.key("key", key)
    if not isinstance(model, StateSpaceModel):
        raise TypeError(f"model must be a probkit.ssm.StateSpaceModel, got {type(model).__name__}")
    if proposal is not None and not isinstance(proposal, Proposal):
        raise TypeError(f"proposal must be a probkit.smc.Proposal or None, got {type(proposal)}")
    validate.positive_int("num_particles", num_particles, minimum=2)
    if num_backward is not None:
        validate.positive_int("num_backward", num_backward, minimum=1)
    kernel = (
        None if backward is None else backward_mod.check(backward, model, allow_mcmc=allow_mcmc)
    )
    resampler = resampling_mod.get(resampling)
    validate.finite_tree("params", params)
    ys = check_observations(model, params, ys, key)
    return ys, kernel, resampler


def check_path(name, path, model, params, ys, key):
    """A reference path of shape `(T, *state_shape)` matching the model and `ys`."""
    path = validate.finite(name, path)
    x_shape = jax.eval_shape(lambda k: model.initial(params).sample(k), key)
    want = (ys.shape[0], *x_shape.shape)
    if tuple(path.shape) != want:
        raise ValueError(f"{name} must have shape {want} (T, *state_shape), got {path.shape}")
    return path.astype(x_shape.dtype)
