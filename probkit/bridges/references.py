"""Reference SDEs dX = b_theta(X, t) dt + sigma dW: classes, simulation, transition costs.

A `Reference` holds the drift b(theta, x, t) for one state x (d,), a fixed sigma, the values of
its fixed parameters and the starting values of the learned ones (`theta0`); `fit` learns the
latter. Positive parameters enter the drift as |v| (as in SBIRR). Linear references
(`brownian`, `ou`) have exact Gaussian transitions (Van Loan); the others are simulated by
Euler-Maruyama.
"""

import dataclasses
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from probkit.bridges.gaussian import ou_gramian
from probkit.core import validate
from probkit.core.types import Array, PRNGKey

__all__ = [
    "Reference",
    "brownian",
    "ou",
    "lotka_volterra",
    "repressilator",
    "drift",
    "simulate",
    "transition_cost",
]


@dataclasses.dataclass(frozen=True, eq=False)
class Reference:
    """A parametric reference SDE (static: a `jit` static argument, hashed by value, so equal
    references built twice share compiled code).

    drift_fn(params, x, t) -> (d,) with params the dict of all parameters; `theta0` the learned
    parameters' starting values, `fixed` the others; `positive` names parameters kept > 0;
    `linear` marks b = A (x - m) with params "A", "m" (exact transitions).

    Attributes:
        name: a label (shown in reprs and plots).
        drift_fn: `drift_fn(params, x, t) -> (d,)`, params the dict of all parameters.
        sigma: () diffusion coefficient (dX = b dt + sigma dW).
        theta0: starting values of the learned parameters, by name.
        fixed: values of the parameters that are not learned, by name.
        positive: names of the parameters kept > 0 (optimised on the log scale).
        linear: True when b = A (x - m) with params "A", "m" (exact Gaussian transitions).
        dim: d, the state dimension.
    """

    name: str
    drift_fn: Callable
    sigma: float
    theta0: Mapping = dataclasses.field(default_factory=dict)
    fixed: Mapping = dataclasses.field(default_factory=dict)
    positive: tuple = ()
    linear: bool = False
    dim: int | None = None

    def _key(self):
        fixed = tuple(
            (k, np.asarray(v).shape, np.asarray(v).tobytes()) for k, v in sorted(self.fixed.items())
        )
        return (self.name, self.drift_fn, self.sigma, tuple(sorted(self.theta0)), fixed,
                self.positive, self.linear, self.dim)  # fmt: skip

    def __hash__(self):
        return hash(self._key())

    def __eq__(self, other):
        return isinstance(other, Reference) and self._key() == other._key()

    def params(self, theta: Mapping) -> dict:
        """All parameters: the fixed ones and `theta`."""
        return {**self.fixed, **theta}

    def drift(self, theta: Mapping, x: Array, t) -> Array:
        """b_theta(x, t) for one state x (d,)."""
        return self.drift_fn(self.params(theta), x, t)

    def to_unconstrained(self, theta: Mapping) -> dict:
        """Optimiser coordinates: the parameters themselves (positive ones enter as |v|)."""
        return {k: jnp.asarray(v) for k, v in theta.items()}

    def from_unconstrained(self, u: Mapping) -> dict:
        # |v| rather than exp(v): the likelihood stays quadratic in drifts linear in theta
        # (Lotka-Volterra, OU), so Newton steps solve it, and no parameter gets stuck at 0
        return {k: jnp.abs(v) if k in self.positive else v for k, v in u.items()}

    def init_theta(self, dim: int, dtype=None) -> dict:
        """Starting values of the learned parameters for state dimension `dim`."""
        if self.dim is not None and self.dim != dim:
            raise ValueError(f"reference {self.name!r} is {self.dim}-dimensional, data are {dim}-D")
        dtype = dtype or jnp.result_type(float)
        out = {}
        for k, v in self.theta0.items():
            v = v(dim) if callable(v) else v
            out[k] = jnp.asarray(v, dtype)
        return out

    def linear_coefficients(self, theta: Mapping, dim: int):
        """(A (d, d), m (d,)) of a linear reference."""
        p = self.params(theta)
        return jnp.asarray(p["A"]) * jnp.ones((dim, dim)), jnp.asarray(p["m"]) * jnp.ones(dim)

    def log_transition(self, theta: Mapping, x0: Array, x1: Array, t, dt) -> Array:
        """log p(x1 | x0) over dt for x0 (d,), x1 (..., d): exact if linear, else Euler-Maruyama."""
        d = x0.shape[-1]
        if self.linear:
            A, m = self.linear_coefficients(theta, d)
            e, phi = ou_gramian(A, dt)
            return _mvn_logpdf(x1, m + e @ (x0 - m), self.sigma**2 * phi)
        r = x1 - (x0 + dt * self.drift(theta, x0, t))
        var = self.sigma**2 * dt
        return -0.5 * jnp.sum(r**2, -1) / var - 0.5 * d * jnp.log(2 * jnp.pi * var)


