"""Integer cell sums (`analysis.cell_sums`) give the respondent-level estimates of the default design.

Three checks: the sums of a hand-made cell are counted by hand; `indices_from_sums` equals
`compute_indices` on the same respondents to 1e-12 (unweighted, post-stratified with collapsed cells,
random data with a unit hierarchy and lonely units); and on the simulated respondents of
tests/analysis/r/calibration_reference.R it equals R's ``postStratify`` estimates and SEs
(tests/analysis/r/calibration_reference.csv, datasets ps_unit_field and ps_unit, no cut) to 1e-10, the
tolerance of tests/analysis/test_calibration_r.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.cell_sums import SumsLayout, cell_sums
from analysis.data import AnalysisInputError, item_matrices
from analysis.sums_tables import indices_from_sums
from analysis.tables import compute_indices
from analysis.weights import poststratify, poststratify_counts
from instruments.index import IndexDefinition

from .conftest import DATA, R_DIR
from .sums_helpers import PARENTS, cells_and_sums, post_stratified_cells, random_respondents, served_frame

FIGURES = ["est", "se", "ci_lo", "ci_hi", "p_value", "deff", "deff_kish"]
SIZES = ["sum_w", "n_eff", "n_eff_floor"]


def _assert_same(ours: pd.DataFrame, rows: pd.DataFrame) -> None:
    assert list(ours.columns) == list(rows.columns)
    assert len(ours) == len(rows) > 0
    for column in ["level", "domain", "parent", "stat_type", "stat", "n", "df", "method", "verdict", "flags"]:
        assert ours[column].tolist() == rows[column].tolist(), column
    for column in FIGURES:
        np.testing.assert_allclose(ours[column].astype(float), rows[column].astype(float), rtol=0, atol=1e-12,
                                   err_msg=column)
    for column in SIZES:  # sizes in the hundreds: the same 1e-12, relative
        np.testing.assert_allclose(ours[column].astype(float), rows[column].astype(float), rtol=1e-12, atol=0,
                                   err_msg=column)


def test_the_sums_of_a_cell_count_what_its_respondents_answered(definition: IndexDefinition) -> None:
    # q1..q2 in e1, q3..q5 in e2; satisfied = 4, 5; harass favourable = 1; overall favourable = 4, 5
    data = pd.DataFrame({"q1": [5, 2, np.nan], "q2": [4, 4, 0], "q3": [1, np.nan, np.nan],
                         "q4": [np.nan] * 3, "q5": [5, 5, np.nan], "harass": [1, 2, np.nan],
                         "overall": [4, 3, 5]})
    sums = cell_sums(item_matrices(data, definition), np.array([0, 0, 1]), 2)
    named = dict(zip(SumsLayout.of(item_matrices(data, definition)).names(), sums[0].tolist(), strict=True))
    assert named["respondents"] == 2
    q1 = (named["satisfied q1"], named["valid q1"], named["code sum q1"], named["code² sum q1"])
    assert q1 == (1, 2, 7, 29)
    assert (named["satisfied q3"], named["valid q3"], named["valid q4"]) == (0, 1, 0)
    assert (named["comprehensive"], named["any valid"]) == (0, 2)  # row 1: q3 = 1; row 2: q1 = 2
    assert (named["favourable harass"], named["listed harass"], named["favourable overall"]) == (1, 2, 1)
    assert (named["element valid e1"], named["element valid e2"]) == (2, 2)
    assert named["satisfied q1 × satisfied q2"] == 1  # row 1 only
    assert named["valid q1 × valid q5"] == 2
    assert named["satisfied q2 × valid q5"] == 2
    assert named["satisfied q5 × valid q1"] == 2
    assert sums[1].tolist()[:3] == [1, 0, 0]  # the third respondent: no valid criterion (q2 = 0 is n/a)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_unweighted_sums_give_the_respondent_level_table(definition: IndexDefinition, seed: int) -> None:
    data = random_respondents(seed, 900)
    rows = compute_indices(data, definition, unit_col="unit", parents=PARENTS, targets=0.7, min_n=5,
                           lonely_psu="adjust")
    cells, sums = cells_and_sums(data, ["unit", "field"], definition)
    ours = indices_from_sums(cells, sums, definition, parents=PARENTS, targets=0.7, min_n=5,
                             lonely_psu="adjust")
    _assert_same(ours, rows)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_post_stratified_sums_give_the_calibrated_respondent_level_table(definition: IndexDefinition,
                                                                          seed: int) -> None:
    data = random_respondents(seed, 1200)
    frame = served_frame(data, seed)
    # min_cell 40 collapses the small "business" cells with their siblings (merged calibration cells)
    result = poststratify(data, frame, ["field"], unit_col="unit", count_col="served", min_cell=40)
    assert len(result.collapsed) > 0
    rows = compute_indices(data, definition, unit_col="unit", parents=PARENTS, weights=result.weights,
                           calibration=result.calibration, targets={"u1": 0.6, "total": 0.8}, min_n=5,
                           lonely_psu="adjust")
    cells, sums, weighting = post_stratified_cells(data, frame, definition)
    ours = indices_from_sums(cells, sums, definition, parents=PARENTS, weighted=True,
                             targets={"u1": 0.6, "total": 0.8}, min_n=5, lonely_psu="adjust")
    _assert_same(ours, rows)
    pd.testing.assert_frame_equal(weighting.collapsed.reset_index(drop=True),
                                  result.collapsed.reset_index(drop=True), check_like=True)


@pytest.mark.parametrize(("seed", "wanted"),
                         [(11, ("u1",)), (12, ("p1", "u2", "total")), (13, ("solo", "p2"))])
def test_the_rows_of_some_domains_alone_equal_the_respondent_level_table(
        definition: IndexDefinition, seed: int, wanted: tuple[str, ...]) -> None:
    """What a page needs after one unit's new response: the rows of that unit and the domains above it,
    each with the figures of the whole table (the independent computation is `compute_indices` on the
    respondents, post-stratified with merged cells)."""
    data = random_respondents(seed, 1000)
    frame = served_frame(data, seed)
    result = poststratify(data, frame, ["field"], unit_col="unit", count_col="served", min_cell=40)
    full = compute_indices(data, definition, unit_col="unit", parents=PARENTS, weights=result.weights,
                           calibration=result.calibration, targets={"u1": 0.6, "total": 0.8}, min_n=5,
                           lonely_psu="adjust")
    rows = full[full["domain"].isin(wanted)].reset_index(drop=True)
    cells, sums, _ = post_stratified_cells(data, frame, definition)
    ours = indices_from_sums(cells, sums, definition, parents=PARENTS, weighted=True,
                             targets={"u1": 0.6, "total": 0.8}, min_n=5, lonely_psu="adjust",
                             domains=[*wanted, "not-a-unit"])
    assert set(ours["domain"]) == set(wanted)
    _assert_same(ours, rows)
    nothing = indices_from_sums(cells, sums, definition, parents=PARENTS, weighted=True, lonely_psu="adjust",
                                domains=["not-a-unit"])
    assert nothing.empty and list(nothing.columns) == list(rows.columns)


@pytest.mark.parametrize("seed", [7, 8])
def test_the_overall_rows_alone_equal_the_respondent_level_table(definition: IndexDefinition,
                                                                  seed: int) -> None:
    """What a trend line needs: the overall index of every domain, with its inference, and nothing else
    (the independent computation is `compute_indices` on the respondents, post-stratified)."""
    data = random_respondents(seed, 1000)
    frame = served_frame(data, seed)
    result = poststratify(data, frame, ["field"], unit_col="unit", count_col="served", min_cell=40)
    full = compute_indices(data, definition, unit_col="unit", parents=PARENTS, weights=result.weights,
                           calibration=result.calibration, targets=0.75, min_n=5, lonely_psu="adjust")
    rows = full[full["stat_type"] == "overall_index"].reset_index(drop=True)
    cells, sums, _ = post_stratified_cells(data, frame, definition)
    ours = indices_from_sums(cells, sums, definition, parents=PARENTS, weighted=True, targets=0.75, min_n=5,
                             lonely_psu="adjust", stat_types=("overall_index",))
    assert set(ours["stat_type"]) == {"overall_index"}
    assert len(ours) == len(rows) == len({*PARENTS, *PARENTS.values(), "solo", "total"})
    _assert_same(ours, rows)


@pytest.mark.parametrize(("dataset", "cells"), [("ps_unit_field", ["field"]), ("ps_unit", [])])
def test_post_stratified_sums_equal_r(definition: IndexDefinition, dataset: str, cells: list[str]) -> None:
    data = pd.read_csv(DATA / "calibration_respondents.csv")
    frame = pd.read_csv(DATA / "calibration_frame.csv")
    keys = ["unit", "field"]
    table, sums = cells_and_sums(data, keys, definition)
    weighting = poststratify_counts(table.assign(respondents=sums[:, 0]), frame, cells, unit_col="unit",
                                    count_col="served", min_cell=1)
    index = pd.MultiIndex.from_frame(table[["unit", *cells]])
    table["weight"] = weighting.weight.reindex(index).to_numpy()
    table["calibration_cell"] = weighting.cell.reindex(index).to_numpy()
    ours = indices_from_sums(table, sums, definition, parents=PARENTS, weighted=True, min_n=0,
                             lonely_psu="adjust")
    reference = pd.read_csv(R_DIR / "calibration_reference.csv")
    reference = reference[(reference["dataset"] == dataset) & reference["cut"].isna()]
    merged = reference.merge(ours, on=["domain", "stat_type", "stat"], suffixes=("_r", ""), validate="1:1")
    assert len(merged) == len(reference) > 100
    assert (merged["n"] == merged["n_r"]).all()
    np.testing.assert_array_equal(merged["df"], merged["df_r"])
    for column in ("est", "se"):
        np.testing.assert_allclose(merged[column], merged[f"{column}_r"], rtol=0, atol=1e-10, err_msg=column)


def test_sums_of_another_shape_are_refused(definition: IndexDefinition) -> None:
    with pytest.raises(AnalysisInputError, match="shape"):
        indices_from_sums(pd.DataFrame({"unit": ["u1"]}), np.zeros((1, 3), dtype=np.int64), definition)


@pytest.mark.parametrize("batch_rows", [3, 7, 32_768])
def test_a_cell_across_a_batch_boundary_is_counted_once(definition: IndexDefinition, batch_rows: int,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # Rows are summed in batches of whole cells; a cell that crosses the batch size must neither be
    # cut nor summed twice (a month of a province, 68k rows, once had two cells counted 1.5 times).
    import analysis.cell_sums as module

    monkeypatch.setattr(module, "_BATCH_ROWS", batch_rows)
    rng = np.random.default_rng(batch_rows)
    n = 3 * batch_rows + 5 if batch_rows < 100 else batch_rows + 4_000
    data = random_respondents(batch_rows, n)
    cell = rng.integers(0, 5, n).astype(np.intp)  # five large cells: each crosses a boundary
    items = item_matrices(data, definition)
    sums = cell_sums(items, cell, 6)
    assert sums[:, 0].tolist() == np.bincount(cell, minlength=6).tolist()  # respondents, counted apart
    monkeypatch.setattr(module, "_BATCH_ROWS", n + 1)  # one batch: no boundary at all
    for c in range(5):
        alone = cell_sums(item_matrices(data[cell == c].reset_index(drop=True), definition),
                          np.zeros(int((cell == c).sum()), dtype=np.intp), 1)
        assert (sums[c] == alone[0]).all(), c
    assert not sums[5].any()


@pytest.mark.parametrize("weighted", [True, False])
def test_compute_indices_asked_for_some_statistics_gives_the_full_tables_rows(definition: IndexDefinition,
                                                                                weighted: bool) -> None:
    """What a breakdown needs (the overall index per category) is the full table's rows, figure for
    figure, with its cuts: `stat_types` only leaves the other statistics out."""
    data = random_respondents(12, 900)
    result = poststratify(data, served_frame(data, 12), ["field"], unit_col="unit", count_col="served",
                          min_cell=40) if weighted else None
    common: dict[str, Any] = {
        "unit_col": "unit", "parents": PARENTS, "by": ["field"], "targets": 0.75, "min_n": 5,
        "lonely_psu": "adjust", "weights": None if result is None else result.weights,
        "calibration": None if result is None else result.calibration}
    full = compute_indices(data, definition, **common)
    ours = compute_indices(data, definition, stat_types=("overall_index", "element"), **common)
    expected = full[full["stat_type"].isin(["overall_index", "element"])].reset_index(drop=True)
    assert set(ours["stat_type"]) == {"overall_index", "element"} and len(ours) < len(full)
    pd.testing.assert_frame_equal(ours, expected, check_exact=True)


@pytest.mark.parametrize("weighted", [True, False])
def test_by_columns_cut_on_their_own_give_each_columns_own_table(definition: IndexDefinition,
                                                                  weighted: bool) -> None:
    """Several one-way breakdowns in one call (`crossed_by=False`): each column's rows, and the "all"
    rows, are those of a call with that column alone, figure for figure."""
    data = random_respondents(13, 900)
    data["channel"] = np.random.default_rng(13).choice(["qr", "kiosk", "web"], size=len(data))
    result = poststratify(data, served_frame(data, 13), ["field"], unit_col="unit", count_col="served",
                          min_cell=40) if weighted else None
    common: dict[str, Any] = {
        "unit_col": "unit", "parents": PARENTS, "targets": 0.75, "min_n": 5, "lonely_psu": "adjust",
        "weights": None if result is None else result.weights,
        "calibration": None if result is None else result.calibration}
    both = compute_indices(data, definition, by=["field", "channel"], crossed_by=False, **common)
    assert not ((both["field"] != "") & (both["channel"] != "")).any()  # no combination of the two
    for label in ("field", "channel"):  # a text column, one value per cut, "" in the others' rows
        assert isinstance(both[label].dtype, pd.StringDtype) and both[label].notna().all()
    for column, other in (("field", "channel"), ("channel", "field")):
        alone = compute_indices(data, definition, by=[column], **common)
        ours = both[both[other] == ""].drop(columns=[other]).reset_index(drop=True)
        assert set(ours[column]) == {"", *data[column].unique()}
        pd.testing.assert_frame_equal(ours, alone, check_exact=True)
