"""Tests for analysis.shrinkage (rat tumour data, BDA3 §5.1-5.3) and analysis.fay_herriot (metafor)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from analysis import shrinkage
from analysis.fay_herriot import fay_herriot_table, fit_fay_herriot
from analysis.shrinkage import BetaPrior, fit_beta_prior, league_table, rank_intervals

# Tarone (1982) rat tumour data, as printed in Gelman et al. (2013) *Bayesian Data Analysis*, 3rd ed.,
# Table 5.1: tumours y_j out of n_j rats in 70 historical experiments plus the current one (4/14).
RAT_Y = np.array(
    [0] * 14 + [1] * 8 + [2] * 9
    + [1, 5, 2, 5, 3, 2, 7, 7, 3, 3, 2, 9, 10, 4, 4, 4, 4, 4, 4, 4, 10, 4, 4, 4, 5, 11, 12,
       5, 5, 6, 5, 6, 6, 6, 6, 16, 15, 15, 9, 4]
)
RAT_N = np.array(
    [20, 20, 20, 20, 20, 20, 20, 19, 19, 19, 19, 18, 18, 17, 20, 20, 20, 20, 19, 19, 18, 18, 25, 24,
     23, 20, 20, 20, 20, 20, 20, 10, 49, 19, 46, 27, 17, 49, 47, 20, 20, 13, 48, 50, 20, 20, 20, 20,
     20, 20, 20, 48, 19, 19, 19, 22, 46, 49, 20, 20, 23, 19, 22, 20, 20, 20, 52, 46, 47, 24, 14]
)


def _grid_mle(y: np.ndarray, n: np.ndarray, centre: tuple[float, float], half: float, points: int):  # type: ignore[no-untyped-def]
    """Grid search of the beta-binomial likelihood through scipy.stats.betabinom (independent code)."""
    logit_mu = np.linspace(centre[0] - half, centre[0] + half, points)
    log_m = np.linspace(centre[1] - half, centre[1] + half, points)
    grid_mu, grid_m = np.meshgrid(special.expit(logit_mu), np.exp(log_m), indexing="ij")
    a, b = (grid_mu * grid_m)[..., None], ((1 - grid_mu) * grid_m)[..., None]
    loglik = stats.betabinom.logpmf(y, n, a, b).sum(axis=-1)
    i, j = np.unravel_index(np.argmax(loglik), loglik.shape)
    return logit_mu[i], log_m[j], loglik.max()


def test_rat_data_shape() -> None:
    assert RAT_Y.size == RAT_N.size == 71
    assert (RAT_Y[-1], RAT_N[-1]) == (4, 14)
    assert RAT_Y.sum() == 267 and RAT_N.sum() == 1739


def test_beta_binomial_mle_matches_a_grid_search_on_the_rat_data() -> None:
    prior = fit_beta_prior(RAT_Y, RAT_N)
    assert not prior.at_bound
    # coarse grid over (logit mean, log concentration), then a fine one around its best point
    coarse = _grid_mle(RAT_Y, RAT_N, (-1.8, 2.8), 1.5, 61)
    fine_mu, fine_m, fine_loglik = _grid_mle(RAT_Y, RAT_N, coarse[:2], 0.05, 101)
    assert special.logit(prior.mean) == pytest.approx(fine_mu, abs=1e-3)
    assert np.log(prior.concentration) == pytest.approx(fine_m, abs=1e-3)
    # same likelihood up to the binomial coefficients, and the optimiser is not beaten by the grid
    log_binom = np.sum(
        special.gammaln(RAT_N + 1) - special.gammaln(RAT_Y + 1) - special.gammaln(RAT_N - RAT_Y + 1)
    )
    assert prior.loglik + log_binom >= fine_loglik - 1e-9
    # the fitted prior is near BDA3's moment estimate Beta(1.4, 8.6) in mean (0.14), tighter in spread
    assert prior.mean == pytest.approx(0.142, abs=0.002)
    assert (prior.a, prior.b) == pytest.approx((2.34, 14.11), abs=0.01)


def test_posterior_of_the_current_experiment() -> None:
    result = league_table(np.arange(71), RAT_Y / RAT_N, RAT_N, higher_is_better=False)
    prior = result.prior
    current = result.table.set_index("unit").loc[70]
    # conjugate update by hand: Beta(a + 4, b + 10)
    a, b = prior.a + 4, prior.b + 10
    assert current["shrunk"] == pytest.approx(a / (a + b), rel=1e-12)
    assert current["shrunk_lo"] == pytest.approx(stats.beta.ppf(0.025, a, b), rel=1e-12)
    # 4/14 = 0.286 is pulled towards the prior mean 0.142
    assert prior.mean < current["shrunk"] < 4 / 14


def test_small_units_are_shrunk_more_and_do_not_top_the_table() -> None:
    # 30 units with true share 0.85; one tiny unit with 5/5 satisfied and a big one with 0.93
    rng = np.random.default_rng(1)
    n = np.full(30, 120.0)
    est = rng.binomial(120, 0.85, size=30) / 120
    units = [f"xã {i}" for i in range(30)] + ["tiny", "big"]
    est = np.append(est, [1.0, 0.93])
    n = np.append(n, [5.0, 400.0])
    table = league_table(units, est, n).table
    assert table.iloc[0]["unit"] == "big"
    tiny = table.set_index("unit").loc["tiny"]
    assert tiny["shrunk"] < 0.93
    assert tiny["rank_hi"] - tiny["rank_lo"] > 10  # its rank is very uncertain
    assert list(table.columns) == [
        "unit", "n", "n_eff", "est", "shrunk", "shrunk_lo", "shrunk_hi", "rank", "rank_lo", "rank_hi"
    ]
    assert table["shrunk"].is_monotonic_decreasing


def test_no_spread_between_units_pools_to_the_mean() -> None:
    # identical shares everywhere: the MLE concentration runs to its bound, shrunk = common mean
    result = league_table(["a", "b", "c", "d"], [0.8] * 4, [50, 60, 70, 80])
    assert result.prior.at_bound
    np.testing.assert_allclose(result.table["shrunk"], 0.8, atol=1e-4)


def test_effective_sizes_change_the_amount_of_shrinkage() -> None:
    est = [0.95, 0.80, 0.85, 0.70, 0.90]
    plain = league_table(list("abcde"), est, [40] * 5).table.set_index("unit")
    weighted = league_table(list("abcde"), est, [40] * 5, n_eff=[40, 40, 40, 40, 10]).table.set_index("unit")
    assert weighted.loc["e", "n_eff"] == 10
    assert abs(weighted.loc["e", "shrunk"] - 0.9) > abs(plain.loc["e", "shrunk"] - 0.9)


def test_rank_intervals_by_hand() -> None:
    # unit 0 always best, unit 2 always worst, unit 1 always in the middle
    draws = np.array([[0.9, 0.95, 0.99], [0.5, 0.6, 0.7], [0.1, 0.2, 0.3]])
    median, lo, hi = rank_intervals(draws)
    assert median.tolist() == [1.0, 2.0, 3.0]
    assert lo.tolist() == [1.0, 2.0, 3.0] and hi.tolist() == [1.0, 2.0, 3.0]
    median_low, _, _ = rank_intervals(draws, higher_is_better=False)
    assert median_low.tolist() == [3.0, 2.0, 1.0]


def test_tied_draws_get_average_ranks_and_untied_ones_those_of_rankdata() -> None:
    # draw 0: units 1 and 2 tie for second place (2.5 each); draw 1: no tie
    tied = np.array([[0.9, 0.8], [0.5, 0.6], [0.5, 0.7]])
    median, lo, hi = rank_intervals(tied, level=0.5)
    assert median.tolist() == [1.0, 2.75, 2.25]  # mean of (2.5, 3) and (2.5, 2)
    # linear quantiles at 0.25 and 0.75 of (2.5, 3) and (2, 2.5)
    assert lo.tolist() == [1.0, 2.625, 2.125] and hi.tolist() == [1.0, 2.875, 2.375]
    # the fast path (no ties) against scipy's rankdata on 300 units x 500 draws, figure for figure
    draws = np.random.default_rng(4).beta(20.0, 5.0, size=(300, 500))
    ranks = stats.rankdata(-draws, axis=0, method="average")
    tail = (1 - 0.90) / 2  # the default level, computed as rank_intervals does
    expected = (np.median(ranks, axis=1), *np.quantile(ranks, [tail, 1 - tail], axis=1))
    for ours, theirs in zip(rank_intervals(draws), expected, strict=True):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("max_places", [10, 2000])  # 57 units: the ranks' own quantiles, then the places'
@pytest.mark.parametrize("level", [0.90, 0.5, 0.999])
def test_rank_quantiles_from_the_places_equal_those_of_the_ranks(monkeypatch: pytest.MonkeyPatch,
                                                                  level: float, max_places: int) -> None:
    monkeypatch.setattr(shrinkage, "_MAX_PLACES", max_places)
    draws = np.random.default_rng(7).beta(30.0, 6.0, size=(57, 2000))
    ranks = stats.rankdata(-draws, axis=0, method="average")
    tail = (1 - level) / 2
    expected = (np.median(ranks, axis=1), *np.quantile(ranks, [tail, 1 - tail], axis=1))
    for ours, theirs in zip(rank_intervals(draws, level=level), expected, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_seeded_tables_are_reproducible() -> None:
    args = (list("abcd"), [0.7, 0.8, 0.9, 0.85], [20, 30, 40, 50])
    assert league_table(*args).table.equals(league_table(*args).table)


@pytest.mark.parametrize(
    ("est", "n", "message"),
    [
        ([0.5, 0.6], [10, 10], "at least 3 units"),
        ([0.5, 1.2, 0.3], [10, 10, 10], r"\[0, 1\]"),
        ([0.5, 0.6, 0.3], [10, 0, 10], "size > 0"),
    ],
)
def test_bad_inputs(est: list[float], n: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        league_table([f"u{i}" for i in range(len(est))], est, n)


def test_prior_properties() -> None:
    prior = BetaPrior(a=2.0, b=6.0, loglik=0.0, at_bound=False)
    assert (prior.mean, prior.concentration) == (0.25, 8.0)


# ---------------------------------------------------------------- Fay–Herriot (logit scale)

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def fh_reference() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Units and metafor 4.x results from tests/analysis/r/shrinkage_reference.R."""
    units = pd.read_csv(DATA / "shrinkage_reference.csv")
    fits = pd.read_csv(DATA / "shrinkage_reference_fit.csv").set_index("method")
    return units, fits


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_fay_herriot_matches_metafor(fh_reference: tuple[pd.DataFrame, pd.DataFrame], method: str) -> None:
    units, fits = fh_reference
    fit = fit_fay_herriot(units["yi"], units["vi"], method=method)  # type: ignore[arg-type]
    # metafor::rma(yi, vi, method = method): tau² = A, beta = mu
    assert fit.variance == pytest.approx(fits.loc[method, "tau2"], abs=1e-7)
    assert fit.beta == pytest.approx(fits.loc[method, "mu"], abs=1e-7)
    assert fit.beta_se == pytest.approx(fits.loc[method, "mu_se"], abs=1e-7)
    result = fay_herriot_table(units["unit"], units["est"], units["se"], units["n"], method=method)  # type: ignore[arg-type]
    table = result.table.set_index("unit").loc[units["unit"]]
    theta = special.logit(table["shrunk"].to_numpy())
    # metafor::blup(fit): pred and se (= √(g1 + g2))
    np.testing.assert_allclose(theta, units[f"blup_{method}"], atol=1e-7)
    half = (special.logit(table["shrunk_hi"].to_numpy()) - theta) / stats.norm.ppf(0.975)
    np.testing.assert_allclose(half, units[f"blup_se_{method}"], atol=1e-7)


def test_fay_herriot_balanced_case_has_a_closed_form() -> None:
    # equal direct variances D: REML gives A = s²_y - D (divisor m - 1), ML gives Σ(y - ȳ)²/m - D
    # (Rao & Molina 2015, section 6.1.2), whenever those are positive
    y = np.array([1.2, 1.9, 2.4, 1.5, 2.8, 1.1])
    d = np.full(6, 0.05)
    assert fit_fay_herriot(y, d).variance == pytest.approx(y.var(ddof=1) - 0.05, rel=1e-7)
    assert fit_fay_herriot(y, d, method="ML").variance == pytest.approx(y.var(ddof=0) - 0.05, rel=1e-7)
    # no spread beyond the sampling noise: A = 0 and every unit gets the pooled mean
    flat = fit_fay_herriot(np.array([1.0, 1.01, 0.99, 1.0]), np.full(4, 0.5))
    assert flat.variance == 0.0
    assert flat.beta == pytest.approx(1.0)


def test_fay_herriot_refuses_units_at_zero_or_one_hundred_percent() -> None:
    with pytest.raises(ValueError, match="beta-binomial"):
        fay_herriot_table(list("abc"), [0.9, 1.0, 0.8], [0.05, 0.0, 0.04], [30, 10, 40])
