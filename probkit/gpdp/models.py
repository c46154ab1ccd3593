"""Stock-recruitment models with harvest and lognormal process noise, simulation, NPV.

Dynamics: S_t = max(x_t - h_t, 0) (escapement), X_{t+1} = Z_t f(S_t), Z_t ~ LogNormal(0, sigma).
"""

import csv
import functools
from collections.abc import Callable
from importlib import resources
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from probkit.core import sharding as sharding_mod
from probkit.core import validate
from probkit.core.types import Array

__all__ = [
    "MODELS",
    "PopulationModel",
    "Trajectories",
    "allen",
    "beverton_holt",
    "crashes",
    "load_archived_policies",
    "load_training_data",
    "myers",
    "npv",
    "policy_agreement",
    "ricker",
    "simulate",
    "simulate_tables",
    "training_data",
]


class PopulationModel(NamedTuple):
    """A stock-recruitment map `growth(S, params)` (median of X_{t+1}) and its parameter names.

    Attributes:
        name: the model's name ("ricker", "allen", ...).
        growth: `growth(S, params) -> X` the median recruitment of stock S.
        param_names: names of the entries of `params`, in order.
    """

    name: str
    growth: Callable
    param_names: tuple


def _allen(s, p):
    return s * jnp.exp(p["r"] * (1.0 - s / p["K"]) * (s - p["C"]) / p["K"])


def _ricker(s, p):
    return s * jnp.exp(p["r"] * (1.0 - s / p["K"]))


def _myers(s, p):
    st = jnp.power(jnp.maximum(s, 0.0), p["theta"])
    return p["r"] * st / (1.0 + st / p["K"])


def _bh(s, p):
    return p["r"] * s / (1.0 + s / p["K"])


allen = PopulationModel("allen", _allen, ("r", "K", "C"))
"""Allen model (tipping point at C): X' = S exp(r (1 - S/K)(S - C)/K)."""
ricker = PopulationModel("ricker", _ricker, ("r", "K"))
"""Ricker model: X' = S exp(r (1 - S/K))."""
myers = PopulationModel("myers", _myers, ("r", "theta", "K"))
"""Myers model: X' = r S^theta / (1 + S^theta / K)."""
beverton_holt = PopulationModel("beverton_holt", _bh, ("r", "K"))
"""Beverton–Holt model: X' = r S / (1 + S / K)."""
MODELS = {m.name: m for m in (allen, ricker, myers, beverton_holt)}
"""The population models by name."""


def _model(model) -> PopulationModel:
    if isinstance(model, str):
        validate.one_of("model", model, list(MODELS))
        return MODELS[model]
    if not isinstance(model, PopulationModel):
        raise TypeError(f"model must be a PopulationModel or one of {list(MODELS)}, got {model!r}")
    return model


def _params(model: PopulationModel, params) -> dict:
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict, got {type(params).__name__}")
    missing = [k for k in (*model.param_names, "sigma") if k not in params]
    if missing:
        raise ValueError(f"params is missing {missing} for model {model.name!r}")
    validate.finite_tree("params", params)
    return params


