"""analysis.poststratification at its edges: mutants `make mutation` found alive.

Weights are worked out by hand: within a cell, w = N_c / n_c (dossiers served / respondents).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.poststratification import poststratify
from analysis.weighting import WeightingError


def _data(fields: list[str], index: list[str] | None = None) -> pd.DataFrame:
    return pd.DataFrame({"unit": "u", "field": fields}, index=index)


def test_weights_follow_the_data_index_and_are_named() -> None:
    # a: 10 served / 2 respondents = 5; b: 20 / 5 = 4.
    data = _data(["a", "b", "a", "b", "b", "b", "b"], index=[f"r{i}" for i in range(7)])
    frame = pd.DataFrame({"unit": "u", "field": ["a", "b"], "served": [10, 20]})
    result = poststratify(data, frame, ["field"], min_cell=1)
    assert result.weights.name == "weight"
    assert list(result.weights.index) == [f"r{i}" for i in range(7)]
    assert list(result.weights) == [5.0, 4.0, 5.0, 4.0, 4.0, 4.0, 4.0]
    assert result.collapsed.empty


def test_without_cells_the_unit_total_is_shared_equally() -> None:
    # No cell variables: 10 dossiers / 4 respondents = 2.5 each.
    result = poststratify(_data(["a", "a", "b", "b"]), pd.DataFrame({"unit": ["u"], "served": [10]}), [])
    assert list(result.weights) == [2.5, 2.5, 2.5, 2.5]


def test_a_cell_serving_a_single_dossier_still_stands_alone() -> None:
    # a: 1 served / 5 respondents = 0.2; b: 9 / 5 = 1.8. Both have min_cell respondents and something
    # served, so neither is merged (merging would give 10 / 10 = 1 to all).
    data = _data(["a"] * 5 + ["b"] * 5)
    frame = pd.DataFrame({"unit": "u", "field": ["a", "b"], "served": [1, 9]})
    result = poststratify(data, frame, ["field"], min_cell=5)
    assert list(result.weights) == pytest.approx([0.2] * 5 + [1.8] * 5)
    assert result.collapsed.empty


@pytest.mark.parametrize(("cells", "count_col"), [(["unit"], "served"), (["field"], "field")])
def test_column_names_must_be_distinct(cells: list[str], count_col: str) -> None:
    frame = pd.DataFrame({"unit": "u", "field": ["a"], "served": [1]})
    with pytest.raises(WeightingError, match="column names must be distinct"):
        poststratify(_data(["a"]), frame, cells, count_col=count_col)


def test_missing_keys_name_the_table() -> None:
    frame = pd.DataFrame({"unit": "u", "field": ["a", "b"], "served": [1, 2]})
    with pytest.raises(WeightingError, match=r"data\['field'\] has missing values"):
        poststratify(_data(["a", None]), frame, ["field"])  # type: ignore[list-item]
    with pytest.raises(WeightingError, match=r"frame\['field'\] has missing values"):
        poststratify(_data(["a"]), frame.assign(field=["a", None]), ["field"])


@pytest.mark.parametrize(("served", "message"), [
    (["ten", 2], r"frame\['served'\] has missing or non-numeric counts"),
    ([np.inf, 2], r"frame\['served'\] has infinite counts"),
])
def test_bad_counts_are_refused_with_their_reason(served: list[object], message: str) -> None:
    frame = pd.DataFrame({"unit": "u", "field": ["a", "b"], "served": served})
    with pytest.raises(WeightingError, match=message):
        poststratify(_data(["a", "b"]), frame, ["field"])


def test_a_unit_period_with_only_zero_counts_is_told_apart_from_a_missing_one() -> None:
    data = pd.DataFrame({"unit": "u", "month": "2026-10", "field": ["a", "a"]})
    zero = pd.DataFrame({"unit": "u", "month": "2026-10", "field": ["a"], "served": [0]})
    with pytest.raises(WeightingError, match="has respondents but only zero counts in the frame"):
        poststratify(data, zero, ["field"], period_col="month", min_cell=1)
    other = zero.assign(month="2026-09", served=5)
    with pytest.raises(WeightingError, match="has respondents but no rows in the frame"):
        poststratify(data, other, ["field"], period_col="month", min_cell=1)



def test_the_collapse_report_rows_by_hand() -> None:
    # Unit u: field a has 2 respondents (< min_cell 5) for 10 dossiers, b has 6 for 30: a cannot stand
    # alone, so both merge into the unit total ("field=*", 0 cell variables kept), w = 40 / 8 = 5.
    # Unit v served 7 dossiers and nobody answered: reported as not represented.
    data = _data(["a", "a"] + ["b"] * 6)
    frame = pd.DataFrame({"unit": ["u", "u", "v"], "field": ["a", "b", "a"], "served": [10, 30, 7]})
    result = poststratify(data, frame, ["field"], min_cell=5)
    assert list(result.weights) == [5.0] * 8
    rows = result.collapsed.to_dict("records")
    assert rows == [
        {"unit": "u", "field": "a", "respondents": 2, "served": 10.0, "reason": "too_few_respondents",
         "kept": 0, "merged_into": "field=*"},
        {"unit": "u", "field": "b", "respondents": 6, "served": 30.0, "reason": "sibling",
         "kept": 0, "merged_into": "field=*"},
        {"unit": "v", "field": "*", "respondents": 0, "served": 7.0, "reason": "no_respondents",
         "kept": -1, "merged_into": "(not represented: no respondents in this unit)"},
    ]


def test_without_cells_a_small_unit_is_reported_against_its_own_total() -> None:
    # No cell variables: the only cell is the unit; 2 respondents < min_cell still get 10 / 2 = 5
    # (nothing coarser to merge into), and a unit weighted whole is no collapse.
    result = poststratify(_data(["a", "b"]), pd.DataFrame({"unit": ["u"], "served": [10]}), [], min_cell=5)
    assert list(result.weights) == [5.0, 5.0]
    assert result.collapsed.empty
