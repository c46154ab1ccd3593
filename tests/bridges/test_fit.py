"""Multi-marginal bridges with reference refinement: OU drift recovery, outputs, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit import bridges

A_TRUE = np.array([[-1.0, 1.0], [-1.0, -0.5]])
TIMES = np.arange(9) * 0.25


def _ou_snapshots(n, seed):
    """Independent particles per snapshot (as in the SBIRR data): x0 ~ N((2, 2), 0.5^2 I)."""
    true = bridges.ou(A_TRUE, np.zeros(2), sigma=0.1)
    key = jax.random.key(seed)
    snaps = []
    for k, t in enumerate(TIMES):
        kk = jax.random.fold_in(key, k)
        x0 = 0.5 * jax.random.normal(kk, (n, 2)) + 2.0
        if t == 0:
            snaps.append(x0)
        else:  # exact OU transition over [0, t]
            snaps.append(
                bridges.simulate(jax.random.fold_in(kk, 1), true, {}, x0, 0.0, t, 1)[:, -1]
            )
    return snaps


@pytest.fixture(scope="module")
def ou_fit():
    snaps = _ou_snapshots(100, 0)
    ref = bridges.ou(m=np.zeros(2), sigma=0.1)
    return snaps, bridges.fit(jax.random.key(0), snaps, TIMES, ref, num_steps=10,
                              max_iterations=30)  # fmt: skip


def test_refinement_recovers_the_ou_drift_matrix(ou_fit):
    _, res = ou_fit
    assert not bool(res.failed) and bool(res.converged)
    # n = 100 independent particles per snapshot: the coupling of independent clouds adds
    # O(n^-1/2) error (0.04 at n = 300, 0.11 at n = 100 in our runs); tolerance 0.2 per entry
    np.testing.assert_allclose(res.theta["A"], A_TRUE, atol=0.2)
    # starting from -I, the Brownian-like first round is far off: refinement did the work
    assert float(jnp.max(jnp.abs(res.trace["A"][0] - A_TRUE))) > 0.9


def test_outputs_trajectories_trace_and_arviz(ou_fit):
    snaps, res = ou_fit
    N = 10
    assert res.trajectories.shape == (100, 8 * N + 1, 2)
    np.testing.assert_allclose(res.times[::N], TIMES, atol=1e-6)
    # glued bridges start at snapshot 0 and pass through points of every later snapshot
    np.testing.assert_allclose(res.trajectories[:, 0], snaps[0], atol=1e-6)
    for k in range(1, 9):
        knots = np.asarray(res.trajectories[:, k * N])
        dist = np.min(np.sum((knots[:, None] - np.asarray(snaps[k])[None]) ** 2, -1), 1)
        assert dist.max() < 1e-8
    n_it = int(res.num_iterations)
    assert 2 <= n_it <= 31 and res.trace["A"].shape == (31, 2, 2)
    assert bool(jnp.all(res.info.active[:n_it])) and not bool(jnp.any(res.info.active[n_it:]))
    assert bool(jnp.all(res.info.sinkhorn_converged[:n_it]))
    idata = res.to_inference_data()
    assert idata.optimization_trace["A"].shape[-3:] == (n_it, 2, 2)


def test_brownian_reference_bridges_once_and_reports_held_out_w2():
    snaps = _ou_snapshots(30, 1)
    res = bridges.fit(jax.random.key(1), snaps[::2], TIMES[::2], bridges.brownian(0.1),
                      held_out=(snaps[1::2], TIMES[1::2]), num_steps=4)  # fmt: skip
    assert int(res.num_iterations) == 1 and res.theta == {}
    assert res.heldout_w2.shape == (4,) and np.all(np.isfinite(res.heldout_w2))
    i = int(np.argmin(np.abs(np.asarray(res.times) - TIMES[3])))
    exact = bridges.wasserstein2(res.trajectories[:, i], snaps[3])
    np.testing.assert_allclose(res.heldout_w2[1], exact, rtol=1e-6)


def test_numerical_failure_is_flagged_not_returned_as_nan():
    snaps = [np.zeros((4, 1)), np.ones((4, 1))]
    ref = bridges.drift(lambda th, x, t: th["a"] * jnp.log(x - 10.0), {"a": 1.0}, sigma=0.5)
    res = bridges.fit(jax.random.key(0), snaps, [0.0, 1.0], ref, num_steps=2, max_iterations=2)
    assert bool(res.failed) and not bool(res.converged)


def test_fit_bad_inputs():
    ref = bridges.brownian(0.1)
    good = [np.zeros((5, 2)), np.ones((5, 2))]
    with pytest.raises(ValueError, match="one dimension"):
        bridges.fit(jax.random.key(0), [np.zeros((5, 2)), np.ones((5, 3))], [0.0, 1.0], ref)
    with pytest.raises(ValueError, match="strictly increasing"):
        bridges.fit(jax.random.key(0), good, [1.0, 0.0], ref)
    with pytest.raises(ValueError, match="strictly increasing"):
        bridges.fit(jax.random.key(0), [*good, np.ones((5, 2))], [0.0, 1.0, 1.0], ref)
    with pytest.raises(ValueError, match="finite"):
        bridges.fit(jax.random.key(0), [good[0], good[1].copy() * np.nan], [0.0, 1.0], ref)
    with pytest.raises(ValueError, match="at least two"):
        bridges.fit(jax.random.key(0), good[:1], [0.0], ref)
    with pytest.raises(ValueError, match="one entry per snapshot"):
        bridges.fit(jax.random.key(0), good, [0.0, 1.0, 2.0], ref)
    with pytest.raises(TypeError, match="Reference"):
        bridges.fit(jax.random.key(0), good, [0.0, 1.0], "ou")
    with pytest.raises(ValueError, match="sigma"):
        bridges.ou(sigma=0.0)
    with pytest.raises(ValueError, match="not learned"):
        bridges.fit(jax.random.key(0), good, [0.0, 1.0], bridges.ou(sigma=1.0), theta0={"B": 1})
    with pytest.raises(ValueError, match="within"):
        bridges.fit(jax.random.key(0), good, [0.0, 1.0], ref, held_out=([good[0]], [2.0]))


def test_unequal_snapshot_sizes_are_padded_with_zero_weight():
    rng = np.random.default_rng(0)
    sizes = [20, 35, 12]
    snaps = [rng.normal(size=(n, 2)) + k for k, n in enumerate(sizes)]
    data = bridges.prepare(snaps, [0.0, 1.0, 2.0])
    assert data.points.shape == (3, 35, 2)
    np.testing.assert_allclose(data.weights.sum(1), 1.0, rtol=1e-6)
    zeros = jnp.zeros((2, 35))
    step = jax.jit(bridges.bridge_step, static_argnames=("reference", "num_steps"))
    paths, targets, ot, _ = step(
        jax.random.key(0), bridges.brownian(0.5), {}, data, (zeros, zeros), num_steps=4
    )
    assert bool(jnp.all(ot.converged))
    # sources of real points only pick real targets; the plan gives padding no mass
    assert int(targets[0, :20].max()) < 35 and int(targets[1, :35].max()) < 12
    np.testing.assert_allclose(ot.plan[1, :, 12:], 0.0, atol=1e-12)
    np.testing.assert_allclose(ot.plan[0].sum(1)[:20], 1 / 20, atol=1e-4)  # Sinkhorn threshold
    ends = data.points[1][targets[0, :20, 0]]
    np.testing.assert_allclose(paths[0, :20, 0, -1], ends, atol=1e-5)  # bridges hit targets