def load_training_data() -> np.ndarray:
    """The authors' archived training set (40 rows of (x_t, x_{t+1})).

    Row 0 is the (0, 0) pseudo-datum; rows 1..39 are an unharvested Allen trajectory from 5.5
    (r=2, K=8, C=5, sigma=0.05). Source: cboettig/nonparametric-bayes,
    manuscripts/components/data/training_data.csv (CC0).

    Examples:
        >>> data = gpdp.load_training_data()
        >>> data.shape, data[0].tolist()  # (x_t, x_{t+1}) rows; row 0 the (0, 0) pseudo-datum
        ((40, 2), [0.0, 0.0])
    """
    text = resources.files("probkit.gpdp").joinpath("data/training_data.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    return np.array([[float(r["x"]), float(r["y"])] for r in rows])


def load_archived_policies() -> dict:
    """The authors' archived figure-3 policies: {method: (50,) target harvest on
    `linspace(0, 15, 50)`} for "True", "GP", "MLE", "Allen", "Ricker", "Myers".

    Source: cboettig/nonparametric-bayes, manuscripts/components/data/figure3.csv (CC0).

    Examples:
        >>> policies = gpdp.load_archived_policies()
        >>> sorted(policies), policies["GP"].shape
        (['Allen', 'GP', 'MLE', 'Myers', 'Ricker', 'True'], (50,))
    """
    text = resources.files("probkit.gpdp").joinpath("data/figure3.csv").read_text()
    out: dict = {}
    for r in csv.DictReader(text.splitlines()):
        out.setdefault(r["method"], []).append(float(r["value"]))
    return {k: np.array(v) for k, v in out.items()}


def policy_agreement(harvest, reference, x_grid) -> float:
    """Fraction of states where two harvest tables differ by at most one grid cell.

    Examples:
        >>> x_grid = jnp.linspace(0.0, 3.0, 4)
        >>> h1, h2 = jnp.array([0.0, 1.0, 2.0, 3.0]), jnp.array([0.0, 2.0, 0.0, 3.0])  # (S,) each
        >>> gpdp.policy_agreement(h1, h2, x_grid)  # they differ by two cells at state 2
        0.75
    """
    g = np.asarray(validate.finite("x_grid", x_grid))
    a = np.asarray(validate.finite("harvest", harvest))
    b = np.asarray(validate.finite("reference", reference))
    if a.shape != g.shape or b.shape != g.shape:
        raise ValueError(f"harvest and reference must have shape {g.shape} like x_grid")
    cell = np.max(np.diff(g))
    return float(np.mean(np.abs(a - b) <= cell * (1 + 1e-9)))


class Trajectories(NamedTuple):
    """Simulated runs.

    Attributes:
        stock: (num_reps, num_years) stock x_t at the start of each year (x_0 first).
        harvest: (num_reps, num_years) realised harvest min(x_t, h(x_t)).
    """

    stock: Array
    harvest: Array


def _policy_fn(policy, x_grid, kind):
    if callable(policy):
        return policy
    table = validate.finite("policy", policy)
    if x_grid is None:
        raise ValueError("x_grid is required when policy is a table")
    x_grid = validate.finite("x_grid", x_grid)
    if table.shape != x_grid.shape:
        raise ValueError(
            f"policy table must have shape {x_grid.shape} like x_grid, got {table.shape}"
        )
    validate.one_of("policy_kind", kind, ["harvest", "escapement"])

    def fn(x):
        i = jnp.argmin(jnp.abs(x_grid - x))
        return table[i] if kind == "harvest" else jnp.maximum(x - table[i], 0.0)

    return fn


def _check_run(key, model, params, x0, num_years, num_reps):
    """The arguments `simulate` and `simulate_tables` share, validated (errors name them)."""
    key = validate.key("key", key)
    model = _model(model)
    params = _params(model, params)
    x0 = validate.positive_float("x0", x0)
    num_years = validate.positive_int("num_years", num_years)
    num_reps = validate.positive_int("num_reps", num_reps)
    return key, model, params, x0, num_years, num_reps


def simulate(
    key,
    model,
    params: dict,
    x0,
    policy,
    num_years: int,
    num_reps: int,
    *,
    x_grid=None,
    policy_kind: str = "harvest",
) -> Trajectories:
    """Forward simulation of harvested stock under a policy.

    The noise draws depend only on `key`, so two policies simulated with the same key share
    their random numbers (as in the paper's evaluation).

    Args:
        key: JAX PRNG key.
        model: a `PopulationModel` or its name ("allen", "ricker", "myers", "beverton_holt").
        params: dict with the model's parameters and "sigma" (lognormal noise sd).
        x0: initial stock (> 0).
        policy: a function x -> target harvest, or a table over `x_grid` read at the nearest
            grid point: target harvests (`policy_kind="harvest"`) or escapements
            (`policy_kind="escapement"`, harvest max(x - S(x), 0)).
        num_years: years per run (stock recorded at years 0..num_years-1).
        num_reps: independent runs.
        x_grid: (S,) state grid, required for a table policy.
        policy_kind: "harvest" or "escapement" (tables only).

    Returns:
        `Trajectories` (stock, harvest), each (num_reps, num_years).

    Examples:
        >>> policy = lambda x: 0.5 * x  # target harvest at stock x
        >>> traj = gpdp.simulate(jax.random.key(0), "allen", gpdp.TRUTH, 6.0, policy, 10, 3)
        >>> traj.stock.shape, traj.harvest.shape  # (num_reps, num_years)
        ((3, 10), (3, 10))
    """
    key, model, params, x0, num_years, num_reps = _check_run(
        key, model, params, x0, num_years, num_reps
    )
    fn = _policy_fn(policy, x_grid, policy_kind)
    dtype = jnp.result_type(float)
    z = jnp.exp(params["sigma"] * jax.random.normal(key, (num_years, num_reps), dtype))

    def step(x, zt):
        h = jnp.clip(jax.vmap(fn)(x), 0.0, x)
        s = jnp.maximum(x - h, 0.0)
        return zt * model.growth(s, params), (x, h)

    _, (xs, hs) = jax.lax.scan(step, jnp.full((num_reps,), x0, dtype), z)
    return Trajectories(xs.T, hs.T)


def training_data(key, model, params, x0, num_steps, *, harvest=None) -> np.ndarray:
    """(num_steps, 2) pairs (x_t, x_{t+1}) of one run (unharvested unless `harvest` is given).

    Examples:
        >>> data = gpdp.training_data(jax.random.key(0), "allen", gpdp.TRUTH, 5.5, 10)
        >>> data.shape  # (num_steps, 2) pairs (x_t, x_{t+1})
        (10, 2)
    """
    pol = harvest if harvest is not None else (lambda x: 0.0 * x)
    tr = simulate(key, model, params, x0, pol, num_steps + 1, 1)
    xs = np.asarray(tr.stock[0])
    return np.stack([xs[:-1], xs[1:]], axis=1)


def npv(traj: Trajectories, discount: float = 1.0) -> Array:
    """(..., num_reps) net present value sum_t discount^t harvest_t (undiscounted by default).

    Leading axes (e.g. the policies of `simulate_tables`, `(P, num_reps, num_years)`) are kept.

    Examples:
        >>> traj = gpdp.Trajectories(stock=jnp.ones((2, 3)), harvest=jnp.ones((2, 3)))
        >>> gpdp.npv(traj, discount=0.5).tolist()  # (num_reps,): 1 + 0.5 + 0.25
        [1.75, 1.75]
    """
    discount = validate.probability("discount", discount, open_low=True)
    w = discount ** jnp.arange(traj.harvest.shape[-1])
    return traj.harvest @ w.astype(traj.harvest.dtype)


def crashes(traj: Trajectories, threshold: float = 0.05) -> Array:
    """(...) number of runs whose stock falls below `threshold` at some year.

    Leading axes (e.g. the policies of `simulate_tables`) are kept: one count per policy.

    Examples:
        >>> stock = jnp.array([[5.0, 0.01], [5.0, 4.0]])  # (num_reps, num_years)
        >>> traj = gpdp.Trajectories(stock=stock, harvest=jnp.zeros((2, 2)))
        >>> int(gpdp.crashes(traj))  # runs whose stock drops below 0.05
        1
    """
    threshold = validate.positive_float("threshold", threshold)
    return jnp.sum(jnp.any(traj.stock < threshold, axis=-1), axis=-1)


@functools.partial(jax.jit, static_argnames=("growth", "num_years", "num_reps", "sharding"))
def _simulate_tables_impl(
    key, growth, params, x0, tables, x_grid, num_years, num_reps, z, sharding=None
):  # fmt: skip
    if z is None:
        z = jnp.exp(params["sigma"] * jax.random.normal(key, (num_years, num_reps), x_grid.dtype))
    z = sharding_mod.constrain(z, sharding, axis=1)  # runs are independent: no communication

    def one(table):
        def step(x, zt):
            i = jnp.argmin(jnp.abs(x_grid[None, :] - x[:, None]), axis=1)
            h = jnp.clip(table[i], 0.0, x)
            return zt * growth(jnp.maximum(x - h, 0.0), params), (x, h)

        x = sharding_mod.constrain(jnp.full((num_reps,), x0, x_grid.dtype), sharding)
        _, (xs, hs) = jax.lax.scan(step, x, z)
        return xs.T, hs.T

    return jax.vmap(one)(tables)


def simulate_tables(
    key, model, params: dict, x0, tables, x_grid, num_years: int, num_reps: int, *, noise=None,
    sharding=None,
) -> Trajectories:  # fmt: skip
    """`simulate` for P harvest tables at once (one compiled call, shared random numbers).

    Args:
        tables: (P, S) target harvests over `x_grid`, read at the nearest grid point.
        noise: optional (num_years, num_reps) positive growth multipliers Z_t to use instead of
            lognormal draws from `key` (e.g. the authors' R random numbers, `rrng.r_rlnorm`).
        sharding: split the runs (num_reps) over devices: a `NamedSharding`
            (`probkit.core.sharding.batch_sharding`) or a `Mesh`; same trajectories as unsharded.

    The other arguments are as in `simulate`.

    Returns:
        `Trajectories` with stock and harvest of shape (P, num_reps, num_years).

    Examples:
        >>> x_grid = jnp.linspace(0.0, 15.0, 16)
        >>> tables = jnp.stack([jnp.zeros(16), 0.5 * x_grid])  # P = 2 harvest tables (P, S)
        >>> key = jax.random.key(0)
        >>> traj = gpdp.simulate_tables(key, "allen", gpdp.TRUTH, 6.0, tables, x_grid, 10, 3)
        >>> traj.stock.shape  # (P, num_reps, num_years)
        (2, 3, 10)
    """
    key, model, params, x0, num_years, num_reps = _check_run(
        key, model, params, x0, num_years, num_reps
    )
    x_grid = validate.finite("x_grid", x_grid)
    tables = validate.finite("tables", tables)
    if tables.ndim != 2 or tables.shape[1] != x_grid.shape[0]:
        raise ValueError(f"tables must have shape (P, {x_grid.shape[0]}), got {tables.shape}")
    dtype = jnp.result_type(float)
    p = {k: jnp.asarray(v, dtype) for k, v in params.items()}
    if noise is not None:
        noise = validate.finite("noise", noise)
        if noise.shape != (num_years, num_reps) or bool((noise <= 0).any()):
            raise ValueError(f"noise must be positive with shape {(num_years, num_reps)}")
        noise = noise.astype(dtype)
    xs, hs = _simulate_tables_impl(
        key,
        model.growth,
        p,
        jnp.asarray(x0, dtype),
        tables.astype(dtype),
        x_grid.astype(dtype),
        num_years,
        num_reps,
        noise,
        sharding_mod.resolve(sharding),
    )
    return Trajectories(xs, hs)