def _mvn_logpdf(x, mean, cov):
    chol = jnp.linalg.cholesky(cov)
    r = jnp.atleast_2d(x - mean)
    z = jax.scipy.linalg.solve_triangular(chol, r.T, lower=True).T.reshape(jnp.shape(x - mean))
    d = x.shape[-1]
    return (
        -0.5 * jnp.sum(z**2, -1) - jnp.sum(jnp.log(jnp.diag(chol))) - 0.5 * d * jnp.log(2 * jnp.pi)
    )


def _sigma(sigma):
    return validate.positive_float("sigma", sigma)


def _zero_drift(p, x, t):
    return jnp.zeros_like(x)


def _ou_drift(p, x, t):
    return p["A"] @ (x - p["m"])


def brownian(sigma: float) -> Reference:
    """dX = sigma dW (nothing to learn); any state dimension d.

    Examples:
        >>> ref = bridges.brownian(0.5)
        >>> ref.sigma, dict(ref.theta0)  # nothing to learn
        (0.5, {})
        >>> ref.drift({}, jnp.ones(2), 0.0)  # x (d,) -> b(x, t) (d,)
        Array([0., 0.], dtype=float32)
    """
    return Reference(
        "brownian", _zero_drift, _sigma(sigma),
        fixed={"A": 0.0, "m": 0.0}, linear=True,
    )  # fmt: skip


def _minus_eye(d):
    return -jnp.eye(d)


def ou(A=None, m=None, *, sigma: float, dim: int | None = None) -> Reference:
    """dX = A (X - m) dt + sigma dW; `None` marks A (start: -I) or m (start: 0) as learned.

    `A` is `(d, d)` and `m` `(d,)` (scalars broadcast); states are `(d,)` vectors.

    Examples:
        >>> ref = bridges.ou(A=-jnp.eye(2), sigma=1.0)  # m learned, A fixed
        >>> sorted(ref.theta0)
        ['m']
        >>> ref.drift({"m": jnp.zeros(2)}, jnp.ones(2), 0.0)
        Array([-1., -1.], dtype=float32)
    """
    sigma = _sigma(sigma)
    theta0, fixed = {}, {}
    if A is None:
        theta0["A"] = _minus_eye
    else:
        A = validate.finite("A", validate.array("A", A, ndim=2))
        if A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be square, got shape {A.shape}")
        fixed["A"], dim = A, A.shape[0]
    if m is None:
        theta0["m"] = jnp.zeros
    else:
        m = validate.finite("m", validate.array("m", m, ndim=1))
        if dim is not None and m.shape[0] != dim:
            raise ValueError(f"m must have shape ({dim},), got {m.shape}")
        fixed["m"], dim = m, m.shape[0]
    return Reference("ou", _ou_drift, sigma, theta0, fixed, linear=True, dim=dim)


def _named(name, values, starts, drift_fn, sigma, dim):
    theta0, fixed = {}, {}
    for k, v in values.items():
        if v is None:
            theta0[k] = starts[k]
        else:
            fixed[k] = jnp.asarray(validate.positive_float(k, v))
    return Reference(name, drift_fn, _sigma(sigma), theta0, fixed, tuple(values), dim=dim)


def _lv_drift(p, x, t):
    prey, pred = x[0], x[1]
    return jnp.stack(
        [p["alpha"] * prey - p["beta"] * prey * pred, p["delta"] * prey * pred - p["gamma"] * pred]
    )


def lotka_volterra(alpha=None, beta=None, gamma=None, delta=None, *, sigma: float = 0.1, init=None):
    """Predator-prey: dx = (alpha x - beta x y) dt, dy = (delta x y - gamma y) dt, + sigma dW.

    States are `(2,)` vectors (x, y); the parameters are scalars.

    Parameters left `None` are learned (all > 0), starting from `init` (default 0.5 each).

    Examples:
        >>> ref = bridges.lotka_volterra(alpha=1.0, sigma=0.2)  # beta, gamma, delta learned
        >>> sorted(ref.theta0)
        ['beta', 'delta', 'gamma']
        >>> ref.drift({"beta": 1.0, "gamma": 1.0, "delta": 1.0}, jnp.ones(2), 0.0)
        Array([0., 0.], dtype=float32)
    """
    starts = {k: 0.5 for k in ("alpha", "beta", "gamma", "delta")} | dict(init or {})
    values = dict(alpha=alpha, beta=beta, gamma=gamma, delta=delta)
    return _named("lotka_volterra", values, starts, _lv_drift, sigma, 2)


def _repressilator_drift(p, x, t):
    prev = jnp.roll(jnp.maximum(x, 0.0), 1)  # gene i is repressed by gene i - 1
    return p["beta"] / (1.0 + (prev / p["k"]) ** p["n"]) - p["gamma"] * x


