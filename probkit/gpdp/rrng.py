"""R's default random numbers (Mersenne-Twister, normals by inversion), to replay the authors'
seeded simulations: `set.seed(seed); rnorm(n)` in R equals `r_rnorm(seed, n)`.

R seeds the generator with `seed <- 69069 * seed + 1` applied 50 times, then fills the 624-word
state with 624 further steps of the same recurrence; each normal consumes two uniforms
u = (floor(2^27 u1) + u2) / 2^27 and returns qnorm(u).
"""

import numpy as np
from scipy.special import ndtri

__all__ = ["r_rlnorm", "r_rnorm"]

_TWO_M32 = 2.3283064365386963e-10
_I2_32M1 = 2.328306437080797e-10  # 1 / (2^32 - 1), R's fixup margin


def _r_mt19937(seed: int) -> np.random.MT19937:
    s = int(seed) & 0xFFFFFFFF
    for _ in range(50):
        s = (69069 * s + 1) & 0xFFFFFFFF
    key = np.empty(625, np.uint32)
    for j in range(625):
        s = (69069 * s + 1) & 0xFFFFFFFF
        key[j] = s
    bg = np.random.MT19937()
    bg.state = {"bit_generator": "MT19937", "state": {"key": key[1:], "pos": 624}}
    return bg


def r_rnorm(seed: int, n: int) -> np.ndarray:
    """(n,) float64: R's `set.seed(seed); rnorm(n)`.

    Examples:
        >>> gpdp.r_rnorm(1, 3).round(6).tolist()  # R: set.seed(1); rnorm(3)
        [-0.626454, 0.183643, -0.835629]
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    raw = _r_mt19937(seed).random_raw(2 * n).astype(np.float64) * _TWO_M32
    u = np.clip(raw, 0.5 * _I2_32M1, 1.0 - 0.5 * _I2_32M1).reshape(n, 2)
    big = 134217728.0
    return ndtri((np.floor(big * u[:, 0]) + u[:, 1]) / big)


def r_rlnorm(seed: int, n: int, sdlog: float) -> np.ndarray:
    """(n,) R's `set.seed(seed); rlnorm(n, 0, sdlog)` (as n calls of `rlnorm(1, 0, sdlog)`).

    Examples:
        >>> gpdp.r_rlnorm(1, 2, 0.1).round(5).tolist()  # R: set.seed(1); rlnorm(2, 0, 0.1)
        [0.93928, 1.01853]
    """
    return np.exp(sdlog * r_rnorm(seed, n))
