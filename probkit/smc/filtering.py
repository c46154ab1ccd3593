"""Bootstrap and guided particle filters with ESS-triggered resampling.

For t = 0..T-1 the filter keeps N weighted particles approximating p(x_t | y_0:t) and an
unbiased estimate of the likelihood p(y_0:t). At t >= 1 it resamples when ESS < ess_threshold·N
(always when `ess_threshold >= 1`), moves particles with the model's transition (bootstrap) or a
user proposal q (guided), and reweights by g(y_t|x_t)·m(x_t|x_{t-1})/q(x_t|x_{t-1}, y_t). The
likelihood factor of each step is LSE(lw_prev + incr) - LSE(lw_prev), which stays correct when
no resampling happened. Cost O(N T); memory O(N T) with `history=True`, O(N) otherwise.

If every weight becomes -inf (or NaN) at some step the filter cannot continue meaningfully: the
result's `failed` flag and `failed_at` step say so and the log-likelihood is -inf — never NaN.
"""

import weakref
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from probkit.core import accumulate, progress, validate
from probkit.core import resampling as resampling_mod
from probkit.core import sharding as sharding_mod
from probkit.core.types import Array, PRNGKey, PyTree
from probkit.smc.config import SMCConfig
from probkit.smc.particle_step import (
    ParticleFilterInfo,
    ParticleFilterResult,
    ParticleFilterState,
    init,
    step,
)
from probkit.smc.propagation import Proposal
from probkit.ssm import model as ssm_model
from probkit.ssm.model import StateSpaceModel

__all__ = [
    "ParticleFilterInfo",
    "ParticleFilterResult",
    "ParticleFilterState",
    "Proposal",
    "init",
    "particle_filter",
    "step",
]


@partial(jax.jit, static_argnames=("model", "config", "history", "progress_bar"))
def _run(key, model, params, ys, config, history, progress_bar):
    num_particles, proposal, sharding = config.num_particles, config.proposal, config.sharding
    T = ys.shape[0]
    k0, k_rest = jax.random.split(key)
    state0, info0 = init(
        k0, model, params, ys[0], num_particles, proposal=proposal, sharding=sharding
    )

    def body(carry, inp):
        st, _, hist = carry
        k, y, t = inp
        st, info = step(
            k,
            st,
            model,
            params,
            y,
            t,
            proposal=proposal,
            resampling=config.resampling,
            ess_threshold=config.ess_threshold,
            sharding=sharding,
        )
        if history:
            # (T, N, ...) buffers carried and written in place: stacking the scan's outputs
            # behind step 0 would copy them once more at the end (a third of the history cost).
            new = (st.particles, st.log_weights, info.ancestors)
            hist = jax.tree.map(lambda h, v: h.at[t].set(v), hist, new)
        # Without history, ancestors are carried (last step only), not stacked over T.
        return (st, info.ancestors, hist), (info._replace(ancestors=None),)

    keys = jax.random.split(k_rest, T - 1)
    ts = jnp.arange(1, T, dtype=jnp.int32)
    hist0 = None
    if history:
        hist0 = jax.tree.map(
            lambda v: jnp.zeros((T, *v.shape), v.dtype).at[0].set(v),
            (state0.particles, state0.log_weights, info0.ancestors),
        )
        hist0 = sharding_mod.constrain(hist0, sharding, axis=1)  # (T, N, ...): split N
    (state, last_ancestors, hist), out = progress.scan(
        body,
        (state0, info0.ancestors, hist0),
        (keys, ys[1:], ts),
        length=T - 1,
        enabled=progress_bar,
        label="particle filter",
    )

    def stack(first, rest):
        return jnp.concatenate([first[None], rest], axis=0)

    infos = jax.tree.map(stack, info0._replace(ancestors=None), out[0])
    if history:
        particles, log_weights, ancestors = hist
    else:
        particles, log_weights, ancestors = state.particles, state.log_weights, last_ancestors
    ll = jnp.where(state.degenerate, -jnp.inf, accumulate.value(state.log_likelihood))
    return ParticleFilterResult(
        ll,
        particles,
        log_weights,
        ancestors,
        infos.ess,
        infos.resampled,
        infos.log_likelihood_increment,
        state.degenerate,
        state.first_failure,
    )


