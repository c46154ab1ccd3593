"""Island particle filter: local resampling inside islands, island-level resampling by weight.

`smc.particle_filter(..., resampling_scope="island")` runs this engine. The N particles are
split into M islands of n = N/M (Vergé, Dubarry, Del Moral & Moulines 2015, "On parallel
implementation of sequential Monte Carlo methods: the island particle model"). Each island is
an ordinary filter of n particles (`smc.particle_filter.step`, vmapped over islands): it
resamples from its own weights only. Island m carries a weight W_m, the product of its
likelihood increments, so that particle i of island m has global weight W_m w_mi. At steps
t with t % exchange_every == 0 the islands themselves are resampled by W (the "double
bootstrap", adaptively: only when the island ESS < ess_threshold·M), copying whole islands,
and W is reset to uniform.

Statistical properties. Both levels are unbiased resampling schemes (an island's expected
number of copies is M W_m, a particle's n w_mi, and the copies carry the mean weight), so the
likelihood estimate p^(y_0:T) = prod_t sum_{m,i} W_m w_mi g_t(x_mi) is unbiased for every M,
n and exchange schedule, and the weighted particles estimate filtering expectations
consistently as n grows. Without exchanges it is the average of M independent filters'
estimates, whose variance grows with T like that of one filter of n particles (island weights
degenerate); island-level resampling keeps the island weights balanced. For a fixed N the
variance is higher than global resampling's; the gain is communication.

Sharding. With a `NamedSharding` (`core.sharding.batch_sharding`), the islands are split over
the mesh's batch axis with `jax.shard_map`: every island lives on one device, and each step
communicates M log-increments (one `all_gather` of scalars) and the global ESS (one `psum`);
particles move between devices only at an island exchange (one `all_gather` of the particle
blocks). Global resampling instead moves particles across devices at every resampling step.
Every cross-particle reduction is either inside an island or over the gathered (M,) island
vector, and island m draws its random numbers from `fold_in(key_t, m)`, so the particle system
does not depend on the number of devices (equal up to rounding; tested in float64).

Cost O(N T) like the global filter; memory O(N T) with history.
"""

from functools import partial

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec

from probkit.core import accumulate, progress, weights
from probkit.smc import particle_step
from probkit.smc.config import SMCConfig

__all__ = ["island_layout", "run"]


def island_layout(config: SMCConfig) -> tuple[int, int, str | None, int]:
    """(islands M, particles per island n, mesh axis name or None, devices on that axis).

    Raises:
        ValueError, TypeError: the island count does not fit the particles or the mesh.
    """
    sharding = config.sharding
    axis, devices = None, 1
    if sharding is not None:
        if not isinstance(sharding, NamedSharding) or not sharding.spec or sharding.spec[0] is None:
            raise TypeError(
                "resampling_scope='island' needs sharding to be a NamedSharding that splits the "
                "particle axis (probkit.core.sharding.batch_sharding), got "
                f"{sharding!r}"
            )
        axis = sharding.spec[0]
        if not isinstance(axis, str):
            raise ValueError(
                f"resampling_scope='island' splits particles over one mesh axis, got {axis!r}"
            )
        devices = sharding.mesh.shape[axis]
    num_islands = devices if config.num_islands is None else config.num_islands
    if num_islands % devices:
        raise ValueError(
            f"num_islands must be a multiple of the {devices} devices on mesh axis {axis!r}, "
            f"got {num_islands}"
        )
    n, rem = divmod(config.num_particles, num_islands)
    if rem or n < 2:
        raise ValueError(
            f"num_particles must be a multiple of num_islands with at least 2 particles per "
            f"island, got num_particles={config.num_particles}, num_islands={num_islands}"
        )
    return num_islands, n, axis, devices


def _gather(x, axis):
    """The (M, ...) array of every island from this device's (M_local, ...) block."""
    return x if axis is None else jax.lax.all_gather(x, axis, tiled=True)


