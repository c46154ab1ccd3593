"""Estimators, the streaming record, α schedules, progress bar and sharding, against exact values.

The exactness tests recompute everything from the recorded (T, W) positions of the same run, so
nothing compares two compiled programs.
"""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

from probkit import walks

EDGES = [(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 2), (1, 3)]  # 5 nodes, not regular
T, W, EVERY = 230, 6, 50  # T is not a multiple of EVERY: the tail after the last checkpoint
F = np.array([[1.0, -2.0, 0.5, 3.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0]])  # two node functions


def measures_from_positions(trace, n, a):
    """x_t for t = 1..T of every walker by the recursion x <- x + γ_t(δ - x), γ_t = (t+n)^-a."""
    x = np.full((trace.shape[1], n), 1.0 / n)
    out = []
    for t, pos in enumerate(trace, start=1):
        gamma = (t + n) ** (-a)
        x = (1 - gamma) * x
        x[np.arange(trace.shape[1]), pos] += gamma
        out.append(x.copy())
    return np.array(out)  # (T, W, n)


@pytest.fixture(scope="module", params=[1.0, 0.7], ids=["a=1", "a=0.7"])
def run(request):
    """One x64 run with both the positions and the streaming record, growing α."""
    with jax.enable_x64(True):
        g = walks.from_networkx(nx.Graph(EDGES))
        res = walks.srrw(
            jax.random.key(4), g, T, alpha=3.0, num_walkers=W, step_exponent=request.param,
            alpha_schedule=walks.growing_alpha(c=20.0), record="positions",
            summary_every=EVERY, functions=F,
        )  # fmt: skip
        res = jax.tree.map(np.asarray, res)
    mu = np.asarray(g.degree, float) / np.sum(np.asarray(g.degree))
    return request.param, g, res, mu


def test_positions_record_and_counts(run):
    _, _, res, _ = run
    trace = res.trace
    assert trace.shape == (T, W) and trace.dtype == np.int32
    np.testing.assert_array_equal(trace[-1], res.positions)
    counts = 1 + np.stack([np.bincount(trace[:, w], minlength=5) for w in range(W)])
    np.testing.assert_array_equal(res.counts, counts)  # one initial visit per node
    adj = nx.to_numpy_array(nx.Graph(EDGES), nodelist=range(5))
    assert np.all(adj[trace[:-1], trace[1:]] == 1)  # every SRW move follows an edge


def test_empirical_measure_and_helpers_are_exact(run, x64):
    a, _, res, mu = run
    x = measures_from_positions(res.trace, 5, a)
    np.testing.assert_allclose(res.empirical, x[-1], rtol=1e-12)
    visits = np.stack([np.bincount(res.trace[:, w], minlength=5) for w in range(W)]) / T
    np.testing.assert_allclose(walks.visit_frequencies(res), visits, rtol=1e-12)
    np.testing.assert_allclose(walks.ergodic_average(res, F[0]), x[-1] @ F[0], rtol=1e-12)
    np.testing.assert_allclose(
        walks.tvd(res.empirical, mu), 0.5 * np.abs(x[-1] - mu).sum(1), rtol=1e-12
    )
    np.testing.assert_allclose(
        walks.nrmse(res.empirical, mu), np.sqrt(((x[-1] - mu) ** 2).mean(0)) / mu, rtol=1e-12
    )


def test_streaming_summary_is_exact(run, x64):
    a, _, res, mu = run
    s = res.summary
    np.testing.assert_array_equal(s.steps, [50, 100, 150, 200])
    assert int(s.num_walkers) == W
    x = measures_from_positions(res.trace, 5, a)[s.steps - 1]  # (R, W, n) at the checkpoints
    np.testing.assert_allclose(s.target, mu, rtol=1e-12)
    np.testing.assert_allclose(s.sq_error, ((x - mu) ** 2).sum(1), rtol=1e-12)
    np.testing.assert_allclose(s.mean_tvd(), 0.5 * np.abs(x - mu).sum(2).mean(1), rtol=1e-12)
    np.testing.assert_allclose(s.nrmse(), np.sqrt(((x - mu) ** 2).mean(1)) / mu, rtol=1e-12)
    e = x @ F.T  # (R, W, 2) ergodic averages
    np.testing.assert_allclose(s.f_mean(), e.mean(1), rtol=1e-12)
    np.testing.assert_allclose(s.f_var(), e.var(1), rtol=1e-9, atol=1e-15)


def test_streaming_keeps_only_sums():
    """The compiled streaming program's outputs are O(R n) and it allocates nothing per step
    (record="positions" would output T x W x 4 bytes = 40 MB here)."""
    g = walks.from_networkx(nx.Graph(EDGES))
    num_steps, num_walkers = 100_000, 100
    f = jax.jit(lambda k: walks.srrw(k, g, num_steps, alpha=1.0, num_walkers=num_walkers,
                                     summary_every=1000))  # fmt: skip
    mem = f.lower(jax.random.key(0)).compile().memory_analysis()
    state = num_walkers * 5 * (4 + 4)  # counts and log-measure
    assert mem.output_size_in_bytes < 2 * state + 100 * 8 * 8  # + R x (n + 2) sums
    assert mem.temp_size_in_bytes < 4 * num_steps  # nothing per step (no T keys either)


