"""The maintained inverse and the M-matrix domain certificate against exact linear algebra."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from probkit.dag import acyclicity


def _scaled(rng, d, rho, s):
    """Random nonnegative A with spectral radius rho * s, and W with W∘W = A."""
    W = rng.standard_normal((d, d))
    A = W * W
    A = A * (rho * s / np.max(np.abs(np.linalg.eigvals(A))))
    return jnp.asarray(A), jnp.asarray(np.sqrt(A) * np.sign(W))


refresh = jax.jit(acyclicity.refresh_inverse)
fresh = jax.jit(acyclicity.neumann_inverse)


@pytest.mark.parametrize("rho", [0.1, 0.9, 0.999, 0.99999])
def test_inverse_matches_exact_inside_the_domain(x64, rho):
    rng = np.random.default_rng(int(rho * 1e5))
    s = 0.8
    A, _ = _scaled(rng, 8, rho, s)
    exact = np.linalg.inv(s * np.eye(8) - np.asarray(A))
    out = fresh(A, jnp.asarray(s))
    assert bool(out.ok)
    # Polished residual <= NEUMANN_TOL^2 relative: compare in the inverse's own scale.
    assert np.allclose(out.inverse, exact, rtol=1e-6, atol=1e-8 * np.abs(exact).max())
    # Warm start from a nearby point: one Newton–Schulz step.
    A2 = A * (1 + 1e-4 * (1 - rho))
    upd = refresh(A2, jnp.asarray(s), out.inverse)
    exact2 = np.linalg.inv(s * np.eye(8) - np.asarray(A2))
    assert bool(upd.ok) and not bool(upd.rebuilt)
    assert np.allclose(upd.inverse, exact2, rtol=1e-6, atol=1e-8 * np.abs(exact2).max())


@pytest.mark.parametrize("rho", [1.00001, 1.001, 1.5, 30.0])
def test_outside_the_domain_is_detected(x64, rho):
    rng = np.random.default_rng(7)
    s = 0.9
    A, W = _scaled(rng, 8, rho, s)
    assert not bool(fresh(A, jnp.asarray(s)).ok)
    # ... also from a warm start that was valid a moment ago (the solver's situation)
    inside, _ = _scaled(np.random.default_rng(7), 8, 0.999, s)
    prev = fresh(inside, jnp.asarray(s)).inverse
    assert not bool(refresh(A, jnp.asarray(s), prev).ok)
    assert not bool(acyclicity.in_domain(W, s))


def test_domain_agrees_with_spectral_radius_on_random_matrices(x64):
    rng = np.random.default_rng(3)
    d = 6  # one shape, one compilation
    for _ in range(60):
        W = rng.standard_normal((d, d)) * rng.uniform(0.05, 1.0) * (rng.random((d, d)) < 0.6)
        s = float(rng.uniform(0.5, 1.0))
        rho = np.max(np.abs(np.linalg.eigvals(W * W)))
        if abs(rho - s) < 1e-6 * s:
            continue
        assert bool(acyclicity.in_domain(jnp.asarray(W), s)) == (rho < s)


def test_float32_inverse_is_accurate_to_its_precision():
    rng = np.random.default_rng(5)
    A, _ = _scaled(rng, 10, 0.99, 1.0)
    A = A.astype(jnp.float32)
    out = fresh(A, jnp.asarray(1.0, jnp.float32))
    exact = np.linalg.inv(np.eye(10) - np.asarray(A, np.float64))
    assert out.inverse.dtype == jnp.float32 and bool(out.ok)
    # cond(I - A) ~ 1e2 here: float32 gives ~1e-5 relative accuracy
    assert np.allclose(out.inverse, exact, rtol=1e-4, atol=1e-4 * np.abs(exact).max())


def test_fast_refresh_accepts_only_certified_points_and_agrees_with_the_general_one(x64):
    """The solver's straight-line common case: same M as `refresh_inverse` when it accepts."""
    fast = jax.jit(acyclicity.refresh_inverse_fast)
    rng = np.random.default_rng(11)
    s, d = 0.9, 8
    accepted = rejected = 0
    for rho in (0.3, 0.9, 0.99, 0.999):
        A, _ = _scaled(rng, d, rho, s)
        prev = fresh(A, jnp.asarray(s)).inverse
        for step in (1e-4, 1e-2, 0.3, 3.0):  # small moves are accepted, large ones are not
            A2 = A * (1 + step * rng.uniform(0, 1, (d, d)))
            M, ok = fast(A2, jnp.asarray(s), prev, 0.1)
            inside = np.max(np.abs(np.linalg.eigvals(np.asarray(A2)))) < s
            if bool(ok):
                accepted += 1
                assert inside  # the certificate never accepts a point outside the domain
                general = refresh(A2, jnp.asarray(s), prev)
                assert bool(general.ok) and np.array_equal(M, general.inverse)
                exact = np.linalg.inv(s * np.eye(d) - np.asarray(A2))
                assert np.max(np.abs(np.eye(d) - (s * np.eye(d) - A2) @ M).sum(1)) <= 0.01
                assert np.allclose(M, exact, rtol=0.05, atol=0.01 * np.abs(exact).max())
            else:
                rejected += 1
    assert accepted >= 4 and rejected >= 4
