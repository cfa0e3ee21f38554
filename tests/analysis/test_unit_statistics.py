"""Unit statistics kept and updated unit by unit (`analysis.unit_statistics`) give, to the last bit, the
tables and changes computed from all the cells at once: a unit's row reads only its own cells, and a
domain sums its units in the same order whatever else is computed.

The figures themselves are checked against the respondents (to 1e-12) and R elsewhere
(test_cell_sums.py, test_change_from_sums.py); here the cells of one unit move (a new respondent, as
after a citizen's response) and the updated statistics must equal statistics computed afresh.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.cell_sums import SumsLayout
from analysis.data import AnalysisInputError, no_respondents
from analysis.sums_tables import indices_from_sums, indices_from_unit_statistics
from analysis.unit_change import change_from_sums, change_from_unit_statistics
from analysis.unit_statistics import UnitStatistics, unit_statistics, updated
from instruments.index import IndexDefinition

from .sums_helpers import PARENTS, cells_and_sums, post_stratified_cells, random_respondents, served_frame


def _cells(data: pd.DataFrame, definition: IndexDefinition,
           weighted: bool) -> tuple[pd.DataFrame, np.ndarray]:
    if weighted:
        cells, sums, _ = post_stratified_cells(data, served_frame(data, 5), definition)
        return cells, sums
    return cells_and_sums(data, ["unit", "field"], definition)


def _one_more(data: pd.DataFrame, unit: str) -> pd.DataFrame:
    """`data` with one more respondent in `unit`, every criterion satisfied."""
    extra = data.iloc[[1]].assign(unit=unit, q1=5.0, q2=4.0, q3=5.0, q4=5.0, q5=4.0, overall=5.0)
    return pd.concat([data, extra], ignore_index=True)


def _assert_identical(ours: UnitStatistics, theirs: UnitStatistics) -> None:
    assert ours.units == theirs.units and ours.calibrated == theirs.calibrated
    np.testing.assert_array_equal(ours.respondents, theirs.respondents)
    for mine, other in zip(ours.arrays, theirs.arrays, strict=True):
        np.testing.assert_array_equal(mine, other)


@pytest.mark.parametrize("weighted", [False, True])
def test_a_unit_whose_cells_moved_updated_alone_gives_the_statistics_and_figures_of_all_cells(
        definition: IndexDefinition, weighted: bool) -> None:
    layout = SumsLayout.of(no_respondents(definition))
    before = random_respondents(3, 700)
    after = _one_more(before, "u4")
    old_cells, old_sums = _cells(before, definition, weighted)
    new_cells, new_sums = _cells(after, definition, weighted)
    kept = unit_statistics(layout, old_cells, old_sums, weighted=weighted)
    moved = (new_cells["unit"] == "u4").to_numpy()
    fresh = unit_statistics(layout, new_cells[moved], new_sums[moved], weighted=weighted)
    assert fresh.units == ("u4",)
    ours = updated(kept, fresh, set(new_cells["unit"]))
    whole = unit_statistics(layout, new_cells, new_sums, weighted=weighted)
    _assert_identical(ours, whole)
    assert not np.array_equal(kept.totals[kept.units.index("u4")], whole.totals[whole.units.index("u4")])

    table = indices_from_unit_statistics(ours, definition, parents=PARENTS, targets=0.7, min_n=5,
                                         lonely_psu="adjust", domains=["u4", "p2", "total"])
    full = indices_from_sums(new_cells, new_sums, definition, parents=PARENTS, weighted=weighted, targets=0.7,
                             min_n=5, lonely_psu="adjust")
    expected = full[full["domain"].isin(["u4", "p2", "total"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(table, expected, check_exact=True)

    previous = random_respondents(11, 600)
    previous_cells, previous_sums = _cells(previous, definition, weighted)
    earlier = unit_statistics(layout, previous_cells, previous_sums, weighted=weighted)
    change = change_from_unit_statistics(ours, earlier, definition, parents=PARENTS,
                                         domains=["u4", "p2", "total"])
    whole_change = change_from_sums(new_cells, new_sums, previous_cells, previous_sums, definition,
                                    parents=PARENTS, weighted=weighted)
    expected_change = whole_change[whole_change["domain"].isin(["u4", "p2", "total"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(change, expected_change, check_exact=True)


def test_a_unit_gone_is_dropped_and_a_new_one_added(definition: IndexDefinition) -> None:
    layout = SumsLayout.of(no_respondents(definition))
    cells, sums = cells_and_sums(random_respondents(4, 500), ["unit", "field"], definition)
    kept = unit_statistics(layout, cells, sums, weighted=False)
    without_u1 = (cells["unit"] != "u1").to_numpy()
    renamed = cells.assign(unit=cells["unit"].replace({"u2": "u7"}))
    new = (renamed["unit"] == "u7").to_numpy()
    fresh = unit_statistics(layout, renamed[new], sums[new], weighted=False)
    ours = updated(kept, fresh, set(renamed.loc[without_u1, "unit"]))
    whole = unit_statistics(layout, renamed[without_u1], sums[without_u1], weighted=False)
    _assert_identical(ours, whole)
    assert "u1" not in ours.units and "u7" in ours.units


def test_statistics_that_cannot_be_combined_are_refused(definition: IndexDefinition) -> None:
    layout = SumsLayout.of(no_respondents(definition))
    data = random_respondents(6, 400)
    cells, sums = cells_and_sums(data, ["unit", "field"], definition)
    plain = unit_statistics(layout, cells, sums, weighted=False)
    weighted_cells, weighted_sums, _ = post_stratified_cells(data, served_frame(data, 2), definition)
    calibrated = unit_statistics(layout, weighted_cells, weighted_sums, weighted=True)
    with pytest.raises(AnalysisInputError, match="cannot be combined"):
        updated(plain, calibrated, plain.units)
    with pytest.raises(AnalysisInputError, match="no statistics for units"):
        updated(plain, plain, [*plain.units, "elsewhere"])
    with pytest.raises(AnalysisInputError, match="empty values"):
        unit_statistics(layout, cells.assign(unit=" "), sums, weighted=False)


def test_no_respondents_gives_no_units_and_the_change_is_refused(definition: IndexDefinition) -> None:
    layout = SumsLayout.of(no_respondents(definition))
    cells, sums = cells_and_sums(random_respondents(8, 300), ["unit", "field"], definition)
    nobody = unit_statistics(layout, cells, np.zeros_like(sums), weighted=False)
    assert nobody.units == () and nobody.totals.shape == (0, layout.layout.n_totals)
    some = unit_statistics(layout, cells, sums, weighted=False)
    with pytest.raises(AnalysisInputError, match="no respondents in the previous period"):
        change_from_unit_statistics(some, nobody, definition)