def test_growing_alpha_closed_form():
    sched = walks.growing_alpha(c=100.0)
    n = jnp.asarray([0, 1, 100, 10_000, 10**9])
    got = np.asarray(sched(n, 5.0), float)
    np.testing.assert_allclose(got, 5.0 * np.asarray(n) / (500.0 + np.asarray(n)), rtol=1e-6)
    assert got[0] == 0 and np.all(np.diff(got) > 0) and abs(got[-1] - 5.0) < 1e-5
    with pytest.raises(ValueError, match="c"):
        walks.growing_alpha(c=-1.0)


def test_alpha_schedule_is_applied_at_step_n(capsys):
    """Path 0-1-2 from node 1: the walker is at 1 before every odd step n. With α_n = 1000 at
    odd n >= 3 (0 otherwise) it must alternate ends (50 + 50 visits in 200 steps); were the
    schedule read at n - 1 (even) the ends would be a fair coin, Binomial(100, 1/2)."""
    g = walks.from_networkx(nx.path_graph(3))
    sched = lambda n, a: jnp.where((n % 2 == 1) & (n >= 3), a, 0.0)  # noqa: E731
    res = walks.srrw(jax.random.key(2), g, 200, alpha=1000.0, start=1, num_walkers=4,
                     alpha_schedule=sched, progress_bar=True)  # fmt: skip
    jax.effects_barrier()
    np.testing.assert_array_equal(np.asarray(res.counts), [[51, 101, 51]] * 4)
    err = capsys.readouterr().err
    assert "SRRW" in err and "200/200" in err  # the progress bar ran to the end


def test_nrmse_matches_closed_form_V():
    """NRMSE_i ≈ √(V_ii / n) / μ_i over 400 walkers x 4000 steps (streaming, HDT and SRRW)."""
    g = walks.from_networkx(nx.Graph(EDGES))
    mu = np.asarray(g.degree, float) / np.sum(np.asarray(g.degree))
    res = walks.srrw(jax.random.key(7), g, 4000, alpha=2.0, num_walkers=400, summary_every=4000)
    got = np.asarray(res.summary.nrmse()[-1], float)
    exact = np.sqrt(np.diag(walks.asymptotic_covariance(g, 2.0)) / 4005) / mu
    # relative SE of a root-mean-square over 400 walkers ~ 1/√(2·400) = 3.5%; 12% ~ 3.4 SE
    np.testing.assert_allclose(got, exact, rtol=0.12)


SHARDED = textwrap.dedent("""
    import jax, numpy as np, networkx as nx
    jax.config.update("jax_enable_x64", True)
    from probkit import walks
    from probkit.core import sharding
    assert len(jax.devices()) == 2
    g = walks.from_networkx(nx.karate_club_graph())
    kw = dict(alpha=2.0, num_walkers=64, summary_every=50, functions=np.arange(34.0))
    a = walks.srrw(jax.random.key(3), g, 200, **kw)
    b = walks.srrw(jax.random.key(3), g, 200, sharding=sharding.batch_sharding(), **kw)
    assert len(b.counts.sharding.device_set) == 2 and not b.counts.sharding.is_fully_replicated
    same = (np.asarray(a.counts) == np.asarray(b.counts)).all(axis=1)
    print(int(same.sum()), repr(float(a.summary.f_sum[-1, 0])), repr(float(b.summary.f_sum[-1, 0])))
""")


def test_sharded_walker_axis_gives_the_same_walks():
    """Two host devices: the walker axis split in two gives the same walks (same key).

    In float64 a draw can differ only if a uniform falls within ~1e-16 of a CDF step, so all
    64 walkers agree unless rounding differs there; one walker of slack keeps the test free of
    the compiled programs' rounding."""
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu"
    )
    out = subprocess.run(
        [sys.executable, "-c", SHARDED], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    same, fa, fb = out.stdout.split()
    assert int(same) >= 63
    if int(same) == 64:
        np.testing.assert_allclose(float(fa), float(fb), rtol=1e-12)


@pytest.mark.parametrize("base", ["nbrw", "mhrw"])  # SRW rows + backtracking; self column
def test_bucketed_layout_gives_the_padded_walks(base):
    """layout="bucketed" reads bucket-wide rows but draws with the same uniforms: in float64
    the trajectories equal the padded ones (one walker of slack for a rounding tie). Walkers
    start at the hub, so its bucket holds every walker at first; 100 walkers make two chunks
    of 64 (with 28 dummies)."""
    G = nx.barabasi_albert_graph(60, 2, seed=1)  # max degree 18: buckets of width 8, 16, 19
    with jax.enable_x64(True):
        g = walks.from_networkx(G, target=np.linspace(1, 3, 60) if base == "mhrw" else None)
        hub = int(np.argmax(np.asarray(g.degree)))
        kw = dict(alpha=3.0, base=base, num_walkers=100, start=hub, record="positions")
        a = walks.srrw(jax.random.key(5), g, 100, **kw)
        b = walks.srrw(jax.random.key(5), g, 100, layout="bucketed", **kw)
    assert not bool(b.failed)
    same = (np.asarray(a.trace) == np.asarray(b.trace)).all(axis=0)
    assert same.sum() >= 99, same.sum()
    np.testing.assert_array_equal(np.asarray(a.counts)[same], np.asarray(b.counts)[same])
