"""The display default: Wilson on min(design n_eff, a Kish floor), by hand, against statsmodels, in tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from analysis.intervals import (
    IntervalMethod,
    proportion_interval,
    wilson_conservative_interval,
    wilson_interval,
)
from analysis.tables import compute_indices
from analysis.verdicts import p_values, verdicts
from instruments.index import IndexDefinition


def _wilson_by_hand(p: float, n: float, t: float) -> tuple[float, float]:
    # Wilson (1927) with quantile t: centre (p + t^2/2n)/(1 + t^2/n),
    # half-width t sqrt(p(1-p)/n + t^2/4n^2)/(1 + t^2/n).
    centre = (p + t * t / (2 * n)) / (1 + t * t / n)
    half = t * np.sqrt(p * (1 - p) / n + t * t / (4 * n * n)) / (1 + t * t / n)
    return centre - half, centre + half


def test_indices_without_a_method_show_the_kish_floored_wilson_interval() -> None:
    # The sample of test_weighted_sample_where_the_design_variance_is_small below, where the two
    # displays differ: Wilson on Kish's n_eff (0.51684884, 0.99370996) is what a table shows when the
    # caller names no method; R's wilson on the design n_eff would be (0.60724581, 0.99093429).
    data = pd.DataFrame({"unit": "u", "w": [1.0] * 8 + [3.0] * 2, "q1": [2] + [5] * 9})
    table = compute_indices(data, IndexDefinition.from_mapping([("q1", "e1")]), unit_col="unit",
                            weight_col="w", min_n=0)
    row = table[(table["domain"] == "u") & (table["stat_type"] == "criterion")].iloc[0]
    assert (row["ci_lo"], row["ci_hi"]) == pytest.approx((0.516848836019688, 0.9937099593763786), abs=1e-12)


def test_kish_smaller_than_design_gives_wilson_on_kish_by_hand() -> None:
    # p = 0.9, se = 0.03 -> design n_eff = 0.09 / 0.0009 = 100; Kish n_eff = 50 is smaller, so n = 50.
    # df = 49: t = qt(0.975, 49) = 2.0095752371292392 (R), t^2 = 4.03839263, t^2/n = 0.08076785;
    # centre = (0.9 + 0.04038393) / 1.08076785 = 0.87010723, half = 2.00957524 * sqrt(0.0018 + 0.00040384)
    # / 1.08076785 = 0.08728946 -> (0.78281777, 0.95739669).
    lo, hi = wilson_conservative_interval(np.array([0.9]), np.array([0.03]), np.array([49.0]),
                                          np.array([50.0]))
    assert (lo[0], hi[0]) == pytest.approx((0.7828177727658592, 0.9573966942178853), abs=1e-12)
    assert (lo[0], hi[0]) == pytest.approx(_wilson_by_hand(0.9, 50, 2.0095752371292392), abs=1e-14)


def test_kish_case_with_normal_quantile_equals_statsmodels_wilson() -> None:
    # df = Inf gives the normal quantile; 45 of 50 (Kish n_eff 50 < design n_eff 100) is then the
    # textbook Wilson interval: statsmodels.stats.proportion.proportion_confint(45, 50, method="wilson")
    # = (0.78639769, 0.95652424), an independent implementation.
    lo, hi = wilson_conservative_interval(np.array([0.9]), np.array([0.03]), np.array([np.inf]),
                                          np.array([50.0]))
    expected = proportion_confint(45, 50, alpha=0.05, method="wilson")
    assert (lo[0], hi[0]) == pytest.approx(expected, abs=1e-12)


def test_design_smaller_than_kish_gives_exactly_r_wilson() -> None:
    # p = 0.8, se = 0.04 -> design n_eff = 100 < Kish 150: bit-for-bit `wilson` (R's svyciprop wilson);
    # with df = 20 (t = 2.0859634472658644) that is the hand value of test_intervals.py.
    args = (np.array([0.8]), np.array([0.04]), np.array([20.0]))
    lo, hi = wilson_conservative_interval(*args, np.array([150.0]))
    r_lo, r_hi = wilson_interval(*args)
    assert lo[0] == r_lo[0] and hi[0] == r_hi[0]
    assert (lo[0], hi[0]) == pytest.approx(_wilson_by_hand(0.8, 100, 2.0859634472658644), abs=1e-14)


def _one_unit(weights: list[float], codes: list[int], method: IntervalMethod) -> pd.Series:
    data = pd.DataFrame({"unit": "u", "w": weights, "q1": codes})
    table = compute_indices(data, IndexDefinition.from_mapping([("q1", "e1")]), unit_col="unit",
                            weight_col="w", min_n=0, ci_method=method, all_intervals=True)
    return table[(table["domain"] == "u") & (table["stat_type"] == "criterion")].iloc[0]


def test_weighted_sample_where_the_design_variance_is_small() -> None:
    # 10 respondents, weights 1 (x8) and 3 (x2), one weight-1 respondent dissatisfied (code 2):
    # sum w = 14, p = 13/14, Kish n_eff = 14^2 / (8 + 18) = 7.5384615. Default design (each respondent
    # a PSU, with replacement): z_i = w_i (y_i - p) / 14, se^2 = 10/9 * sum z_i^2
    # = 10/9 * (7 (1/14)^2 + (13/14)^2 + 2 * 9 (1/14)^2) / 14^2 = 10/9 * 194 / 14^4 = 0.00561109,
    # design n_eff = (13/196) / se^2 = 11.8206186 > Kish. df = 10 - 1 = 9, t = qt(0.975, 9) = 2.262157163.
    # Wilson on Kish: (0.51684884, 0.99370996); R's wilson (design n_eff) would be (0.60724581, 0.99093429).
    row = _one_unit([1.0] * 8 + [3.0] * 2, [2] + [5] * 9, "wilson_conservative")
    assert row["est"] == pytest.approx(13 / 14, abs=1e-15)
    assert row["n_eff"] == pytest.approx(196 / 26, abs=1e-12)
    assert row["se"] ** 2 == pytest.approx(10 / 9 * 194 / 14**4, rel=1e-12)
    assert row["method"] == "wilson_conservative"
    assert (row["ci_lo"], row["ci_hi"]) == pytest.approx((0.516848836019688, 0.9937099593763786), abs=1e-12)
    r_wilson = (row["ci_wilson_lo"], row["ci_wilson_hi"])
    assert r_wilson == pytest.approx((0.6072458124481755, 0.9909342892920222), abs=1e-12)


def test_weighted_sample_where_the_design_variance_is_large() -> None:
    # Same weights, one weight-3 respondent dissatisfied: p = 11/14, Kish n_eff = 7.5384615 as before;
    # se^2 = 10/9 * (8 (3/14)^2 + 9 (3/14)^2 + 9 (11/14)^2) / 14^2 = 10/9 * 1242 / 14^4 = 0.03592253,
    # design n_eff = (33/196) / se^2 = 4.6869565 < Kish -> exactly R's wilson: (0.30474475, 0.96842699).
    row = _one_unit([1.0] * 8 + [3.0] * 2, [5] * 8 + [5, 2], "wilson_conservative")
    assert row["est"] == pytest.approx(11 / 14, abs=1e-15)
    assert row["se"] ** 2 == pytest.approx(10 / 9 * 1242 / 14**4, rel=1e-12)
    assert (row["ci_lo"], row["ci_hi"]) == (row["ci_wilson_lo"], row["ci_wilson_hi"])
    assert (row["ci_lo"], row["ci_hi"]) == pytest.approx((0.3047447521836831, 0.9684269902329363), abs=1e-12)


def _reference_tables(counters: pd.DataFrame, household: pd.DataFrame,
                      definition: IndexDefinition) -> pd.DataFrame:
    # Weighted counters (element sampling) and a clustered household design.
    tables = [
        compute_indices(counters, definition, unit_col="unit", weight_col="w", lonely_psu="adjust",
                        min_n=0, all_intervals=True),
        compute_indices(household, definition, unit_col="commune", weight_col="w", strata_col="district",
                        cluster_col="village", fpc_col="fpc", min_n=0, all_intervals=True),
    ]
    return pd.concat(tables, ignore_index=True)


def test_single_shares_pick_the_smaller_of_design_and_kish_row_by_row(
        counters: pd.DataFrame, household: pd.DataFrame, definition: IndexDefinition) -> None:
    # Every criterion, comprehensive and separate share: R's wilson where design n_eff <= the Kish
    # floor, Wilson on the floor elsewhere; both cases occur. The floor is Kish's n_eff (the table's
    # n_eff) without an fpc, and n_eff / (1 - f) with one (test_fpc_floor.py).
    table = _reference_tables(counters, household, definition)
    rows = table[(table["method"] == "wilson_conservative")
                 & table["stat_type"].isin(["criterion", "comprehensive", "separate"])]
    assert set(rows["stat_type"]) == {"criterion", "comprehensive", "separate"}
    p, se, kish = rows["est"].to_numpy(), rows["se"].to_numpy(), rows["n_eff_floor"].to_numpy()
    with np.errstate(divide="ignore"):
        design = p * (1 - p) / se**2  # se = 0 inside (0, 1) (e.g. one respondent): infinite, Kish is used
    by_design = design <= kish
    assert by_design.sum() > 10 and (~by_design).sum() > 10
    lo, hi = rows["ci_lo"].to_numpy(), rows["ci_hi"].to_numpy()
    np.testing.assert_array_equal(lo[by_design], rows["ci_wilson_lo"].to_numpy()[by_design])
    np.testing.assert_array_equal(hi[by_design], rows["ci_wilson_hi"].to_numpy()[by_design])
    kish_lo, kish_hi = wilson_interval(p, np.sqrt(p * (1 - p) / kish), rows["df"].to_numpy())
    np.testing.assert_allclose(lo[~by_design], kish_lo[~by_design], rtol=0, atol=1e-12)
    np.testing.assert_allclose(hi[~by_design], kish_hi[~by_design], rtol=0, atol=1e-12)


def test_composites_are_never_narrower_than_r_wilson_and_often_equal(
        counters: pd.DataFrame, household: pd.DataFrame, definition: IndexDefinition) -> None:
    # Element and overall indices: R's wilson where none of their criteria is floored, wider where
    # some are; both occur in the reference data.
    table = _reference_tables(counters, household, definition)
    rows = table[(table["method"] == "wilson_conservative")
                 & table["stat_type"].isin(["element", "overall_index"])]
    lo, hi = rows["ci_lo"].to_numpy(), rows["ci_hi"].to_numpy()
    r_lo, r_hi = rows["ci_wilson_lo"].to_numpy(), rows["ci_wilson_hi"].to_numpy()
    usable = np.isfinite(r_lo)
    assert (lo[usable] <= r_lo[usable] + 1e-15).all() and (hi[usable] >= r_hi[usable] - 1e-15).all()
    same = (lo == r_lo) & (hi == r_hi)
    assert same.sum() > 10 and (usable & ~same).sum() > 10


def test_unweighted_composites_get_exactly_r_wilson(counters: pd.DataFrame,
                                                    definition: IndexDefinition) -> None:
    # With equal weights, in a unit (one stratum) a criterion's design variance
    # n/(n-1) p(1-p)/m already exceeds its floor p(1-p)/m (m valid answers), so nothing is floored
    # and every element and overall index inside (0, 1) with a positive SE gets R's wilson bit for
    # bit: the floor must not widen the headline index of an unweighted survey (the old Kish floor on
    # the composite did, to ~100 % coverage). (Parent domains are stratified by unit; their design
    # variance may fall below the floor, and is floored like a criterion's.)
    table = compute_indices(counters, definition, unit_col="unit", lonely_psu="adjust", min_n=0,
                            all_intervals=True)
    rows = table[table["stat_type"].isin(["element", "overall_index"]) & (table["se"] > 0)
                 & (table["level"] == "unit")
                 & (table["est"] > 0) & (table["est"] < 1)]
    assert len(rows) > 20
    np.testing.assert_array_equal(rows["ci_lo"], rows["ci_wilson_lo"])
    np.testing.assert_array_equal(rows["ci_hi"], rows["ci_wilson_hi"])


def test_composite_floor_by_hand() -> None:
    # 12 respondents in one unit, weights 1 (x9) and 3 (x3); one element of two criteria. q1: one
    # weight-1 respondent dissatisfied (design variance small -> floored); q2: one weight-3 respondent
    # dissatisfied (design variance large -> kept). Default design: one stratum, every respondent a PSU,
    # with replacement: var = n/(n-1) sum z_i^2 with the linearized z_ik = w_i (s_ik - p_k) / sum w.
    w = np.array([1.0] * 9 + [3.0] * 3)
    s1 = np.array([0] + [1] * 11, dtype=float)
    s2 = np.array([1] * 11 + [0], dtype=float)
    n, total = len(w), w.sum()
    p1, p2 = (w @ s1) / total, (w @ s2) / total  # 17/18, 15/18
    z1, z2 = w * (s1 - p1) / total, w * (s2 - p2) / total
    var1, var2 = n / (n - 1) * (z1 @ z1), n / (n - 1) * (z2 @ z2)
    kish = total**2 / (w @ w)  # 324 / 36 = 9
    f1 = np.sqrt(max(1.0, p1 * (1 - p1) / kish / var1))
    f2 = np.sqrt(max(1.0, p2 * (1 - p2) / kish / var2))
    assert f1 > 1 and f2 == 1  # the case this test is about
    est = (p1 + p2) / 2
    design_var = n / (n - 1) * np.sum(((z1 + z2) / 2) ** 2)
    floor_var = n / (n - 1) * np.sum(((f1 * z1 + f2 * z2) / 2) ** 2)
    n_eff = min(est * (1 - est) / design_var, est * (1 - est) / floor_var)
    t = 2.2009851600916388  # qt(0.975, 11), R 4.2.2
    expected = _wilson_by_hand(est, n_eff, t)

    data = pd.DataFrame({"unit": "u", "w": w, "q1": np.where(s1 == 1, 5, 2), "q2": np.where(s2 == 1, 5, 2)})
    table = compute_indices(data, IndexDefinition.from_mapping([("q1", "e1"), ("q2", "e1")]),
                            unit_col="unit", weight_col="w", min_n=0, targets=0.9, all_intervals=True)
    overall = table[(table["domain"] == "u") & (table["stat_type"] == "overall_index")].iloc[0]
    assert overall["est"] == pytest.approx(est, abs=1e-15)
    assert overall["se"] ** 2 == pytest.approx(design_var, rel=1e-12)
    assert (overall["ci_lo"], overall["ci_hi"]) == pytest.approx(expected, abs=1e-12)
    assert overall["ci_lo"] < overall["ci_wilson_lo"]  # wider than R's wilson here
    # Narrower than the old floor (Wilson on the composite's Kish n_eff, 9), which treated an average
    # of two criteria as one yes/no answer.
    old_lo, old_hi = _wilson_by_hand(est, kish, t)
    assert overall["ci_hi"] - overall["ci_lo"] < old_hi - old_lo
    # The verdict's p-value inverts the same score test on the same n_eff.
    score = (est - 0.9) / np.sqrt(0.9 * 0.1 / n_eff)
    assert overall["p_value"] == pytest.approx(stats.t.cdf(score, n - 1), rel=1e-10)


@settings(max_examples=300, deadline=None)
@given(
    p=st.floats(0.001, 0.999),
    se=st.floats(1e-4, 0.5),
    df=st.floats(1.0, 1e4),
    kish=st.floats(1.0, 1e5),
)
def test_contains_the_estimate_lies_in_unit_interval_and_is_widest(p: float, se: float, df: float,
                                                                    kish: float) -> None:
    args = (np.array([p]), np.array([se]), np.array([df]))
    lo, hi = wilson_conservative_interval(*args, np.array([kish]))
    assert 0.0 <= lo[0] <= p <= hi[0] <= 1.0
    # Wilson's width falls as n_eff grows, so the smaller n_eff is at least as wide as either choice.
    design_lo, design_hi = wilson_interval(*args)
    kish_lo, kish_hi = wilson_interval(args[0], np.sqrt(p * (1 - p) / np.array([kish])), args[2])
    width = hi[0] - lo[0]
    assert width >= max(design_hi[0] - design_lo[0], kish_hi[0] - kish_lo[0]) - 1e-12


def test_boundary_fallback_and_invalid_inputs() -> None:
    # p = 1 with Kish n_eff 20: Clopper-Pearson lower = 0.025^(1/20) (Clopper & Pearson 1934), as for
    # every method.
    lo, hi, used = proportion_interval(
        "wilson_conservative", np.array([1.0, 0.5, 0.5]), np.array([0.0, 0.1, 0.1]),
        np.array([19.0, 0.0, 5.0]), np.array([20.0, 3.0, 3.0]), np.array([20.0, 3.0, np.nan]),
    )
    assert lo[0] == pytest.approx(0.025 ** (1 / 20), rel=1e-12) and hi[0] == 1.0
    assert list(used) == ["boundary_cp", "wilson_conservative", "wilson_conservative"]
    assert np.isnan(lo[1:]).all() and np.isnan(hi[1:]).all()  # df = 0; unknown Kish n_eff


def test_p_value_is_below_alpha_half_exactly_when_the_bound_clears_the_target() -> None:
    # Kish 80 < design n_eff 0.1275 / 0.0009 = 141.7 in half the rows, Kish 400 > it in the others.
    est, se, df = np.full(400, 0.85), np.full(400, 0.03), np.full(400, 60.0)
    kish = np.where(np.arange(400) % 2 == 0, 80.0, 400.0)
    targets = np.linspace(0.70, 0.99, 400)
    p = p_values(np.full(400, "wilson_conservative", dtype=object), est, se, df, kish, kish, targets)
    lo, hi = wilson_conservative_interval(est, se, df, kish)
    decided = verdicts(lo, hi, targets) != "inconclusive"
    away = np.abs(p - 0.025) > 1e-9
    np.testing.assert_array_equal((p < 0.025)[away], decided[away])


def test_an_unknown_design_variance_gives_nan_bounds_even_with_a_kish_floor() -> None:
    # se = NaN (no variance could be formed) at p = 0.8 with a finite Kish floor of 64: the docstring's
    # "NaN in either size gives NaN bounds"; the floor alone must not make up an interval. The second
    # row (se = 0.05, design n_eff = 0.16 / 0.0025 = 64 = floor) is Wilson on 64 by hand.
    lo, hi = wilson_conservative_interval(np.array([0.8, 0.8]), np.array([np.nan, 0.05]), np.full(2, 10.0),
                                          np.full(2, 64.0))
    assert np.isnan(lo[0]) and np.isnan(hi[0])
    t = stats.t.ppf(0.975, 10)
    assert (lo[1], hi[1]) == pytest.approx(_wilson_by_hand(0.8, 64.0, t), abs=1e-12)
