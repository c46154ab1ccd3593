"""SRRW against exact answers: kernel rows (chi-square), base chains, V(alpha), exact counts."""

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

from probkit import testing, walks

EDGES = [(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 2), (1, 3)]  # 5 nodes, not regular


@pytest.fixture(scope="module")
def g5():
    return walks.from_networkx(nx.Graph(EDGES))


def exact_row(G, mu, counts, i, alpha, base, prev=-1):
    """K[x](i, .) over all n nodes, computed densely from the definition."""
    n = G.number_of_nodes()
    deg = np.array([G.degree(v) for v in range(n)], float)
    p = np.zeros(n)
    for j in G.neighbors(i):
        if base == "mhrw":
            p[j] = min(1.0, mu[j] * deg[i] / (mu[i] * deg[j])) / deg[i]
        else:
            p[j] = 1.0 / deg[i]
    if base == "mhrw":
        p[i] = 1.0 - p.sum()
    if base == "nbrw" and prev >= 0 and deg[i] > 1:
        p[prev] = 0.0
    x = counts / counts.sum()
    k = p * (x / mu) ** (-alpha)
    return k / k.sum()


@pytest.mark.parametrize("base", ["srw", "mhrw", "nbrw"])
def test_one_step_frequencies_match_exact_kernel_row(g5, base):
    G = nx.Graph(EDGES)
    target = np.array([0.1, 0.3, 0.2, 0.25, 0.15]) if base == "mhrw" else None
    g = walks.from_networkx(G, target=target)
    chain = walks.base_chain(g, base)
    mu = np.exp(np.asarray(chain.log_mu, float))
    counts = np.array([7, 2, 11, 4, 5])
    state = walks.init(jax.random.key(0), chain, start=2)._replace(
        counts=jnp.asarray(counts, jnp.int32), previous=jnp.asarray(1, jnp.int32)
    )
    alpha = 2.0
    draws = jax.jit(jax.vmap(lambda k: walks.step(k, state, chain, alpha, base=base)[0].position))(
        testing.keys(20000, seed=3)
    )
    freq = np.bincount(np.asarray(draws), minlength=5)
    exact = exact_row(G, mu, counts.astype(float), 2, alpha, base, prev=1)
    testing.assert_chi_square(freq, exact, alpha=1e-3, what=f"K[x] row, base={base}")
    nb, probs = walks.transition_probabilities(state, chain, alpha, base=base)
    dense = np.zeros(5)
    np.add.at(dense, np.asarray(nb), np.asarray(probs, float))
    np.testing.assert_allclose(dense, exact, atol=1e-6)  # float32 softmax


def test_alpha_zero_is_the_base_chain(x64, g5):
    chain = walks.base_chain(g5, "srw")
    p, _ = walks.dense_transition(g5, "srw")
    rng = np.random.default_rng(0)
    for i in range(5):
        counts = jnp.asarray(rng.integers(1, 50, size=5), jnp.int32)
        state = walks.init(jax.random.key(0), chain, start=i)._replace(counts=counts)
        nb, probs = walks.transition_probabilities(state, chain, 0.0)
        row = np.zeros(5)
        np.add.at(row, np.asarray(nb), np.asarray(probs))
        np.testing.assert_allclose(row, p[i], rtol=0, atol=1e-15)  # the same row, exactly
    # and the same draws: the alpha = 0 kernel and a plain SRW sampler use identical logits
    keys = testing.keys(200, seed=1)
    state = walks.init(jax.random.key(0), chain, start=2)
    srrw = jax.vmap(lambda k: walks.step(k, state, chain, 0.0)[0].position)(keys)
    plain = jax.vmap(lambda k: chain.neighbors[2][walks.primitives.sample_row(k, chain.log_p[2])])(
        keys
    )
    np.testing.assert_array_equal(np.asarray(srrw), np.asarray(plain))


@pytest.fixture(scope="module")
def cov_runs(g5):
    """1000 walkers x 2e4 steps for alpha in {0, 1, 5}: one compiled program, alpha traced."""
    out = {}
    for i, alpha in enumerate((0.0, 1.0, 5.0)):
        res = walks.srrw(jax.random.key(10 + i), g5, 20_000, alpha=alpha, num_walkers=1000)
        out[alpha] = np.asarray(res.empirical, float)
    return out


@pytest.mark.parametrize("alpha", [0.0, 1.0, 5.0])
def test_n_cov_matches_closed_form_V(g5, cov_runs, alpha):
    n_steps = 20_000 + 5  # x_n = counts / (n + N)
    emp = n_steps * np.var(cov_runs[alpha], axis=0, ddof=1)
    exact = np.diag(walks.asymptotic_covariance(g5, alpha))
    # 1000 walkers: SE of a variance about sqrt(2/1000) = 4.5%; 15% is about 3.3 SE
    np.testing.assert_allclose(emp, exact, rtol=0.15)


def test_variance_ratio_alpha5_over_alpha0(g5, cov_runs):
    ratio = np.var(cov_runs[5.0], axis=0).sum() / np.var(cov_runs[0.0], axis=0).sum()
    exact = np.trace(walks.asymptotic_covariance(g5, 5.0)) / np.trace(
        walks.asymptotic_covariance(g5, 0.0)
    )
    assert 0.09 < exact < 0.12
    assert abs(ratio / exact - 1) < 0.15, (ratio, exact)  # ratio of two 4.5%-SE variances


def test_mean_converges_to_target(g5, cov_runs):
    mu = np.asarray(g5.degree) / np.sum(np.asarray(g5.degree))
    x = cov_runs[1.0]
    testing.assert_within_se(x, mu, z=4.5, what="x_n")


def test_counts_exact_past_2_pow_24():
    """Counts start at 2^24 - 3: float32 accumulation would stall at 2^24 (2^24 + 1 rounds)."""
    g = walks.from_networkx(nx.path_graph(2))
    T = 1001
    res = walks.srrw(
        jax.random.key(0), g, T, alpha=3.0, start=0, count_offset=2**24 - 4, num_walkers=2
    )
    counts = np.asarray(res.counts).astype(np.int64)
    # the 2-node walk alternates 0 -> 1 -> 0 ...: node 1 gets 501 visits, node 0 gets 500
    np.testing.assert_array_equal(counts, [[2**24 - 3 + 500, 2**24 - 3 + 501]] * 2)
    assert res.counts.dtype == jnp.int32
    assert float(np.float32(2**24 + 1)) == 2**24  # why int32: float32 cannot hold 2^24 + 1


def test_general_step_exponent_measure_sums_to_one(g5):
    res = walks.srrw(jax.random.key(1), g5, 300, alpha=1.0, num_walkers=4, step_exponent=0.7)
    x = np.asarray(res.empirical, float)
    np.testing.assert_allclose(x.sum(1), 1.0, rtol=1e-5)
    assert not bool(res.failed) and int(res.failed_at) == -1


def test_hdt_variance_is_mhrw_over_2alpha_plus_1(g5):
    alpha = 2.0
    res = walks.hdt(jax.random.key(5), g5, 10_000, alpha=alpha, num_walkers=500)
    emp = 10_005 * np.var(np.asarray(res.empirical, float), axis=0, ddof=1)
    exact = np.diag(walks.asymptotic_covariance(g5, 0.0, base="mhrw")) / (2 * alpha + 1)
    np.testing.assert_allclose(emp, exact, rtol=0.20)  # 6.3% SE per entry, 20% ~ 3.2 SE
