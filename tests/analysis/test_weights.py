"""Tests for analysis.weights: hand-computed examples, R survey reference values, properties."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.weights import (
    PoststratResult,
    RakingDidNotConverge,
    TrimRedistribution,
    WeightingError,
    WeightingMethod,
    imported_weights,
    kish_deff,
    kish_n_eff,
    poststratify,
    rake,
    trim_weights,
    unit_weights,
    weight_summary,
)

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    """Respondents and R survey 4.1-1 weights from tests/analysis/r/weights_reference.R."""
    return pd.read_csv(DATA / "weights_reference.csv")


@pytest.fixture(scope="module")
def margins() -> dict[str, pd.Series]:
    table = pd.read_csv(DATA / "weights_reference_margins.csv")
    return {name: group.set_index("category")["total"] for name, group in table.groupby("margin")}


# ---------------------------------------------------------------- Kish


def test_kish_hand_computed() -> None:
    # w = 1, 1, 2, 4: Σw = 8, Σw² = 22, n = 4 → deff = 4·22/64 = 1.375, n_eff = 64/22
    w = [1.0, 1.0, 2.0, 4.0]
    assert kish_deff(w) == pytest.approx(1.375, rel=1e-15)
    assert kish_n_eff(w) == pytest.approx(64 / 22, rel=1e-15)
    summary = weight_summary(w)
    assert (summary.n, summary.total, summary.min, summary.max) == (4, 8.0, 1.0, 4.0)
    # Kish's identity deff = 1 + cv² (cv with divisor n)
    assert summary.deff == pytest.approx(1 + summary.cv**2, rel=1e-12)
    assert summary.n_eff == pytest.approx(4 / 1.375, rel=1e-12)


def test_equal_weights_have_no_design_effect() -> None:
    assert kish_deff(np.full(7, 3.2)) == pytest.approx(1.0)
    assert kish_n_eff(np.full(7, 3.2)) == pytest.approx(7.0)


@pytest.mark.parametrize("bad", [[], [1.0, -1.0], [1.0, math.nan], [0.0, 0.0], [1.0, math.inf]])
def test_kish_rejects_bad_weights(bad: list[float]) -> None:
    with pytest.raises(WeightingError):
        kish_deff(bad)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0.01, 1e4), min_size=1, max_size=50),
    st.floats(1e-3, 1e3),
)
def test_scaling_weights_does_not_change_n_eff(w: list[float], scale: float) -> None:
    scaled = np.asarray(w) * scale
    assert kish_n_eff(scaled) == pytest.approx(kish_n_eff(w), rel=1e-9)
    assert 1.0 - 1e-9 <= kish_n_eff(w) <= len(w) + 1e-9


def test_unit_and_imported_weights_carry_their_method() -> None:
    plain = unit_weights(3)
    assert plain.method is WeightingMethod.NONE
    assert plain.weights.tolist() == [1.0, 1.0, 1.0]
    index = pd.Index([10, 20])
    assert unit_weights(index).weights.index.equals(index)
    imported = imported_weights(pd.Series([2.0, 3.0], index=index))
    assert imported.method is WeightingMethod.IMPORTED
    with pytest.raises(WeightingError, match="negative"):
        imported_weights(pd.Series([2.0, -3.0]))


# ---------------------------------------------------------------- post-stratification


def _respondents(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    """Expand (unit, field, channel, count) into one row per respondent."""
    expanded = [(u, f, c) for u, f, c, k in rows for _ in range(k)]
    return pd.DataFrame(expanded, columns=["unit", "field", "channel"])


def _frame(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["unit", "field", "channel", "served"])


def test_poststratify_without_collapse_is_served_over_respondents() -> None:
    data = _respondents([("A", "x", "o", 4), ("A", "y", "o", 2), ("B", "x", "o", 5)])
    frame = _frame([("A", "x", "o", 40), ("A", "y", "o", 30), ("B", "x", "o", 12)])
    result = poststratify(data, frame, ["field", "channel"], min_cell=2)
    assert isinstance(result, PoststratResult)
    assert result.method is WeightingMethod.POSTSTRATIFIED
    assert result.weights.tolist() == [10.0] * 4 + [15.0] * 2 + [2.4] * 5
    assert result.weights.index.equals(data.index)
    assert result.collapsed.empty


def test_tiny_cell_collapses_last_variable_first() -> None:
    # Field x: channels o (6) and p (6) both adequate → kept. Field y: channel p has 2 < min_cell
    # → y's channels merge: 3 + 2 respondents for 50 + 10 served → 12 each.
    data = _respondents([("A", "x", "o", 6), ("A", "x", "p", 6), ("A", "y", "o", 3), ("A", "y", "p", 2)])
    frame = _frame([("A", "x", "o", 60), ("A", "x", "p", 30), ("A", "y", "o", 50), ("A", "y", "p", 10)])
    result = poststratify(data, frame, ["field", "channel"], min_cell=3)
    assert result.weights.tolist() == [10.0] * 6 + [5.0] * 6 + [12.0] * 5
    report = result.collapsed.set_index(["field", "channel"])
    assert report.loc[("y", "p"), "reason"] == "too_few_respondents"
    assert report.loc[("y", "o"), "reason"] == "sibling"
    assert report.loc[("y", "o"), "merged_into"] == "field=y, channel=*"
    assert set(report["kept"]) == {1}
    assert len(report) == 2


def test_collapse_climbs_to_unit_total_and_absorbs_unanswered_cells() -> None:
    # Unit A: field y has 2 respondents (< 5), field z has 20 served but nobody answered → the fields
    # cannot stand alone and A collapses to its total: 200 served / 12 respondents.
    # Unit B: field y was served but unanswered → B collapses to 50 / 5 = 10.
    data = _respondents([("A", "x", "o", 5), ("A", "x", "p", 5), ("A", "y", "o", 2), ("B", "x", "o", 5)])
    frame = _frame(
        [("A", "x", "o", 100), ("A", "x", "p", 50), ("A", "y", "o", 30), ("A", "z", "o", 20),
         ("B", "x", "o", 40), ("B", "y", "o", 10), ("C", "x", "o", 7)]
    )
    result = poststratify(data, frame, ["field", "channel"], min_cell=5)
    assert result.weights.iloc[:12].tolist() == pytest.approx([200 / 12] * 12)
    assert result.weights.iloc[12:].tolist() == pytest.approx([10.0] * 5)
    totals = result.weights.groupby(data["unit"]).sum()
    assert totals.to_dict() == pytest.approx({"A": 200.0, "B": 50.0})
    report = result.collapsed
    reasons = report.set_index(["unit", "field", "channel"])["reason"].to_dict()
    assert reasons[("A", "y", "o")] == "too_few_respondents"
    assert reasons[("A", "z", "o")] == "no_respondents"
    assert reasons[("A", "x", "o")] == "sibling"
    assert reasons[("B", "y", "o")] == "no_respondents"
    # unit C has dossiers served but no respondents: reported as not represented
    unit_c = report[report["unit"] == "C"].iloc[0]
    assert (unit_c["kept"], unit_c["served"], unit_c["reason"]) == (-1, 7.0, "no_respondents")


def test_respondent_cell_missing_from_frame_is_merged() -> None:
    data = _respondents([("A", "x", "o", 4), ("A", "w", "o", 3)])
    frame = _frame([("A", "x", "o", 70)])
    result = poststratify(data, frame, ["field", "channel"], min_cell=1)
    assert result.weights.tolist() == pytest.approx([10.0] * 7)
    assert result.collapsed.set_index("field").loc["w", "reason"] == "none_served"


def test_poststratify_by_period_and_finer_frame_rows_are_added() -> None:
    data = pd.DataFrame({"unit": ["A", "A", "A"], "month": [1, 1, 2]})
    frame = pd.DataFrame(
        {"unit": ["A", "A", "A"], "month": [1, 1, 2], "counter": [1, 2, 1], "served": [5, 3, 9]}
    )
    result = poststratify(data, frame, [], period_col="month", min_cell=1)
    assert result.weights.tolist() == [4.0, 4.0, 9.0]


def test_categorical_cells_do_not_invent_empty_cells() -> None:
    # unused categories must not count as cells without respondents (which would force a collapse)
    data = _respondents([("A", "x", "o", 3), ("A", "y", "o", 3)])
    data["field"] = pd.Categorical(data["field"], categories=["x", "y", "unused"])
    frame = _frame([("A", "x", "o", 30), ("A", "y", "o", 60)])
    result = poststratify(data, frame, ["field", "channel"], min_cell=3)
    assert result.weights.tolist() == [10.0] * 3 + [20.0] * 3
    assert result.collapsed.empty


def test_poststratify_matches_r_survey_poststratify(reference: pd.DataFrame) -> None:
    frame = pd.read_csv(DATA / "weights_reference_frame.csv")
    result = poststratify(reference, frame, ["field"], min_cell=1)
    np.testing.assert_allclose(result.weights, reference["ps_w"], rtol=1e-12)


@pytest.mark.parametrize(
    ("data_change", "frame_change", "message"),
    [
        (lambda d: d.drop(columns="field"), None, r"data lacks the column\(s\) \['field'\]"),
        (None, lambda f: f.drop(columns="served"), "frame lacks"),
        (None, lambda f: f.assign(served=[-1, 5]), "negative counts"),
        (None, lambda f: f.assign(served=[math.nan, 5]), "missing or non-numeric"),
        (lambda d: d.assign(unit=["Z", "A"]), None, r"\{'unit': 'Z'\} has respondents but no rows"),
        (None, lambda f: f.assign(served=[0, 0]), "only zero counts"),
        (lambda d: d.assign(field=[None, "x"]), None, "missing values"),
    ],
)
def test_poststratify_errors(data_change, frame_change, message) -> None:  # type: ignore[no-untyped-def]
    data = pd.DataFrame({"unit": ["A", "A"], "field": ["x", "y"]})
    frame = pd.DataFrame({"unit": ["A", "A"], "field": ["x", "y"], "served": [5, 5]})
    data = data_change(data) if data_change else data
    frame = frame_change(frame) if frame_change else frame
    with pytest.raises(WeightingError, match=message):
        poststratify(data, frame, ["field"], min_cell=1)


def test_poststratify_rejects_min_cell_below_one() -> None:
    data = pd.DataFrame({"unit": ["A"]})
    with pytest.raises(WeightingError, match="min_cell"):
        poststratify(data, pd.DataFrame({"unit": ["A"], "served": [1]}), [], min_cell=0)


_cells = st.tuples(st.sampled_from(["U1", "U2", "U3"]), st.sampled_from("abc"), st.sampled_from("pq"))


@settings(max_examples=150, deadline=None)
@given(
    respondents=st.lists(_cells, min_size=1, max_size=60),
    served=st.dictionaries(_cells, st.integers(0, 500), max_size=18),
    min_cell=st.integers(1, 6),
)
def test_poststratified_weights_reproduce_frame_totals(
    respondents: list[tuple[str, str, str]], served: dict[tuple[str, str, str], int], min_cell: int
) -> None:
    data = pd.DataFrame(respondents, columns=["unit", "field", "channel"])
    # every respondent's unit must be in the frame with something served
    for unit in data["unit"].unique():
        served.setdefault((unit, "a", "p"), 0)
        served[(unit, "a", "p")] += 1
    frame = pd.DataFrame([(*k, v) for k, v in served.items()], columns=["unit", "field", "channel", "served"])
    result = poststratify(data, frame, ["field", "channel"], min_cell=min_cell)
    assert np.all(result.weights > 0)
    unit_totals = result.weights.groupby(data["unit"]).sum()
    expected = frame.groupby("unit")["served"].sum()
    for unit, total in unit_totals.items():
        assert total == pytest.approx(expected[unit], rel=1e-12)
    # cells that were not merged reproduce their own frame count exactly
    merged = set(map(tuple, result.collapsed[["unit", "field", "channel"]].to_numpy().tolist()))
    cell_totals = result.weights.groupby([data["unit"], data["field"], data["channel"]]).sum()
    for cell, total in cell_totals.items():
        if cell not in merged:
            assert total == pytest.approx(served[cell], rel=1e-12)


# ---------------------------------------------------------------- raking


def test_rake_matches_r_survey_rake(reference: pd.DataFrame, margins: dict[str, pd.Series]) -> None:
    result = rake(reference, margins, base_weights=reference["base"], tol=1e-13, max_iter=1000)
    assert result.method is WeightingMethod.RAKED
    # R: rake(design, list(~sex, ~age, ~field), margins, control = list(maxit = 500, epsilon = 1e-14))
    np.testing.assert_allclose(result.weights, reference["rake_w"], rtol=0, atol=1e-10)
    assert result.max_discrepancy <= 1e-13


def test_rake_two_by_two_hand_computed() -> None:
    # Sample table [[2, 1], [1, 1]] (odds ratio 2), margins rows (60, 40), columns (70, 30), T = 100.
    # Raking keeps the odds ratio, so x11 solves x(x - 30) = 2 (60 - x)(70 - x), i.e.
    # x² - 230 x + 8400 = 0 → x11 = (230 - √19300) / 2; the other cells follow from the margins.
    x11 = (230 - math.sqrt(19300)) / 2
    x12, x21 = 60 - x11, 70 - x11
    x22 = 100 - x11 - x12 - x21
    data = pd.DataFrame({"row": ["r1", "r1", "r1", "r2", "r2"], "col": ["c1", "c1", "c2", "c1", "c2"]})
    margins = {"row": pd.Series({"r1": 60, "r2": 40}), "col": pd.Series({"c1": 70, "c2": 30})}
    result = rake(data, margins, tol=1e-12, max_iter=500)
    expected = [x11 / 2, x11 / 2, x12, x21, x22]
    np.testing.assert_allclose(result.weights, expected, rtol=1e-10)
    assert (x11 * x22) / (x12 * x21) == pytest.approx(2.0)


def test_rake_reports_non_convergence_with_the_worst_margin(
    reference: pd.DataFrame, margins: dict[str, pd.Series]
) -> None:
    with pytest.raises(RakingDidNotConverge) as caught:
        rake(reference, margins, base_weights=reference["base"], tol=1e-12, max_iter=1)
    assert caught.value.margin in margins
    assert caught.value.discrepancy > 1e-12
    assert caught.value.margin in str(caught.value)


@pytest.mark.parametrize(
    ("margin", "message"),
    [
        ({"sex": pd.Series({"F": 50.0})}, r"categories 'M' of 'sex' are not in its margin"),
        ({"sex": pd.Series({"F": 50.0, "M": 50.0}), "age": pd.Series({"y": 10.0, "o": 20.0})}, "must agree"),
        ({"sex": pd.Series({"F": 50.0, "M": 40.0, "X": 10.0})}, r"positive targets for \['X'\]"),
        ({"sex": pd.Series({"F": -5.0, "M": 40.0})}, "non-negative"),
        ({"region": pd.Series({"N": 1.0})}, "no column 'region'"),
        ({}, "at least one margin"),
    ],
)
def test_rake_errors(margin: dict[str, pd.Series], message: str) -> None:
    data = pd.DataFrame({"sex": ["F", "M", "M"], "age": ["y", "o", "o"]})
    with pytest.raises(WeightingError, match=message):
        rake(data, margin)


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(st.tuples(st.sampled_from("ab"), st.sampled_from("xyz")), max_size=40),
    share_a=st.floats(0.2, 0.8),
    shares_xyz=st.tuples(st.floats(0.1, 1), st.floats(0.1, 1), st.floats(0.1, 1)),
)
def test_raking_reproduces_every_margin(
    rows: list[tuple[str, str]], share_a: float, shares_xyz: tuple[float, float, float]
) -> None:
    # one respondent in every cell: with no structural zeros IPF always converges (Bishop,
    # Fienberg & Holland 1975, ch. 3), so every generated case must meet both margins
    every_cell = [(g, h) for g in "ab" for h in "xyz"]
    data = pd.DataFrame(every_cell + rows, columns=["g", "h"])
    total = 1000.0
    g_target = pd.Series({"a": share_a * total, "b": (1 - share_a) * total})
    h_raw = pd.Series(dict(zip("xyz", shares_xyz, strict=True)))
    h_target = h_raw / h_raw.sum() * total
    result = rake(data, {"g": g_target, "h": h_target}, tol=1e-10, max_iter=2000)
    for name, target in (("g", g_target), ("h", h_target)):
        achieved = result.weights.groupby(data[name]).sum()
        np.testing.assert_allclose(achieved[target.index], target, rtol=0, atol=1e-6 * total)


# ---------------------------------------------------------------- trimming


def test_trim_even_matches_r_trimweights(reference: pd.DataFrame) -> None:
    # R: trimWeights(raked, upper = 20, lower = 6, strict = FALSE) and strict = TRUE
    trimmed = trim_weights(reference["rake_w"], upper=20, lower=6, how=TrimRedistribution.EVEN)
    np.testing.assert_allclose(trimmed, reference["trim_one_pass"], rtol=1e-12)
    np.testing.assert_allclose(trimmed, reference["trim_strict"], rtol=1e-12)


def test_trim_even_matches_r_strict_when_several_rounds_are_needed(reference: pd.DataFrame) -> None:
    # R: trimWeights(raked, upper = 14, strict = TRUE); one pass leaves weights above 14
    assert reference["trim_tight_one_pass"].max() > 14
    trimmed = trim_weights(reference["rake_w"], upper=14, how=TrimRedistribution.EVEN)
    np.testing.assert_allclose(trimmed, reference["trim_tight_strict"], rtol=1e-10)


def test_trim_proportional_hand_computed() -> None:
    # w = 1, 2, 3, 14 (total 20, mean 5); ratio_cap 2 → cap 10; excess 4 goes to 1, 2, 3 in
    # proportion: factor 1 + 4/6 → 5/3, 10/3, 5, then 10. Total stays 20.
    trimmed = trim_weights([1.0, 2.0, 3.0, 14.0], ratio_cap=2)
    np.testing.assert_allclose(trimmed, [5 / 3, 10 / 3, 5.0, 10.0], rtol=1e-12)


def test_trim_without_redistribution_clips() -> None:
    trimmed = trim_weights(pd.Series([1.0, 5.0, 9.0], index=[7, 8, 9]), upper=6, redistribute=False)
    assert trimmed.tolist() == [1.0, 5.0, 6.0]
    assert trimmed.index.tolist() == [7, 8, 9]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"upper": 2.0}, "cannot hold"),
        ({"upper": 5.0, "lower": 6.0}, "above upper"),
        ({"ratio_cap": 0.5}, "at least 1"),
    ],
)
def test_trim_errors(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(WeightingError, match=message):
        trim_weights([1.0, 2.0, 9.0], **kwargs)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    w=st.lists(st.floats(0.1, 100), min_size=2, max_size=40),
    cap=st.floats(1.0, 4.0),
    how=st.sampled_from(list(TrimRedistribution)),
)
def test_trimming_keeps_the_total_and_respects_the_cap(
    w: list[float], cap: float, how: TrimRedistribution
) -> None:
    trimmed = trim_weights(w, ratio_cap=cap, how=how)
    assert trimmed.sum() == pytest.approx(sum(w), rel=1e-9)
    assert trimmed.max() <= cap * np.mean(w) * (1 + 1e-9)
