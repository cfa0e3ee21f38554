"""The change between two periods from each period's cell sums (`analysis.period_contrast.change_from_sums`)
equals `change_with_covariance` on the respondents of both periods, to 1e-12.

`change_with_covariance` itself is checked against R's ``svycontrast`` in test_period_contrast.py; here
it is the independent computation (respondent-level doubled items, `calibrated_cells` on the stacked
calibration models), on random data of two periods: unweighted, post-stratified with merged cells, and
one period post-stratified with the other unweighted; with a unit seen in the current period only, a
unit with a single respondent over both periods (a lonely stratum, present in the previous period only)
and a unit with one respondent in each period.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.calibration import stacked_period_weights
from analysis.data import AnalysisInputError
from analysis.period_contrast import change_with_covariance
from analysis.unit_change import change_from_sums
from analysis.weights import poststratify
from instruments.index import IndexDefinition

from .sums_helpers import PARENTS, cells_and_sums, post_stratified_cells, random_respondents, served_frame

FIGURES = ["est1", "est0", "diff", "se", "df", "lo", "hi", "p_value"]


def _periods(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    current, previous = random_respondents(seed, 900), random_respondents(seed + 100, 800)
    # "solo": one respondent in each period; "lonely": one respondent over both (the previous period's)
    current.loc[(current["unit"] == "solo") & (current.index > 0), "unit"] = "u2"
    previous.loc[(previous["unit"] == "solo") & (previous.index > 1), "unit"] = "u1"
    previous.loc[0, "unit"] = "lonely"
    previous.loc[1, "unit"] = "solo"
    current.loc[current.index % 7 == 3, "unit"] = "fresh"  # a unit of the current period only
    return current, previous


def _both(current: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([current.assign(period="now"), previous.assign(period="before")], ignore_index=True)


def _assert_same(ours: pd.DataFrame, rows: pd.DataFrame) -> None:
    assert list(ours.columns) == list(rows.columns)
    assert len(ours) == len(rows) > 0
    for column in ["domain", "stat_type", "stat", "direction"]:
        assert ours[column].tolist() == rows[column].tolist(), column
    for column in FIGURES:
        np.testing.assert_allclose(ours[column].astype(float), rows[column].astype(float), rtol=0, atol=1e-12,
                                   err_msg=column)


def _cases(rows: pd.DataFrame) -> None:
    """The data reach the cases the test is about (not only well-filled units)."""
    overall = rows[rows["stat_type"] == "overall_index"].set_index("domain")
    assert overall.loc["fresh", "direction"] == "not_comparable" and np.isnan(overall.loc["fresh", "est0"])
    assert np.isnan(overall.loc["lonely", "est1"]) and np.isfinite(overall.loc["lonely", "est0"])
    assert np.isfinite(overall.loc["solo", "se"]) and overall.loc["solo", "df"] == 0
    assert overall.loc["total", "direction"] != "not_comparable" and overall.loc["total", "se"] > 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_unweighted_change_from_sums_equals_the_respondent_level_change(definition: IndexDefinition,
                                                                        seed: int) -> None:
    current, previous = _periods(seed)
    rows = change_with_covariance(_both(current, previous), definition, unit_col="unit", period_col="period",
                                  current="now", previous="before", parents=PARENTS, lonely_psu="adjust")
    _cases(rows)
    cells_now, sums_now = cells_and_sums(current, ["unit", "field"], definition)
    cells_before, sums_before = cells_and_sums(previous, ["unit", "field"], definition)
    ours = change_from_sums(cells_now, sums_now, cells_before, sums_before, definition, parents=PARENTS,
                            lonely_psu="adjust")
    _assert_same(ours, rows)



@pytest.mark.parametrize(("seed", "weighing"), [(4, (True, True)), (5, (True, True)), (6, (True, True)),
                                                 (7, (True, False)), (8, (False, True))])
def test_post_stratified_change_from_sums_equals_the_calibrated_respondent_level_change(
        definition: IndexDefinition, seed: int, weighing: tuple[bool, bool]) -> None:
    """Both periods post-stratified, or one of them (a month without a frame stays unweighted)."""
    current, previous = _periods(seed)
    frames = [served_frame(current, seed), served_frame(previous, seed + 1)]
    # min_cell 40 collapses the small "business" cells with their siblings (merged calibration cells)
    periods = zip([current, previous], frames, weighing, strict=True)
    results = [poststratify(data, frame, ["field"], unit_col="unit", count_col="served", min_cell=40)
               if weigh else None for data, frame, weigh in periods]
    assert all(len(result.collapsed) > 0 for result in results if result is not None)
    data = _both(current, previous)
    weights, calibration = stacked_period_weights(data.index, [len(current), len(previous)], results)
    rows = change_with_covariance(data, definition, unit_col="unit", period_col="period", current="now",
                                  previous="before", parents=PARENTS, weights=weights,
                                  calibration=calibration, lonely_psu="adjust")
    _cases(rows)
    summed = []
    for data_p, frame, weigh in zip([current, previous], frames, weighing, strict=True):
        summed.append(post_stratified_cells(data_p, frame, definition)[:2] if weigh
                      else cells_and_sums(data_p, ["unit", "field"], definition))
    (cells_now, sums_now), (cells_before, sums_before) = summed
    ours = change_from_sums(cells_now, sums_now, cells_before, sums_before, definition, parents=PARENTS,
                            weighted=(weighing if weighing[0] != weighing[1] else weighing[0]),
                            lonely_psu="adjust")
    _assert_same(ours, rows)


def _weighted_or_not(weighted: bool, definition: IndexDefinition
                     ) -> tuple[tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray], pd.DataFrame]:
    """Both periods' cells and sums (current, then previous), and the respondent-level change table."""
    current, previous = _periods(9)
    if weighted:
        frames = [served_frame(current, 9), served_frame(previous, 10)]
        results = [poststratify(data, frame, ["field"], unit_col="unit", count_col="served", min_cell=40)
                   for data, frame in zip([current, previous], frames, strict=True)]
        weights, calibration = stacked_period_weights(_both(current, previous).index,
                                                      [len(current), len(previous)], results)
        (cells_now, sums_now), (cells_before, sums_before) = (
            post_stratified_cells(data, frame, definition)[:2]
            for data, frame in zip([current, previous], frames, strict=True))
    else:
        weights = calibration = None
        (cells_now, sums_now), (cells_before, sums_before) = (
            cells_and_sums(data, ["unit", "field"], definition) for data in (current, previous))
    rows = change_with_covariance(_both(current, previous), definition, unit_col="unit", period_col="period",
                                  current="now", previous="before", parents=PARENTS, weights=weights,
                                  calibration=calibration, lonely_psu="adjust")
    return (cells_now, sums_now, cells_before, sums_before), rows


