"""Conditional resampling: drawing the reference's ancestor j* ~ W and then the conditional
scheme must give exactly the joint law of the (randomly rotated / permuted) unconditional scheme.

For N = 3 every ancestor vector is one of 27 cells; the exact law of each scheme is computed by
integrating over its uniforms (systematic, stratified) or by enumerating multisets (residual),
and 30 000 conditional draws are compared with a chi-square test at level 1e-3.
"""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit.core import resampling
from probkit.testing import assert_chi_square

N = 3
NUM_DRAWS = 30_000
WEIGHTS = [
    np.array([0.5, 0.3, 0.2]),
    np.array([0.7, 0.25, 0.05]),  # residual: two deterministic copies of particle 0
    np.array([0.6, 0.4, 0.0]),  # a zero weight is never an ancestor
]
CELLS = list(itertools.product(range(N), repeat=N))


def _inverse_cdf(w, points):
    c = np.cumsum(w)
    c[-1] = 1.0
    return tuple(int(np.clip(np.searchsorted(c, p, side="right"), 0, N - 1)) for p in points)


def _rotations(law):
    """Law of (a_r, a_r+1, ...) for a uniformly random rotation r."""
    out = dict.fromkeys(CELLS, 0.0)
    for cell, p in law.items():
        for r in range(N):
            out[cell[r:] + cell[:r]] += p / N
    return out


def systematic_law(w):
    c = np.cumsum(w)
    breaks = {0.0, 1.0}
    for cj in c:
        for i in range(N):
            u = N * cj - i
            if 0.0 < u < 1.0:
                breaks.add(float(u))
    breaks = sorted(breaks)
    law = dict.fromkeys(CELLS, 0.0)
    for lo, hi in itertools.pairwise(breaks):
        mid = 0.5 * (lo + hi)
        law[_inverse_cdf(w, [(i + mid) / N for i in range(N)])] += hi - lo
    return _rotations(law)


def stratified_law(w):
    c = np.concatenate([[0.0], np.cumsum(w)])
    marg = np.zeros((N, N))  # marg[i, j] = P(a_i = j)
    for i in range(N):
        for j in range(N):
            lo, hi = max(c[j], i / N), min(c[j + 1], (i + 1) / N)
            marg[i, j] = N * max(0.0, hi - lo)
    law = {cell: float(np.prod([marg[i, cell[i]] for i in range(N)])) for cell in CELLS}
    return _rotations(law)


def residual_law(w):
    det = np.floor(N * w).astype(int)
    num_res = N - det.sum()
    res = (N * w - det) / max(num_res, 1)
    law = {}
    for cell in CELLS:
        counts = np.bincount(cell, minlength=N)
        extra = counts - det
        if np.any(extra < 0) or extra.sum() != num_res:
            law[cell] = 0.0
            continue
        p_multiset = math.factorial(num_res) * np.prod(
            [res[j] ** extra[j] / math.factorial(extra[j]) for j in range(N)]
        )
        orderings = math.factorial(N) / np.prod([math.factorial(k) for k in counts])
        law[cell] = float(p_multiset / orderings)
    return law


def multinomial_law(w):
    return {cell: float(np.prod(w[list(cell)])) for cell in CELLS}


LAWS = {
    "multinomial": multinomial_law,
    "systematic": systematic_law,
    "stratified": stratified_law,
    "residual": residual_law,
}


@pytest.fixture(scope="module")
def conditional_draws():
    """One compiled sampler per scheme: (key, log-weights) -> (NUM_DRAWS, N) ancestor vectors."""

    def make(scheme):
        def one(key, lw):
            k_ref, k_cond = jax.random.split(key)
            ref = jax.random.categorical(k_ref, lw)
            return ref, scheme.conditional(k_cond, lw, ref)

        return jax.jit(jax.vmap(one, in_axes=(0, None)))

    return {name: make(resampling.SCHEMES[name]) for name in LAWS}


@pytest.mark.parametrize("scheme", sorted(LAWS))
@pytest.mark.parametrize("w_index", range(len(WEIGHTS)))
def test_conditional_reproduces_joint_law(x64, conditional_draws, scheme, w_index):
    w = WEIGHTS[w_index]
    law = LAWS[scheme](w)
    assert abs(sum(law.values()) - 1.0) < 1e-12  # the exact law is a distribution
    keys = jax.random.split(jax.random.key(100 + w_index), NUM_DRAWS)
    with np.errstate(divide="ignore"):
        lw = jnp.asarray(np.log(w))
    ref, draws = conditional_draws[scheme](keys, lw)
    draws = np.asarray(draws)
    assert np.array_equal(draws[:, 0], np.asarray(ref)), "the reference must sit at index 0"
    _assert_law(draws, law, f"conditional {scheme}, weights {w}")


def _assert_law(draws, law, what):
    counts = np.bincount(draws @ np.array([N * N, N, 1]), minlength=N**N)
    probs = np.array([law[c] for c in CELLS])
    assert counts[probs == 0].sum() == 0, f"{what}: an impossible ancestor vector was drawn"
    keep = probs > 0
    assert_chi_square(counts[keep], probs[keep], alpha=1e-3, what=what)


def test_naive_conditional_systematic_is_detected(x64):
    """Power check: systematic resampling with ancestors[0] overwritten (no rotation) is not the
    conditional law, and the chi-square test above rejects it."""
    w = WEIGHTS[0]

    def naive(key):
        k_ref, k_res = jax.random.split(key)
        ref = jax.random.categorical(k_ref, jnp.log(w)).astype(jnp.int32)
        return resampling.systematic.resample(k_res, jnp.log(w), N).at[0].set(ref)

    draws = np.asarray(jax.jit(jax.vmap(naive))(jax.random.split(jax.random.key(3), NUM_DRAWS)))
    with pytest.raises(AssertionError):
        _assert_law(draws, systematic_law(w), "naive conditional systematic")
