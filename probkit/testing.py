"""Statistical assertions for Monte Carlo tests (used by probkit's tests; useful downstream).

Tolerances are stated in standard errors: `assert_within_se(draws, exact, z=4)` checks that the
mean of independent replicate estimates is within z standard errors of the exact value, for
every coordinate. With fixed seeds the check is deterministic; z=4 gives a false-alarm rate of
about 6e-5 per coordinate for a correct estimator.
"""

import jax
import numpy as np
from scipy import stats

__all__ = ["assert_chi_square", "assert_within_se", "chi_square_pvalue", "keys", "z_scores"]


def keys(num: int, seed: int = 0):
    """`num` independent PRNG keys from one seed: shape `(num,)`."""
    return jax.random.split(jax.random.key(seed), num)


def z_scores(draws, expected, axis: int = 0) -> np.ndarray:
    """(mean(draws) - expected) / SE, with SE = std(draws, ddof=1) / sqrt(n)."""
    d = np.asarray(draws, dtype=float)
    n = d.shape[axis]
    if n < 2:
        raise ValueError("need at least two replicate estimates")
    mean = d.mean(axis=axis)
    se = d.std(axis=axis, ddof=1) / np.sqrt(n)
    diff = mean - np.asarray(expected, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, diff / se, np.where(np.abs(diff) > 1e-12, np.inf, 0.0))
    return z


def assert_within_se(draws, expected, z: float = 4.0, axis: int = 0, what: str = "estimate"):
    """Assert |mean(draws) - expected| <= z * SE coordinatewise (replicates along `axis`)."""
    zs = z_scores(draws, expected, axis=axis)
    worst = float(np.max(np.abs(zs)))
    if not worst <= z:
        d = np.asarray(draws, dtype=float)
        raise AssertionError(
            f"{what}: mean {np.round(d.mean(axis=axis), 6)} vs exact "
            f"{np.round(np.asarray(expected, dtype=float), 6)}; worst |z| = {worst:.2f} > {z}"
        )


def chi_square_pvalue(counts, probs) -> float:
    """Pearson chi-square goodness-of-fit p-value of `counts` against `probs`.

    Cells with expected count < 5 are pooled into one.
    """
    counts = np.asarray(counts, dtype=float).ravel()
    probs = np.asarray(probs, dtype=float).ravel()
    probs = probs / probs.sum()
    exp = counts.sum() * probs
    small = exp < 5
    if small.any():
        counts = np.append(counts[~small], counts[small].sum())
        exp = np.append(exp[~small], exp[small].sum())
        keep = exp > 0
        counts, exp = counts[keep], exp[keep]
    if len(exp) < 2:
        return 1.0
    return float(stats.chisquare(counts, exp).pvalue)


def assert_chi_square(counts, probs, alpha: float = 1e-3, what: str = "frequencies"):
    """Assert the chi-square GoF test does not reject at level `alpha`."""
    p = chi_square_pvalue(counts, probs)
    if not p >= alpha:
        raise AssertionError(f"{what}: chi-square p-value {p:.2e} < {alpha}")
