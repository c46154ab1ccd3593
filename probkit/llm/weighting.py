"""Weight rules, temperature schedules and diversity-preserving resampling.

Two weight rules, both driven by the aggregated reward r_t ∈ [0, 1] of each particle's prefix:

* ``"paper"`` — the rule of the authors' code (Puri et al. 2025) and its_hub: the weight of a
  particle is recomputed from scratch at every step as ``logit(clip(r_t, 1e-7, 1 - 1e-7))``;
  particles are resampled at *every* step with probabilities ``softmax(logit(r_t) / tau_t)``,
  i.e. proportional to the odds ``(r/(1-r))^(1/tau)``; finished particles keep their last
  weight, stay in the pool and can be cloned, but are never extended. There is no evidence
  estimate: the weights are not importance weights of any fixed target.
* ``"twisted"`` — properly weighted SMC with the reward as a twist (potential) φ_t = r_t^β_t,
  β_t = 1/tau_t: incremental weight φ_t/φ_{t-1} (so finished particles, whose prefix no longer
  changes, get weight ratio 1 when β is constant), resampling only when ESS < threshold·N,
  an unbiased estimate of Z = E_LM[r(x)^β_T], and particles distributed as
  p_LM(x) r(x)^β_T / Z at the end (x a complete solution).

`Annealing` is the schedule tau_t (linear from `start` to `end` over `steps` steps).
`Entropic` raises the resampling temperature when diversity collapses early in the run
(entropic particle filtering: Giannone et al.; its_hub's `EntropicParticleFiltering`). Under
the twisted rule the tempered resampling is corrected so the system stays properly weighted:
ancestors are drawn ∝ w^α (α = 1/T) and carry the residual weight w^(1-α) (the evidence
estimate picks up the matching normalising factor).
"""

import dataclasses

import jax.numpy as jnp

from probkit.core import resampling as resampling_mod
from probkit.core import validate, weights
from probkit.core.types import Array, PRNGKey

__all__ = [
    "REWARD_CLIP",
    "Annealing",
    "Entropic",
    "logit_reward",
    "paper_resampling_log_probs",
    "tempered_resample",
    "twisted_log_potential",
]

REWARD_CLIP = 1e-7  # the authors' clip before the logit
"""Rewards are clipped to [REWARD_CLIP, 1 - REWARD_CLIP] before the logit (as the authors do)."""


def logit_reward(rewards: Array) -> Array:
    """``log(r / (1 - r))`` after clipping r to [1e-7, 1 - 1e-7], as in the authors' code."""
    r = jnp.clip(jnp.asarray(rewards), REWARD_CLIP, 1.0 - REWARD_CLIP)
    return jnp.log(r) - jnp.log1p(-r)


def paper_resampling_log_probs(rewards: Array, temperature=1.0) -> Array:
    """Log resampling probabilities of the paper's rule: ``log_softmax(logit(r) / tau)``."""
    return weights.log_normalize(logit_reward(rewards) / temperature)


def twisted_log_potential(rewards: Array, temperature=1.0) -> Array:
    """``log phi = log(r) / tau`` (−inf for a zero reward)."""
    r = jnp.asarray(rewards)
    return jnp.where(r > 0, jnp.log(jnp.where(r > 0, r, 1.0)), -jnp.inf) / temperature


@dataclasses.dataclass(frozen=True)
class Annealing:
    """Temperature schedule: tau_t = start + (end - start)·min(t / steps, 1), t = 0, 1, ...

    `Annealing(1.0, 1.0, 1)` is the constant temperature 1. The authors' flag
    ``--temperature-annealing start end steps`` is `Annealing(start, end, steps)`.

    Attributes:
        start: tau_0.
        end: the final temperature.
        steps: steps over which tau goes from `start` to `end`.
    """

    start: float = 1.0
    end: float = 1.0
    steps: int = 1

    def __post_init__(self):
        validate.positive_float("Annealing.start", self.start)
        validate.positive_float("Annealing.end", self.end)
        validate.positive_int("Annealing.steps", self.steps)

    def __call__(self, t: Array) -> Array:
        frac = jnp.minimum(jnp.asarray(t) / self.steps, 1.0)
        return self.start + (self.end - self.start) * frac

    @classmethod
    def from_arg(cls, temperature, name: str = "temperature") -> "Annealing":
        """A float (constant), a `(start, end, steps)` tuple, or an `Annealing`."""
        if isinstance(temperature, Annealing):
            return temperature
        if isinstance(temperature, tuple | list):
            if len(temperature) != 3:
                raise ValueError(f"{name} must be a float or a (start, end, steps) tuple")
            start, end, steps = temperature
            return cls(float(start), float(end), int(steps))
        t = validate.positive_float(name, temperature)
        return cls(t, t, 1)


