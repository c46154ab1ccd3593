"""Exact computations trace every matrix product at full precision (TF32 off on GPUs)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.extend.core import jaxprs_in_params

from probkit import dag, sem, ssm
from probkit.causal.contraction import contract
from probkit.core import precision


def _dot_precisions(jaxpr):
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            yield eqn.params["precision"]
        for sub in jaxprs_in_params(eqn.params):
            yield from _dot_precisions(sub)


def _kalman():
    _, params = ssm.linear_gaussian(
        np.eye(2) * 0.9, np.eye(2), np.ones((1, 2)), np.eye(1), np.zeros(2), np.eye(2)
    )
    ys = np.ones((5, 1), np.float32)
    return jax.make_jaxpr(lambda: ssm.rts_smoother(params, ys).means)()


def _sem(method):
    g = sem.MixedGraph(3, directed=[(0, 1), (1, 2), (2, 0)], bidirected=[(0, 1)])
    lam, omega = sem.random_parameters(jax.random.key(0), g)
    return jax.make_jaxpr(lambda: sem.covariance(g, lam, omega, method=method))()


def _dag():
    X = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
    return jax.make_jaxpr(lambda: dag.colide(X, "ev", max_iter=10, warm_iter=10).weights)()


def _contraction():
    a, b = jnp.ones((2, 3)), jnp.ones((3, 2))
    return jax.make_jaxpr(lambda a, b: contract([(a, "xy"), (b, "yz")], "xz"))(a, b)


@pytest.mark.parametrize(
    "trace",
    [_kalman, lambda: _sem("inverse"), lambda: _sem("one-connection"), _dag, _contraction],
    ids=["kalman-rts", "sem-inverse", "sem-one-connection", "dag-colide", "causal-contract"],
)
def test_exact_computations_use_full_precision_products(trace):
    found = list(_dot_precisions(trace().jaxpr))
    assert found, "no matrix product traced"
    highest = jax.lax.Precision.HIGHEST
    assert all(p is not None and all(q == highest for q in p) for p in found), found


def test_the_precision_is_read_at_trace_time(monkeypatch):
    monkeypatch.setattr(precision, "EXACT_PRECISION", None)
    jax.clear_caches()
    try:
        found = list(_dot_precisions(_contraction().jaxpr))
        assert found and all(p is None for p in found)
    finally:
        jax.clear_caches()