# Per model (weakly held: a model that is dropped takes its entries with it), per parameter
# layout and key type: the observation layout, found by abstract tracing.
_LAYOUTS: "weakref.WeakKeyDictionary[StateSpaceModel, dict]" = weakref.WeakKeyDictionary()


def _observation_layout(model, params_abstract, treedef, key_abstract):
    """(observation shape, observation law type, whether partial missingness is supported).

    Traced abstractly (`jax.eval_shape`), and cached per model and parameter shapes, so a call
    costs no device work.
    """
    per_model = _LAYOUTS.setdefault(model, {})
    cache_key = (params_abstract, treedef, key_abstract)
    if cache_key not in per_model:
        per_model[cache_key] = _trace_observation_layout(
            model, params_abstract, treedef, key_abstract
        )
    return per_model[cache_key]


def _trace_observation_layout(model, params_abstract, treedef, key_abstract):
    found = {}

    def probe(leaves, k):
        p = jax.tree.unflatten(treedef, leaves)
        x0 = model.initial(p).sample(k)
        d = model.observation(p, x0, 0)
        found["shape"] = tuple(d.batch_shape) + tuple(d.event_shape)
        found["law"] = d
        return x0

    x0 = jax.eval_shape(probe, list(params_abstract), key_abstract)
    d = found["law"]
    partial_ok = ssm_model.supports_partial_missing(d, len(found["shape"]))
    return found["shape"], type(d).__name__, partial_ok, x0.dtype


