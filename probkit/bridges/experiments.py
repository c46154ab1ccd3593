"""Data of the SBIRR experiments (Shen, Berlinghieri & Broderick 2025), simulated afresh.

Each snapshot holds fresh particles simulated by Euler-Maruyama from t = 0 to its time (so
snapshots are independent clouds, not tracked particles); the training snapshots are the
even-indexed ones and the held-out snapshots the odd-indexed midpoints.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from probkit.bridges.references import lotka_volterra, repressilator, simulate
from probkit.core.types import PRNGKey

__all__ = [
    "Experiment",
    "LV_TRUTH",
    "REPRESSILATOR_TRUTH",
    "lotka_volterra_data",
    "repressilator_data",
]

LV_TRUTH = {"alpha": 1.0, "beta": 0.4, "gamma": 0.4, "delta": 0.1}
"""Parameters that generate the Lotka–Volterra snapshots."""
REPRESSILATOR_TRUTH = {"beta": 10.0, "n": 3.0, "k": 1.0, "gamma": 1.0}
"""Parameters that generate the repressilator snapshots."""


class Experiment(NamedTuple):
    """Snapshot data of one benchmark experiment: training and held-out snapshots with their times.

    Attributes:
        train: training snapshots, each (n, d).
        train_times: (K,) times of the training snapshots.
        held_out: held-out snapshots, each (n, d).
        held_out_times: times of the held-out snapshots.
        truth: the parameters that generated the data, by name.
    """

    train: list  # training snapshots, each (n, d)
    train_times: np.ndarray
    held_out: list  # held-out snapshots, each (n, d)
    held_out_times: np.ndarray
    truth: dict


def _snapshots(key, reference, truth, low, high, times, n, dt, relu):
    out = []
    for k, t in enumerate(times):
        k0, k1 = jax.random.split(jax.random.fold_in(key, k))
        x0 = jax.random.uniform(
            k0, (n, len(low)), minval=jnp.asarray(low), maxval=jnp.asarray(high)
        )
        if t > 0:
            x0 = simulate(k1, reference, truth, x0, 0.0, float(t), round(float(t) / dt))[:, -1]
        out.append(np.asarray(jnp.maximum(x0, 0.0) if relu else x0))
    return out


def _split(snaps, times, truth):
    return Experiment(snaps[0::2], times[0::2], snaps[1::2], times[1::2], truth)


def lotka_volterra_data(key: PRNGKey, n: int = 50) -> Experiment:
    """9 snapshots x n at t = 0..8 of the LV SDE (sigma 0.1, dt 0.02), X0 ~ U[5,5.1]x[4,4.1]."""
    times = np.arange(9.0)
    ref = lotka_volterra(**LV_TRUTH, sigma=0.1)
    snaps = _snapshots(key, ref, {}, [5.0, 4.0], [5.1, 4.1], times, n, 0.02, False)
    return _split(snaps, times, LV_TRUTH)


def repressilator_data(key: PRNGKey, n: int = 50) -> Experiment:
    """11 snapshots x n, 0.75 apart (training spacing 1.5), sigma 0.1, dt 0.01, relu'd;
    X0 ~ U[1,1.1]x[1,1.1]x[2,2.1]."""
    times = 0.75 * np.arange(11.0)
    ref = repressilator(**REPRESSILATOR_TRUTH, sigma=0.1)
    snaps = _snapshots(key, ref, {}, [1.0, 1.0, 2.0], [1.1, 1.1, 2.1], times, n, 0.01, True)
    return _split(snaps, times, REPRESSILATOR_TRUTH)
