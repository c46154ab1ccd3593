"""The pieces of one state-space particle step shared by the filter and the conditional filter.

`Proposal` is a guided filter's proposal (exported as `smc.Proposal`); `sample_proposal` moves
particles (bootstrap: the model's transition; guided: a `Proposal`),
`incremental_log_weights` gives g(y|x) m(x|x_prev) / q(x|x_prev, y), and `reweight_state`
adds them through `core.particles.reweight`, the one reweighting step of the library.
"""

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpyro.distributions as dist

from probkit.core import accumulate
from probkit.core.particles import reweight
from probkit.core.types import Array, PyTree
from probkit.ssm import model as ssm_model

__all__ = ["Proposal", "incremental_log_weights", "reweight_state", "sample_proposal"]


@dataclasses.dataclass(frozen=True, eq=False)
class Proposal:
    """Guided-filter proposal: `initial(params, y0)` and `transition(params, x_prev, y, t)`.

    Both return numpyro distributions for one particle (or a batch when `vectorized=True`,
    as for `StateSpaceModel`).

    Attributes:
        initial: `initial(params, y0)` -> distribution of x_0.
        transition: `transition(params, x_prev, y, t)` -> distribution of x_t.
        vectorized: the functions also accept a leading particle axis.
    """

    initial: Callable[[PyTree, Array], dist.Distribution]
    transition: Callable[[PyTree, Array, Array, Array], dist.Distribution]
    vectorized: bool = False

    def __post_init__(self):
        if not callable(self.initial) or not callable(self.transition):
            raise TypeError("Proposal.initial and Proposal.transition must be callable")


def sample_proposal(key, model, params, proposal, x_prev, y, t):
    """New particles (N, *state_shape) from x_prev (N, *state_shape): the model's transition
    when `proposal` is None, else the guided `filtering.Proposal`."""
    if proposal is None:
        return ssm_model.sample_transition(key, model, params, x_prev, t)
    if proposal.vectorized:
        return proposal.transition(params, x_prev, y, t).sample(key)
    keys = jax.random.split(key, x_prev.shape[0])
    return jax.vmap(lambda k, xp: proposal.transition(params, xp, y, t).sample(k))(keys, x_prev)


def incremental_log_weights(model, params, proposal, x_prev, x, y, t):
    """(N,) log g(y_t | x) + [log m(x | x_prev) - log q(x | x_prev, y_t) when guided]."""
    lw = ssm_model.observation_log_prob(model, params, x, y, t)
    if proposal is not None:
        lw = lw + ssm_model.transition_log_prob(model, params, x_prev, x, t)
        lw = lw - jax.vmap(lambda xp, xi: proposal.transition(params, xp, y, t).log_prob(xi))(
            x_prev, x
        )
    return lw


def reweight_state(lw_prev, incr, ll_acc, degenerate, first_failure, t):
    """Add incremental log-weights incr (N,) to lw_prev (N,) through `core.particles.reweight`.

    Returns `(log_weights, log_likelihood_accumulator, degenerate, first_failure, ess,
    log_evidence_increment, degenerate_now)`: the new state pieces and the step's info.
    """
    rw = reweight(lw_prev, lw_prev + incr)
    first_failure = jnp.where(rw.degenerate & (first_failure < 0), t, first_failure)
    return (
        rw.log_weights,
        accumulate.add(ll_acc, rw.log_evidence_increment),
        degenerate | rw.degenerate,
        first_failure,
        rw.ess,
        rw.log_evidence_increment,
        rw.degenerate,
    )
