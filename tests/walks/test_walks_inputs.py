"""Bad inputs: each rule raises a clear error naming the argument (nothing is compiled)."""

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

from probkit import walks


@pytest.fixture(scope="module")
def g():
    return walks.from_networkx(nx.cycle_graph(4))


def test_labels_kept_and_table_layout():
    G = nx.Graph([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])
    g = walks.from_networkx(G, target={"a": 1, "b": 1, "c": 2, "d": 4})
    assert g.nodes == ("a", "b", "c", "d")
    assert g.neighbors.shape == (4, 4)  # max degree 3 + the self-loop column
    np.testing.assert_allclose(np.asarray(g.target), [0.125, 0.125, 0.25, 0.5])
    p, mu = walks.dense_transition(g, "mhrw")
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-6)
    np.testing.assert_allclose(mu @ p, mu, atol=1e-6)  # MHRW is stationary for the target
    flux = mu[:, None] * p
    np.testing.assert_allclose(flux, flux.T, atol=1e-6)  # and reversible


def test_disconnected_graph():
    with pytest.raises(ValueError, match="connected"):
        walks.from_networkx(nx.Graph([(0, 1), (2, 3)]))


def test_isolated_node():
    G = nx.path_graph(3)
    G.add_node(9)
    with pytest.raises(ValueError, match="isolated"):
        walks.from_networkx(G)


def test_directed_and_non_graph():
    with pytest.raises(ValueError, match="undirected"):
        walks.from_networkx(nx.DiGraph([(0, 1), (1, 0)]))
    with pytest.raises(TypeError, match="G must be a networkx graph"):
        walks.from_networkx([(0, 1)])


@pytest.mark.parametrize("target", [[0.5, 0.5, 0.0, 0.1], [1, 1, -1, 1], [1, 1, np.inf, 1]])
def test_target_not_positive(target):
    with pytest.raises(ValueError, match="target"):
        walks.from_networkx(nx.cycle_graph(4), target=np.asarray(target, float))


def test_target_dict_missing_node_and_wrong_shape():
    with pytest.raises(ValueError, match="target"):
        walks.from_networkx(nx.cycle_graph(4), target={0: 1, 1: 1, 2: 1})
    with pytest.raises(ValueError, match="target"):
        walks.from_networkx(nx.cycle_graph(4), target=np.ones(3))


def test_srw_with_foreign_target_refused():
    g = walks.from_networkx(nx.path_graph(3), target=[1, 1, 1])
    with pytest.raises(ValueError, match="mhrw"):
        walks.srrw(jax.random.key(0), g, 10, alpha=1.0, base="srw")


def test_negative_alpha(g):
    with pytest.raises(ValueError, match="alpha"):
        walks.srrw(jax.random.key(0), g, 10, alpha=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        walks.asymptotic_covariance(g, -0.5)
    with pytest.raises(ValueError, match="alpha"):
        walks.hdt(jax.random.key(0), g, 10, alpha=-1.0)


@pytest.mark.parametrize("a", [0.5, 0.3, 1.2, 0.0])
def test_step_exponents_outside_half_one(g, a):
    with pytest.raises(ValueError, match="step_exponent"):
        walks.srrw(jax.random.key(0), g, 10, alpha=1.0, step_exponent=a)
    data = jnp.zeros((4, 1))
    grad = lambda th, d: th - d  # noqa: E731
    with pytest.raises(ValueError, match="gamma_exponent"):
        walks.sa_srrw(jax.random.key(0), g, grad, jnp.zeros(1), data, 10, alpha=1.0,
                      gamma_exponent=a)  # fmt: skip
    with pytest.raises(ValueError, match="beta_exponent"):
        walks.sa_srrw(jax.random.key(0), g, grad, jnp.zeros(1), data, 10, alpha=1.0,
                      beta_exponent=a)  # fmt: skip


@pytest.mark.parametrize("w", [0, -3])
def test_num_walkers_below_one(g, w):
    with pytest.raises(ValueError, match="num_walkers"):
        walks.srrw(jax.random.key(0), g, 10, alpha=1.0, num_walkers=w)
    with pytest.raises(ValueError, match="num_tokens"):
        walks.sa_srrw(jax.random.key(0), g, lambda t, d: t, jnp.zeros(1), jnp.zeros((4, 1)), 10,
                      alpha=1.0, num_tokens=w)  # fmt: skip


def test_other_arguments(g):
    with pytest.raises(ValueError, match="base"):
        walks.srrw(jax.random.key(0), g, 10, alpha=1.0, base="lazy")
    with pytest.raises(ValueError, match="num_steps"):
        walks.srrw(jax.random.key(0), g, 0, alpha=1.0)
    with pytest.raises(ValueError, match="record"):
        walks.srrw(jax.random.key(0), g, 10, alpha=1.0, record="all")
    with pytest.raises(TypeError, match="key"):
        walks.srrw(0, g, 10, alpha=1.0)
    with pytest.raises(TypeError, match="graph"):
        walks.srrw(jax.random.key(0), nx.cycle_graph(4), 10, alpha=1.0)
    with pytest.raises(ValueError, match="node_data"):
        walks.sa_srrw(jax.random.key(0), g, lambda t, d: t, jnp.zeros(1), jnp.zeros((3, 1)), 10,
                      alpha=1.0)  # fmt: skip
    with pytest.raises(TypeError, match="grad"):
        walks.sa_srrw(jax.random.key(0), g, None, jnp.zeros(1), jnp.zeros((4, 1)), 10, alpha=1.0)
    with pytest.raises(ValueError, match="nbrw"):
        walks.asymptotic_covariance(g, 1.0, base="nbrw")


def test_streaming_arguments(g):
    with pytest.raises(ValueError, match="summary_every"):
        walks.srrw(jax.random.key(0), g, 10, alpha=1.0, summary_every=0)
    with pytest.raises(ValueError, match="summary_every"):
        walks.srrw(jax.random.key(0), g, 10, alpha=1.0, summary_every=11)
    with pytest.raises(ValueError, match="functions needs summary_every"):
        walks.srrw(jax.random.key(0), g, 10, alpha=1.0, functions=np.ones(4))
    with pytest.raises(ValueError, match="functions must have shape"):
        walks.hdt(jax.random.key(0), g, 10, alpha=1.0, summary_every=5, functions=np.ones(3))
    with pytest.raises(ValueError, match="functions must be finite"):
        walks.srrw(jax.random.key(0), g, 10, alpha=1.0, summary_every=5,
                   functions=[1.0, np.nan, 0.0, 0.0])  # fmt: skip


def test_layout_argument(g):
    with pytest.raises(ValueError, match="layout"):
        walks.srrw(jax.random.key(0), g, 10, alpha=1.0, layout="csr")