def repressilator(beta=None, n=None, k=None, gamma=None, *, sigma: float = 0.1, init=None):
    """Three-gene repressilator: dx_i = (beta / (1 + (x_{i-1}/k)^n) - gamma x_i) dt + sigma dW.

    States are `(3,)` vectors; the parameters are scalars.

    Parameters left `None` are learned (all > 0), starting from `init` (default beta 5, n 2,
    k 1.5, gamma 0.5).

    Examples:
        >>> ref = bridges.repressilator(n=2.0)  # beta, k, gamma learned, Hill exponent fixed
        >>> sorted(ref.theta0), ref.sigma
        (['beta', 'gamma', 'k'], 0.1)
    """
    starts = dict(beta=5.0, n=2.0, k=1.5, gamma=0.5) | dict(init or {})
    values = dict(beta=beta, n=n, k=k, gamma=gamma)
    return _named("repressilator", values, starts, _repressilator_drift, sigma, 3)


def drift(
    fn: Callable, theta0: Mapping, *, sigma: float, fixed: Mapping | None = None, positive=()
) -> Reference:
    """A user drift fn(theta, x, t) -> (d,) for one state x (d,), learned from `theta0`.

    Examples:
        >>> def b(theta, x, t):  # x (d,) -> (d,)
        ...     return -theta["k"] * x
        >>> ref = bridges.drift(b, {"k": 1.0}, sigma=0.5, positive=("k",))
        >>> ref.drift({"k": 2.0}, jnp.ones(2), 0.0)
        Array([-2., -2.], dtype=float32)
    """
    validate.callable_("fn", fn)
    if not isinstance(theta0, Mapping):
        raise TypeError(f"theta0 must be a dict of parameter arrays, got {type(theta0).__name__}")
    for k in positive:
        if k not in theta0 and k not in (fixed or {}):
            raise ValueError(f"positive names {k!r}, which is not a parameter")
    validate.finite_tree("theta0", dict(theta0))
    return Reference("drift", fn, _sigma(sigma), dict(theta0), dict(fixed or {}), tuple(positive))


def simulate(
    key: PRNGKey, reference: Reference, theta: Mapping, x0, t0: float, t1: float, num_steps: int
) -> Array:
    """Paths (n, num_steps + 1, d) from x0 (n, d) on a uniform grid of [t0, t1].

    Exact Gaussian transitions for linear references, Euler-Maruyama otherwise.

    Examples:
        >>> paths = bridges.simulate(
        ...     jax.random.key(0), bridges.brownian(1.0), {}, jnp.zeros((4, 2)), 0.0, 1.0, 10
        ... )
        >>> paths.shape  # (n, num_steps + 1, d)
        (4, 11, 2)
    """
    x0 = validate.finite("x0", validate.array("x0", x0, ndim=2))
    num_steps = validate.positive_int("num_steps", num_steps)
    if not t1 > t0:
        raise ValueError(f"t1 must be after t0, got t0={t0}, t1={t1}")
    theta = {k: jnp.asarray(v) for k, v in dict(theta).items()}
    return _simulate(key, reference, theta, x0, jnp.asarray(t0), jnp.asarray(t1), num_steps)


@jax.jit(static_argnames=("reference", "num_steps"))
def _simulate(key, reference, theta, x0, t0, t1, num_steps):
    _n, d = x0.shape
    dt = (t1 - t0) / num_steps
    if reference.linear:
        A, m = reference.linear_coefficients(theta, d)
        e, phi = ou_gramian(A, dt)
        chol = jnp.linalg.cholesky(reference.sigma**2 * phi)

        def move(x, t, z):
            return m + (x - m) @ e.T + z @ chol.T
    else:
        b = jax.vmap(reference.drift, in_axes=(None, 0, None))

        def move(x, t, z):
            return x + dt * b(theta, x, t) + reference.sigma * jnp.sqrt(dt) * z

    def step(x, inp):
        k, j = inp
        x = move(x, t0 + j * dt, jax.random.normal(k, x.shape, x.dtype))
        return x, x

    keys = jax.random.split(key, num_steps)
    _, xs = jax.lax.scan(step, x0, (keys, jnp.arange(num_steps)))
    return jnp.concatenate([x0[:, None], jnp.moveaxis(xs, 0, 1)], axis=1)


def transition_cost(reference: Reference, theta: Mapping, x0, x1, t, dt) -> Array:
    """(n, m) cost -log p(x1_j | x0_i) of one reference transition over dt; use epsilon = 1.

    Sinkhorn on this cost gives the static Schroedinger bridge for the reference (exact for
    linear references; one Euler-Maruyama step otherwise).

    Examples:
        >>> x0, x1 = jnp.zeros((3, 2)), jnp.ones((4, 2))
        >>> C = bridges.transition_cost(bridges.brownian(1.0), {}, x0, x1, 0.0, 0.5)
        >>> C.shape  # (n, m) = -log p(x1_j | x0_i); use sinkhorn(..., epsilon=1)
        (3, 4)
    """
    x0, x1 = jnp.asarray(x0), jnp.asarray(x1)
    return -jax.vmap(lambda a: reference.log_transition(theta, a, x1, t, dt))(x0)
