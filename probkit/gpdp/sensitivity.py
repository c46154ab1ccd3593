"""The paper's sensitivity sweeps (supplement figure S2): GPDP's NPV relative to the true model's
policy as the Allee threshold C and the noise sigma vary, over replicate training sets.

Paper mode replays `sensitivity_trends` (manuscripts/components/sensitivity-trends.R): training
data from R's `set.seed(seed)` (x_1 = 5.5, 40 points plus the (0, 0) pseudo-datum), the GP in
paper mode, the true model's paper tensor, 999 sweeps, and 100 runs of 50 years from x0 = 10 with
R's `set.seed(1)` noise. As coded, the noise of the training data and of the runs stays at the
global sigma_g = 0.05 whatever sigma is swept (`z_g` closes over the global); sigma only enters
the true model's tensor. Corrected mode uses sigma everywhere, corrected kernels, discounting.
"""

import jax
import jax.numpy as jnp
import numpy as np

from probkit.core import validate
from probkit.gpdp.gp import MODES, fit_gp, gp_transition_tensor
from probkit.gpdp.models import npv, simulate_tables
from probkit.gpdp.paper import TRUTH, parametric_transition_tensor
from probkit.gpdp.rrng import r_rlnorm
from probkit.gpdp.sdp import solve_sdp_batch

__all__ = ["ARCHIVED_SENSITIVITY", "paper_training_data", "sensitivity"]

# Mean GP/True NPV ratio per (C, sigma), recomputed from figureS2a.csv and figureS2b.csv.
ARCHIVED_SENSITIVITY = {
    (4.0, 0.01): 0.9831,
    (4.0, 0.05): 0.9870,
    (4.0, 0.1): 0.9870,
    (1.0, 0.05): 0.9840,
    (2.0, 0.05): 1.0011,
    (3.0, 0.05): 0.9920,
    (5.0, 0.05): 0.9592,
}
"""Mean GP/true NPV ratio per (C, sigma), from the archived data."""


def paper_training_data(seed: int, params=None, *, x1=5.5, num_obs=40, sigma=0.05) -> np.ndarray:
    """(num_obs, 2) training pairs as the authors' R code draws them after `set.seed(seed)`.

    Row 0 is the (0, 0) pseudo-datum, then the pairs (x_t, x_{t+1}) of an unharvested Allen
    run from `x1` with noise rlnorm(1, 0, sigma) per step. `paper_training_data(1234)` is the
    archived training set (`load_training_data()`).

    Examples:
        >>> data = gpdp.paper_training_data(1234)
        >>> data.shape, bool(np.allclose(data, gpdp.load_training_data()))  # the archived set
        ((40, 2), True)
    """
    p = dict(TRUTH if params is None else params)
    z = r_rlnorm(seed, num_obs - 1, sigma)
    x = np.empty(num_obs)
    x[0] = x1
    for t in range(num_obs - 1):
        s = x[t]  # the Allen map in float64 (R's RickerAllee)
        x[t + 1] = z[t] * s * np.exp(p["r"] * (1 - s / p["K"]) * (s - p["C"]) / p["K"])
    pairs = np.stack([np.maximum(x[:-1], 0.0), x[1:]], 1)
    return np.concatenate([np.zeros((1, 2)), pairs])


def sensitivity(
    key,
    allee=(1.0, 2.0, 3.0, 4.0, 5.0),
    sigma=(0.01, 0.05, 0.1),
    *,
    seeds=(111, 222, 333),
    mode: str = "paper",
    allee_for_sigma: float = 4.0,
    sigma_for_allee: float = 0.05,
    num_reps: int = 100,
    num_years: int = 50,
    x0: float = 10.0,
    num_warmup: int = 300,
    num_samples: int = 150,
    num_chains: int = 2,
    horizon: int = 999,
    discount: float = 0.99,
) -> dict:
    """GP/True NPV ratios for sigma in `sigma` at C = `allee_for_sigma` and C in `allee` at
    sigma = `sigma_for_allee` (as in figure S2), one GP fit per training set.

    Returns:
        {(C, sigma): {"mean": mean ratio over seeds and runs, "per_seed": (len(seeds),) means}}.

    Examples:
        Not run by the doctest suite (a GP fit by NUTS and an SDP solve per training set).

        >>> out = gpdp.sensitivity(
        ...     jax.random.key(0), allee=(4.0,), sigma=(0.05,), seeds=(111,), num_reps=4,
        ...     num_years=5, num_warmup=20, num_samples=10, horizon=10,
        ... )  # doctest: +SKIP
        >>> list(out), out[(4.0, 0.05)]["per_seed"].shape  # doctest: +SKIP
        ([(4.0, 0.05)], (1,))
    """
    key = validate.key("key", key)
    validate.one_of("mode", mode, MODES)
    if not seeds:
        raise ValueError("seeds must name at least one training set")
    for c in allee:
        validate.positive_float("allee", c)
    for s in sigma:
        validate.positive_float("sigma", s)
    discount = validate.probability("discount", discount, open_low=True)
    cases = [(float(allee_for_sigma), float(s)) for s in sigma]
    cases += [
        (float(c), float(sigma_for_allee)) for c in allee if (c, sigma_for_allee) not in cases
    ]
    cases = list(dict.fromkeys(cases))
    k_fit, k_sim = jax.random.split(key)
    x_grid = jnp.linspace(0.0, 15.0, 50)
    reward = jnp.minimum(x_grid[None, :], x_grid[:, None])
    gp_tensors = {}
    out = {}
    for case_i, (c, s) in enumerate(cases):
        params = {"r": TRUTH["r"], "K": TRUTH["K"], "C": c, "sigma": s}
        noise_sd = TRUTH["sigma"] if mode == "paper" else s
        F_true = parametric_transition_tensor("allen", params, x_grid, mode=mode)
        ratios = []
        for seed_i, seed in enumerate(seeds):
            fit_key = (c, seed) if mode == "paper" else (c, s, seed)
            if fit_key not in gp_tensors:
                data = paper_training_data(seed, params, sigma=noise_sd)
                post = fit_gp(
                    jax.random.fold_in(k_fit, 1000 * case_i + seed_i),
                    data,
                    mode=mode,
                    num_warmup=num_warmup,
                    num_samples=num_samples,
                    num_chains=num_chains,
                )
                gp_tensors[fit_key] = gp_transition_tensor(post, x_grid, mode=mode)
            Fs = jnp.stack([F_true, gp_tensors[fit_key]])
            if mode == "paper":
                sol = solve_sdp_batch(Fs, discount * reward, 1.0, horizon=horizon)
                z = r_rlnorm(1, num_reps * (num_years - 1), noise_sd)
                z = np.concatenate([z.reshape(num_reps, num_years - 1).T, np.ones((1, num_reps))])
                noise = jnp.asarray(z)
            else:
                sol = solve_sdp_batch(Fs, reward, discount)
                noise = None
            tr = simulate_tables(
                k_sim,
                "allen",
                params | {"sigma": noise_sd},
                x0,
                x_grid[sol.policy],
                x_grid,
                num_years,
                num_reps,
                noise=noise,
            )
            booked = tr.harvest[..., : num_years - 1] if mode == "paper" else tr.harvest
            values = jax.vmap(lambda h, tr=tr: npv(tr._replace(harvest=h)))(booked)
            ratios.append(float(jnp.mean(values[1] / values[0])))
        out[(c, s)] = {"mean": float(np.mean(ratios)), "per_seed": np.array(ratios)}
    return out