def check_observations(model: StateSpaceModel, params, ys, key) -> Array:
    """Validate `ys` against the model's observation shape; refuse unsupported missingness."""
    ys = validate.observations("ys", ys)
    if model.params_type is not None and not isinstance(params, model.params_type):
        fields = getattr(model.params_type, "_fields", None)
        hint = f"; from a dict d use {model.params_type.__name__}(**d)" if fields else ""
        raise TypeError(
            f"params must be a {model.params_type.__name__} for {model.name} (the parameters "
            f"returned with the model), got {type(params).__name__}{hint}"
        )
    leaves, treedef = jax.tree.flatten(params)
    abstract = tuple(jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)) for a in leaves)
    key_abstract = jax.ShapeDtypeStruct(key.shape, key.dtype)
    try:
        obs_shape, law, partial_ok, x_dtype = _observation_layout(
            model, abstract, treedef, key_abstract
        )
    except (AttributeError, KeyError, IndexError) as exc:
        raise TypeError(
            f"params does not fit {model.name}: evaluating the model on it raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if tuple(ys.shape[1:]) != obs_shape:
        raise ValueError(
            f"ys must have shape (T, {', '.join(map(str, obs_shape))}) for this model "
            f"(observation shape {obs_shape}), got {ys.shape}"
        )
    if validate.is_concrete(ys) and ys.ndim > 1 and not partial_ok:
        nan = np.isnan(np.asarray(ys)).reshape(ys.shape[0], -1)
        partial_rows = nan.any(axis=1) & ~nan.all(axis=1)
        if partial_rows.any():
            raise ValueError(
                f"ys has partly missing observations (e.g. step {int(np.argmax(partial_rows))}) "
                f"but the observation law {law} cannot be marginalised over "
                "missing coordinates; mark whole steps missing or use an Independent or "
                "MultivariateNormal observation"
            )
    if jnp.issubdtype(x_dtype, jnp.floating) and ys.dtype != x_dtype:
        ys = ys.astype(x_dtype)
    return ys


def particle_filter(
    key: PRNGKey,
    model: StateSpaceModel,
    params: PyTree,
    ys: Array,
    num_particles: int,
    *,
    proposal: Proposal | None = None,
    resampling: str | resampling_mod.Resampler = "systematic",
    ess_threshold: float = 0.5,
    history: bool = True,
    sharding: jax.sharding.NamedSharding | None = None,
    progress_bar: bool = False,
    resampling_scope: str = "global",
    num_islands: int | None = None,
    exchange_every: int = 10,
) -> ParticleFilterResult:
    """Run a bootstrap (or guided, with `proposal`) particle filter over `ys` `(T, *obs_shape)`.

    Args:
        key: PRNG key.
        model: the state-space model.
        params: its parameters (a pytree).
        ys: observations; NaN entries are missing and skipped.
        num_particles: N >= 2.
        proposal: a `Proposal` for a guided filter; None for the bootstrap filter.
        resampling: "systematic" (default), "stratified", "multinomial", "residual".
        ess_threshold: resample when ESS < ess_threshold·N; 1.0 resamples every step,
            0.0 never.
        history: keep particles/log-weights/ancestors for every step (`(T, N, ...)`) or only the
            last step (`(N, ...)`).
        sharding: a `NamedSharding` (see `probkit.core.sharding.batch_sharding`) to split the
            particle axis over devices. The particle system does not depend on it: in float64
            the same key gives the same ancestors at every step and the same log-likelihood up
            to rounding; in float32 rounding in the sharded reductions can flip a resampling
            index, after which the run is another draw of the same estimator (same
            distribution). See docs/guide/scaling.md.
        progress_bar: show a tqdm bar driven from inside the compiled loop.
        resampling_scope: "global" (resample from all N weights) or "island" (the island
            particle filter of `probkit.smc.islands`: local resampling in `num_islands`
            islands, island-level resampling by island weight; unbiased likelihood, less
            communication when sharded).
        num_islands: islands for the "island" scope (default: one per device of `sharding`).
        exchange_every: the "island" scope considers resampling whole islands every this many
            steps (done when the island ESS < ess_threshold·num_islands).

    Returns:
        `ParticleFilterResult`; `result.mean(fn)` gives filtering expectations.

    Examples:
        >>> from probkit import ssm
        >>> model, params = ssm.linear_gaussian(F=0.9, Q=1.0, H=1.0, R=1.0, m0=0.0, P0=1.0)
        >>> _, ys = ssm.simulate(jax.random.key(0), model, params, 10)  # (T, dy)
        >>> res = smc.particle_filter(jax.random.key(1), model, params, ys, 256)
        >>> res.particles.shape, res.log_weights.shape, bool(res.failed)  # (T, N, dx), (T, N)
        ((10, 256, 1), (10, 256), False)
        >>> exact = ssm.kalman_filter(params, ys).log_likelihood
        >>> bool(abs(res.log_likelihood - exact) < 0.5)  # unbiased in exp, error O(1/√N)
        True
    """
    validate.key("key", key)
    if not isinstance(model, StateSpaceModel):
        raise TypeError(f"model must be a probkit.ssm.StateSpaceModel, got {type(model).__name__}")
    config = SMCConfig(
        num_particles=num_particles,
        resampling=resampling,
        ess_threshold=ess_threshold,
        proposal=proposal,
        sharding=sharding,
        resampling_scope=resampling_scope,
        num_islands=num_islands,
        exchange_every=exchange_every,
    )
    validate.finite_tree("params", params)
    ys = check_observations(model, params, ys, key)
    if config.resampling_scope == "island":
        from probkit.smc import islands

        return islands.run(key, model, params, ys, config, bool(history), bool(progress_bar))
    return _run(key, model, params, ys, config, bool(history), bool(progress_bar))


# blackjax-style access to the kernel pieces: smc.particle_filter.init / .step.
particle_filter.init = init
particle_filter.step = step