@pytest.mark.parametrize("stat_types", [("overall_index",), ("element", "overall_index"), ("criterion",)])
@pytest.mark.parametrize("weighted", [False, True])
def test_only_the_statistics_asked_for_with_the_same_figures(
        definition: IndexDefinition, stat_types: tuple[str, ...], weighted: bool) -> None:
    """The dashboard asks for the overall index's change alone: the same rows as the respondent-level
    table's, not a smaller computation that drifts from it."""
    sums, rows = _weighted_or_not(weighted, definition)
    ours = change_from_sums(*sums, definition, parents=PARENTS, weighted=weighted, lonely_psu="adjust",
                            stat_types=stat_types)
    assert set(ours["stat_type"]) == set(stat_types)
    _assert_same(ours, rows[rows["stat_type"].isin(stat_types)].reset_index(drop=True))


@pytest.mark.parametrize("domains", [("u4", "p2", "total"), ("p1",), ("fresh", "lonely", "solo"),
                                     ("u5", "no-such-unit")])
@pytest.mark.parametrize("weighted", [False, True])
def test_only_the_domains_asked_for_with_the_whole_tables_figures(
        definition: IndexDefinition, domains: tuple[str, ...], weighted: bool) -> None:
    """After a new response only the domains above its unit are computed again and put in place of the
    old rows (`survey.services.reporting.period_change`): those rows must be the respondent-level
    table's, and the very numbers the whole computation gives (no rounding of their own)."""
    sums, rows = _weighted_or_not(weighted, definition)
    ours = change_from_sums(*sums, definition, parents=PARENTS, weighted=weighted, lonely_psu="adjust",
                            stat_types=("overall_index",), domains=domains)
    overall = rows[rows["stat_type"] == "overall_index"]
    _assert_same(ours, overall[overall["domain"].isin(domains)].reset_index(drop=True))
    whole = change_from_sums(*sums, definition, parents=PARENTS, weighted=weighted, lonely_psu="adjust",
                             stat_types=("overall_index",))
    pd.testing.assert_frame_equal(ours, whole[whole["domain"].isin(domains)].reset_index(drop=True),
                                  check_exact=True)


def test_no_domain_of_the_table_gives_an_empty_table(definition: IndexDefinition) -> None:
    sums, rows = _weighted_or_not(False, definition)
    ours = change_from_sums(*sums, definition, parents=PARENTS, domains=["no-such-unit"])
    assert ours.empty and list(ours.columns) == list(rows.columns)


def test_a_period_without_respondents_is_refused(definition: IndexDefinition) -> None:
    current, _ = _periods(7)
    cells, sums = cells_and_sums(current, ["unit", "field"], definition)
    with pytest.raises(AnalysisInputError, match="previous"):
        change_from_sums(cells, sums, cells, np.zeros_like(sums), definition)
    with pytest.raises(AnalysisInputError, match="shape"):
        change_from_sums(cells, sums, cells, sums[:, :3], definition)


@pytest.mark.parametrize("rule", ["fail", "average"])
def test_a_lonely_psu_rule_without_a_sums_form_is_refused(definition: IndexDefinition, rule: str) -> None:
    sums, _ = _weighted_or_not(False, definition)
    with pytest.raises(AnalysisInputError, match="lonely_psu"):
        change_from_sums(*sums, definition, parents=PARENTS, lonely_psu=rule)  # type: ignore[arg-type]
