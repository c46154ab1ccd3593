"""gpdp.select_models: criteria against closed forms (Ricker's maximum likelihood is ordinary
least squares on log(y/x)), WAIC and DIC against their definitions, and the decisions."""

import jax
import numpy as np
import pytest
from scipy.special import logsumexp

from probkit import gpdp


@pytest.fixture(scope="module")
def ricker_case():
    with jax.enable_x64(True):
        truth = {"r": 1.0, "K": 8.0, "sigma": 0.05}
        data = gpdp.training_data(jax.random.key(0), "ricker", truth, 1.0, 40)
        rng = np.random.default_rng(0)
        D = 400
        draws = {
            "ricker": {
                "r": 1.0 + 0.02 * rng.standard_normal(D),
                "K": 8.0 + 0.05 * rng.standard_normal(D),
                "sigma": 0.05 * np.exp(0.1 * rng.standard_normal(D)),
            },
            "allen": {
                "r": 2.0 + 0.02 * rng.standard_normal(D),
                "K": 8.0 + 0.05 * rng.standard_normal(D),
                "C": 0.5 + 0.02 * rng.standard_normal(D),
                "sigma": 0.3 * np.exp(0.1 * rng.standard_normal(D)),
            },
        }
        sel = gpdp.select_models(jax.random.key(1), data, ("ricker", "allen"), draws=draws)
        yield data, draws, sel


def test_criteria_match_closed_forms(ricker_case, x64):
    data, draws, sel = ricker_case
    x, y = data[:, 0], data[:, 1]
    n = len(x)
    # Ricker: log(y/x) = r - (r/K) x + eps, so the MLE is OLS and sigma^2 = RSS / n
    A = np.stack([np.ones(n), x], 1)
    _, rss, *_ = np.linalg.lstsq(A, np.log(y / x), rcond=None)
    s2 = rss[0] / n
    lmax = -np.log(y).sum() - 0.5 * n * np.log(2 * np.pi * s2) - 0.5 * n
    row = sel.table["ricker"]
    np.testing.assert_allclose(row["max_log_lik"], lmax, rtol=1e-7)
    np.testing.assert_allclose(row["aic"], -2 * lmax + 6, rtol=1e-7)
    np.testing.assert_allclose(row["bic"], -2 * lmax + 3 * np.log(n), rtol=1e-7)
    ll = np.asarray(gpdp.pointwise_log_likelihood("ricker", draws["ricker"], x, y))
    lppd = (logsumexp(ll, axis=0) - np.log(ll.shape[0])).sum()
    p_waic = ll.var(axis=0).sum()  # ArviZ's variance has ddof=0
    np.testing.assert_allclose(row["waic"], -2 * (lppd - p_waic), rtol=1e-9)
    mean_p = {k: np.mean(v) for k, v in draws["ricker"].items()}
    d_bar = -2 * ll.sum(1).mean()
    d_hat = -2 * float(np.asarray(gpdp.pointwise_log_likelihood("ricker", mean_p, x, y)).sum())
    np.testing.assert_allclose(row["dic"], 2 * d_bar - d_hat, rtol=1e-9)
    # PSIS-LOO sits at or above WAIC's lppd-based estimate only up to Monte Carlo noise
    assert abs(row["loo"] - row["waic"]) < 2.0


def test_every_criterion_picks_the_generating_model(ricker_case):
    _, _, sel = ricker_case
    for c in ("aic", "bic", "dic", "waic", "loo"):
        assert sel.choice[c] == "ricker", c
    # the published tables' sign error (+2 log-lik as the deviance) picks the worse fit
    assert sel.choice["aic_paper"] == sel.choice["bic_paper"] == "allen"
    row = sel.table["ricker"]
    np.testing.assert_allclose(row["aic_paper"], 2 * row["max_log_lik"] + 6, rtol=1e-12)


def test_select_models_bad_input():
    data = gpdp.load_training_data()
    with pytest.raises(ValueError, match="models"):
        gpdp.select_models(jax.random.key(0), data, ("allen", "gompertz"))
    with pytest.raises(ValueError, match="models"):
        gpdp.select_models(jax.random.key(0), data, ())
    bad = data.copy()
    bad[5, 0] = np.nan
    with pytest.raises(ValueError, match="data"):
        gpdp.select_models(jax.random.key(0), bad)