_ENTROPIC_METHODS = ("ess", "entropy", "base")


@dataclasses.dataclass(frozen=True)
class Entropic:
    """Entropic (annealed) resampling: raise the resampling temperature T when diversity collapses.

    When the normalised resampling weights have ESS/N < `ess_threshold` and the run is in its
    early phase (t / max_steps < `early_phase`), resampling uses weights^(1/T) with

    * ``"ess"``:     T = max(1, (N / ESS)·(1 - progress)),
    * ``"entropy"``: T = max(1, 1 / (H + (1 - H)·progress)), H the entropy / log N,
    * ``"base"``:    T = max(1, value_max - progress),

    and T = 1 otherwise (progress = t / max_steps). These are its_hub's three schedules.

    Attributes:
        ess_threshold: ESS/N below which the temperature is raised.
        early_phase: fraction of max_steps during which the temperature may be raised.
        method: "ess", "entropy" or "base" (the schedules above).
        value_max: the "base" schedule's starting temperature.
    """

    ess_threshold: float = 0.5
    early_phase: float = 0.5
    method: str = "ess"
    value_max: float = 2.0

    def __post_init__(self):
        validate.probability("Entropic.ess_threshold", self.ess_threshold)
        validate.probability("Entropic.early_phase", self.early_phase)
        validate.one_of("Entropic.method", self.method, _ENTROPIC_METHODS)
        validate.positive_float("Entropic.value_max", self.value_max)

    def temperature(self, log_weights: Array, progress: Array) -> Array:
        """The resampling temperature T >= 1 for (unnormalised) log-weights at this progress."""
        s = weights.summarize(log_weights)
        n = log_weights.shape[-1]
        ratio = s.ess / n
        if self.method == "ess":
            value = jnp.where(ratio > 0, (1.0 - progress) / jnp.maximum(ratio, 1e-30), 1.0)
        elif self.method == "entropy":
            p = jnp.clip(jnp.exp(s.log_normalized), 1e-7, 1 - 1e-7)
            h = -jnp.sum(p * jnp.log(p)) / jnp.log(jnp.maximum(n, 2))
            value = 1.0 / (h + (1.0 - h) * progress)
        else:
            value = self.value_max - progress
        active = (ratio < self.ess_threshold) & (progress < self.early_phase)
        return jnp.where(active, jnp.maximum(1.0, value), 1.0)


def tempered_resample(
    key: PRNGKey, resampler: resampling_mod.Resampler, log_weights: Array, temperature: Array
) -> tuple[Array, Array, Array]:
    """Resample ∝ w^(1/T), keeping the system properly weighted.

    With normalised weights w and α = 1/T, slot j gets ancestor a_j ~ w^α and the unnormalised
    weight W_j = mean_i(w_i^α) · w_{a_j}^(1-α), so that E[sum_j W_j f(x_{a_j})] = sum_i w_i f(x_i)
    for every f (T = 1 is ordinary resampling, W_j = 1/N).

    Returns:
        (ancestors, normalised log W, log sum_j W_j). The last term has expectation-one
        exponential and must be added to a running log-evidence.
    """
    alpha = 1.0 / temperature
    lw = weights.log_normalize(log_weights)
    n = lw.shape[0]
    ancestors = resampler.resample(key, alpha * lw, n)
    residual = jnp.where(jnp.isfinite(lw), (1.0 - alpha) * lw, -jnp.inf)
    new = jnp.take(residual, ancestors)
    log_total = weights.logsumexp(alpha * lw) - jnp.log(n) + weights.logsumexp(new)
    return ancestors, weights.log_normalize(new), log_total