def _island_ids(num_local, axis):
    offset = 0 if axis is None else jax.lax.axis_index(axis) * num_local
    return offset + jnp.arange(num_local, dtype=jnp.int32)


def _islands_scan(key, params, ys, *, model, config, num_islands, n, axis, history, bar):
    """The whole run on this device's islands: arrays (M_local, n, ...)."""
    m_loc = num_islands // (1 if axis is None else jax.lax.axis_size(axis))
    ids = _island_ids(m_loc, axis)
    proposal, threshold = config.proposal, config.ess_threshold
    num_steps = ys.shape[0]
    k0, k_rest = jax.random.split(key)
    fold = jax.vmap(jax.random.fold_in, in_axes=(None, 0))

    def island_init(k):
        st, info = particle_step.init(k, model, params, ys[0], n, proposal=proposal)
        return st.particles, st.log_weights, info.log_likelihood_increment

    x, lw, log_inc = jax.vmap(island_init)(fold(k0, ids))
    dtype = lw.dtype
    lw_islands = jnp.full((m_loc,), -jnp.log(num_islands), dtype)
    zero_i = jnp.zeros((), jnp.int32)

    def combine(lw_islands, lw, log_inc, t, acc, failed, first):
        """Island weights and global summaries after the islands' increments `log_inc`."""
        summary = weights.summarize(_gather(lw_islands + log_inc, axis))
        inc = summary.logsumexp  # sum_m W_m l_m with sum_m W_m = 1
        lw_islands = jax.lax.dynamic_slice_in_dim(summary.log_normalized, ids[0], m_loc)
        glob = lw_islands[:, None] + lw
        s2 = jnp.sum(jnp.exp(2.0 * glob))
        s2 = s2 if axis is None else jax.lax.psum(s2, axis)
        ess = jnp.where(summary.degenerate, 0.0, 1.0 / s2).astype(dtype)
        first = jnp.where(summary.degenerate & (first < 0), t, first)
        acc = accumulate.add(acc, inc)
        return lw_islands, glob, acc, failed | summary.degenerate, first, ess, inc

    acc0 = accumulate.init(jnp.zeros((), dtype))
    lw_islands, glob0, acc, failed, first, ess0, inc0 = combine(
        lw_islands, lw, log_inc, 0, acc0, jnp.zeros((), bool), jnp.full((), -1, jnp.int32)
    )
    anc0 = ids[:, None] * n + jnp.arange(n, dtype=jnp.int32)

    def exchange(args):
        x, lw, lw_islands, k = args
        all_lw = _gather(lw_islands, axis)
        src = config.resampling.resample(k, all_lw, num_islands).astype(jnp.int32)[ids]
        x_all, lw_all = _gather(x, axis), _gather(lw, axis)
        uniform = jnp.full((m_loc,), -jnp.log(num_islands), dtype)
        return jnp.take(x_all, src, axis=0), jnp.take(lw_all, src, axis=0), uniform, src

    def body(carry, inp):
        x, lw, lw_islands, acc, failed, first, _ = carry
        k, y, t = inp
        k_isl, k_loc = jax.random.split(k)
        # Island level: resample whole islands by W (adaptive, every `exchange_every` steps).
        island_ess = weights.ess(_gather(lw_islands, axis))
        due = (t % config.exchange_every == 0) & (threshold > 0.0)
        swap = due & ((threshold >= 1.0) | (island_ess < threshold * num_islands))
        x, lw, lw_islands, src = jax.lax.cond(
            swap, exchange, lambda a: (a[0], a[1], a[2], ids), (x, lw, lw_islands, k_isl)
        )

        # Particle level: one ordinary filter step per island.
        def local(k, x, lw):
            state = particle_step.ParticleFilterState(x, lw, acc0, jnp.zeros((), bool), zero_i)
            st, info = particle_step.step(
                k, state, model, params, y, t, proposal=proposal,
                resampling=config.resampling, ess_threshold=threshold,
            )  # fmt: skip
            return (
                st.particles,
                st.log_weights,
                info.ancestors,
                info.log_likelihood_increment,
                (info.resampled),
            )

        x, lw, anc, log_inc, resampled = jax.vmap(local)(fold(k_loc, ids), x, lw)
        lw_islands, glob, acc, failed, first, ess, inc = combine(
            lw_islands, lw, log_inc, t, acc, failed, first
        )
        anc = src[:, None] * n + anc
        any_res = jnp.any(resampled)
        any_res = any_res if axis is None else jax.lax.psum(any_res.astype(jnp.int32), axis) > 0
        any_res = any_res | swap
        out = (ess, any_res, inc) + ((anc, x, glob) if history else ())
        # Without history only the last step's ancestors are kept (carried, not stacked).
        return (x, lw, lw_islands, acc, failed, first, anc), out

    keys = jax.random.split(k_rest, num_steps - 1)
    ts = jnp.arange(1, num_steps, dtype=jnp.int32)
    carry, out = progress.scan(
        body,
        (x, lw, lw_islands, acc, failed, first, anc0),
        (keys, ys[1:], ts),
        length=num_steps - 1,
        enabled=bar,
        label="island particle filter",
    )
    x_last, lw_last, lw_isl_last, acc, failed, first, anc_last = carry
    stack = lambda a, b: jnp.concatenate([a[None], b], axis=0)  # noqa: E731
    ess = stack(ess0, out[0])
    resampled = stack(jnp.zeros((), bool), out[1])
    incs = stack(inc0, out[2])
    if history:
        anc, parts, lws = stack(anc0, out[3]), stack(x, out[4]), stack(glob0, out[5])
    else:
        anc, parts, lws = anc_last, x_last, lw_isl_last[:, None] + lw_last
    ll = jnp.where(failed, -jnp.inf, accumulate.value(acc))
    return ll, parts, lws, anc, ess, resampled, incs, failed, first


