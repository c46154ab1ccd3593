"""Degree-bucketed SRRW step for heavy-tailed graphs (`srrw(..., layout="bucketed")`).

With the padded layout every walker reads a row of width D + 1 (D = max degree), so on a
Barabási–Albert graph (max degree ~430, mean 6) almost all the work is padding. Here nodes are
put in buckets of widths 8, 16, 32, ..., D + 1 (the smallest width >= degree + 1). At each step
the walkers are sorted by the bucket of their node and processed in chunks of C walkers; a
chunk reads, for each of its walkers, the first w - 1 columns of the table plus the self-loop
column, w the widest bucket in the chunk (`lax.switch` over the bucket widths). The work is
about Σ_walkers width(bucket) + one partly filled chunk per bucket, instead of W (D + 1),
whatever the walkers' spread over the buckets (early on SRRW drives walkers to the hubs, late
they follow μ). The draws use the same per-walker uniform as the padded step; only the
floating-point association of the row sums differs. The neighbour table is not compacted:
memory is still n × (D + 1).
"""

import jax
import jax.numpy as jnp
import numpy as np

from probkit.walks import primitives
from probkit.walks.graph import Graph

__all__ = ["bucket_widths", "bucketed_step"]


def bucket_widths(graph: Graph) -> tuple:
    """Static widths (8, 16, ..., D + 1) of the non-empty degree buckets."""
    deg = np.asarray(graph.degree)
    full = int(graph.neighbors.shape[1])
    widths = []
    w = 8
    while w < full:
        widths.append(w)
        w *= 2
    widths.append(full)
    which = np.searchsorted(widths, deg + 1)
    return tuple(w for b, w in enumerate(widths) if np.any(which == b))


def _bucket_rows(chain, p, width):
    """(C, width) neighbours and log P of rows p: the first width - 1 columns + self column."""
    full = chain.neighbors.shape[1]
    cols = jnp.asarray(np.r_[np.arange(width - 1), full - 1])
    return chain.neighbors[p[:, None], cols], chain.log_p[p[:, None], cols], cols


def bucketed_step(keys, states, chain, alpha, widths, *, base, step_exponent, chunk=64):
    """One SRRW step of every walker (states batched over W), reading bucket-wide rows."""
    num = states.position.shape[0]
    size = min(chunk, num)
    num_chunks = -(-num // size)
    u = jax.vmap(lambda k: jax.random.uniform(k, dtype=chain.log_mu.dtype))(keys)
    which = jnp.searchsorted(jnp.asarray(widths), chain.degree[states.position] + 1)
    which = which.astype(jnp.int32)
    order = jnp.argsort(which, stable=True).astype(jnp.int32)
    # dummies (index num: gathers clamp, scatters drop) first, in the narrowest chunk
    ids_all = jnp.concatenate([jnp.full(num_chunks * size - num, num, jnp.int32), order])
    pos, prev = states.position, states.previous

    def rows(width, ids, counts, log_y):
        safe = jnp.minimum(ids, num - 1)
        p = pos[safe]
        nb, lp, cols = _bucket_rows(chain, p, width)
        if base == "nbrw":
            back = (nb == prev[safe][:, None]) & chain.mask[p[:, None], cols]
            lp = jnp.where(back & (chain.degree[p] > 1)[:, None], -jnp.inf, lp)
        if step_exponent == 1.0:
            lx = jnp.log(counts[safe[:, None], nb].astype(lp.dtype))
        else:
            lx = log_y[safe[:, None], nb]
        logits = jnp.where(lp > -jnp.inf, lp - alpha * (lx - chain.log_mu[nb]), -jnp.inf)
        k = primitives.sample_row_given_uniform(u[safe], logits)
        j = jnp.take_along_axis(nb, k[:, None], axis=1)[:, 0]
        return j, ~jnp.isfinite(jnp.max(logits, axis=1))

    branches = [lambda ids, c, y, w=w: rows(w, ids, c, y) for w in widths]

    # the (W, n) tables travel through the loop's carry (unchanged) rather than being closed
    # over, so that the in-place visit update afterwards aliases the loop's output
    def body(i, carry):
        nxt, bad, counts, log_y = carry
        ids = jax.lax.dynamic_slice(ids_all, (i * size,), (size,))
        b = which[jnp.minimum(ids[-1], num - 1)]  # sorted: the chunk's widest bucket
        j, nonfinite = jax.lax.switch(b, branches, ids, counts, log_y)
        return (
            nxt.at[ids].set(j, mode="drop"),
            bad.at[ids].set(nonfinite, mode="drop"),
            counts,
            log_y,
        )

    init = (states.position, jnp.zeros(num, bool), states.counts, states.log_y)
    nxt, bad, counts, log_y = jax.lax.fori_loop(0, num_chunks, body, init)
    states = states._replace(counts=counts, log_y=log_y)

    def visit(s, j, bad_j):
        counts, log_y, log_scale, k, info = primitives.record_visit(
            s, j, j != s.position, step_exponent, chain.log_mu.dtype
        )
        new = primitives.SRRWState(j, s.position, counts, log_y, log_scale, k, s.nonfinite | bad_j)
        return new, info

    return jax.vmap(visit)(states, nxt, bad)
