"""Tests for analysis.change: hand computation and scipy's Welch test as the independent check."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.change import Direction, change_between, period_change


def test_hand_computed_welch_change() -> None:
    # current 0.85 (se 0.03, df 20), previous 0.78 (se 0.04, df 30)
    # diff = 0.07, se = √(0.0009 + 0.0016) = 0.05, t = 1.4
    # df = 0.0025² / (0.03⁴/20 + 0.04⁴/30) = 6.25e-6 / (4.05e-8 + 8.5333…e-8) = 49.6689…
    result = period_change(0.85, 0.03, 20, 0.78, 0.04, 30).iloc[0]
    df = 6.25e-6 / (0.03**4 / 20 + 0.04**4 / 30)
    assert df == pytest.approx(49.66887, rel=1e-6)
    assert result["diff"] == pytest.approx(0.07)
    assert result["se"] == pytest.approx(0.05)
    assert result["df"] == pytest.approx(df)
    assert result["statistic"] == pytest.approx(1.4)
    q = stats.t.ppf(0.975, df)
    assert q == pytest.approx(2.0086, abs=1e-3)  # t table, df ≈ 50: 2.009
    assert (result["lo"], result["hi"]) == pytest.approx((0.07 - q * 0.05, 0.07 + q * 0.05))
    assert not result["significant"]
    assert result["direction"] == Direction.NOT_SIGNIFICANT


def test_agrees_with_scipy_welch_t_test() -> None:
    # scipy's Welch test from summary statistics: se_i = sd_i/√n_i and df_i = n_i - 1, so choose
    # sd_i = se_i √n_i to feed it the same inputs through an independent code path.
    se1, n1, se0, n0 = 0.021, 41, 0.034, 16
    welch = stats.ttest_ind_from_stats(
        0.93, se1 * math.sqrt(n1), n1, 0.83, se0 * math.sqrt(n0), n0, equal_var=False
    )
    result = period_change(0.93, se1, n1 - 1, 0.83, se0, n0 - 1).iloc[0]
    assert result["statistic"] == pytest.approx(welch.statistic, rel=1e-12)
    assert result["p_value"] == pytest.approx(welch.pvalue, rel=1e-10)
    assert result["significant"]
    assert result["direction"] == Direction.UP


def test_infinite_df_is_the_z_test() -> None:
    # z = -0.05 / √(0.02² + 0.015²) = -0.05/0.025 = -2, two-sided p = 0.0455 (normal table)
    result = period_change(0.80, 0.02, np.inf, 0.85, 0.015, np.inf).iloc[0]
    assert result["statistic"] == pytest.approx(-2.0)
    assert result["p_value"] == pytest.approx(0.04550026, rel=1e-6)
    assert math.isinf(result["df"])
    assert result["hi"] - result["diff"] == pytest.approx(1.959964 * 0.025, rel=1e-6)
    assert result["direction"] == Direction.DOWN


def test_vectorised_over_series_keeps_index() -> None:
    index = pd.Index(["xã A", "xã B", "xã C"], name="unit")
    est1 = pd.Series([0.9, 0.7, 0.8], index=index)
    table = period_change(est1, [0.02, 0.05, 0.0], [30, 10, 5], [0.8, 0.72, 0.8], [0.02, 0.05, 0.0], 25)
    assert table.index.equals(index)
    assert table["direction"].tolist() == ["up", "not_significant", "not_significant"]
    # both standard errors zero and no change: statistic 0, p = 1
    assert (table.loc["xã C", "statistic"], table.loc["xã C", "p_value"]) == (0.0, 1.0)


def test_zero_se_with_a_difference_is_certain() -> None:
    result = period_change(0.9, 0.0, 10, 0.8, 0.0, 10).iloc[0]
    assert result["statistic"] == math.inf
    assert result["p_value"] == 0.0
    assert result["direction"] == Direction.UP


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0.8, -0.1, 10, 0.7, 0.1, 10), "negative"),
        ((0.8, 0.1, 0, 0.7, 0.1, 10), "positive"),
        ((math.nan, 0.1, 10, 0.7, 0.1, 10), "NaN"),
    ],
)
def test_bad_inputs(args: tuple[float, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        period_change(*args)


def test_alpha_outside_unit_interval() -> None:
    with pytest.raises(ValueError, match="alpha"):
        period_change(0.8, 0.1, 10, 0.7, 0.1, 10, alpha=1.5)


def test_change_between_tables_matches_on_keys() -> None:
    current = pd.DataFrame(
        {"unit": ["A", "B", "C"], "element": "E1", "est": [0.9, 0.7, 0.8], "se": 0.02, "df": 30.0}
    )
    previous = pd.DataFrame({"unit": ["B", "A"], "element": "E1", "est": [0.72, 0.8], "se": 0.02, "df": 25.0})
    table = change_between(current, previous, on=["unit", "element"])
    assert table["unit"].tolist() == ["A", "B"]  # C has no previous estimate
    row = table.set_index("unit").loc["A"]
    direct = period_change(0.9, 0.02, 30, 0.8, 0.02, 25).iloc[0]
    assert (row["est1"], row["est0"]) == (0.9, 0.8)
    assert row["p_value"] == pytest.approx(direct["p_value"])
    assert row["direction"] == Direction.UP
    with pytest.raises(ValueError, match="lacks"):
        change_between(current.drop(columns="se"), previous, on="unit")


def test_a_suppressed_period_gives_a_not_comparable_row() -> None:
    current = pd.DataFrame({"unit": ["a", "b", "c"], "est": [0.8, np.nan, 0.7], "se": [0.05, np.nan, 0.04],
                            "df": [20.0, 3.0, 0.0]})
    previous = pd.DataFrame({"unit": ["a", "b", "c"], "est": [0.7, 0.6, 0.6], "se": [0.05, 0.05, 0.04],
                             "df": [25.0, 10.0, 15.0]})
    result = change_between(current, previous, "unit").set_index("unit")
    assert list(result["direction"]) == [Direction.NOT_SIGNIFICANT, Direction.NOT_COMPARABLE,
                                         Direction.NOT_COMPARABLE]
    assert result.loc[["b", "c"], ["diff", "se", "p_value", "lo", "hi"]].isna().all().all()
    assert not result.loc[["b", "c"], "significant"].any()
    expected = period_change(0.8, 0.05, 20, 0.7, 0.05, 25).iloc[0]
    assert result.loc["a", "diff"] == pytest.approx(expected["diff"])
    assert result.loc["a", "p_value"] == pytest.approx(expected["p_value"])