@partial(jax.jit, static_argnames=("model", "config", "history", "progress_bar"))
def _run(key, model, params, ys, config, history, progress_bar):
    num_islands, n, axis, _ = island_layout(config)
    scan = partial(
        _islands_scan, model=model, config=config, num_islands=num_islands, n=n, axis=axis,
        history=history, bar=progress_bar,
    )  # fmt: skip
    if axis is None:
        out = scan(key, params, ys)
    else:
        P = PartitionSpec
        # Leading island axis of per-step outputs: dim 1 with history (T, M, n, ...), else 0.
        isl = P(None, axis) if history else P(axis)
        out_specs = (P(), isl, isl, isl, P(), P(), P(), P(), P())
        # The P() outputs are computed from gathered / psum'd values, identically on every
        # device; JAX's replication check cannot see through all_gather, hence check_vma=False.
        out = jax.shard_map(
            scan,
            mesh=config.sharding.mesh,
            in_specs=(P(), P(), P()),
            out_specs=out_specs,
            check_vma=False,
        )(key, params, ys)
    ll, parts, lws, anc, ess, resampled, incs, failed, first = out
    lead = (ys.shape[0],) if history else ()
    flat = lambda a: a.reshape((*lead, num_islands * n, *a.shape[len(lead) + 2 :]))  # noqa: E731
    return particle_step.ParticleFilterResult(
        ll, flat(parts), flat(lws), flat(anc), ess, resampled, incs, failed, first
    )


def run(key, model, params, ys, config: SMCConfig, history: bool, progress_bar: bool):
    """The island filter on validated inputs (called by `smc.particle_filter`).

    Returns a `ParticleFilterResult` whose particle axis is island-major (particle i of island m
    at m·n + i); `log_weights` are the global weights log(W_m w_mi), `ancestors` global
    indices, `ess` the global ESS and `resampled[t]` whether any island resampled or the
    islands were exchanged at t. With sharding and `progress_bar`, each device drives a bar.
    """
    island_layout(config)  # raise before tracing
    return _run(key, model, params, ys, config, history, progress_bar)
