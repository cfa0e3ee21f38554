"""`index_report.records`: a report's rows as dicts, the values and types ``DataFrame.to_dict`` gives."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from survey.services.reporting.index_report import records
from tests.survey.aggregate_helpers import demo_with_responses, province_report


def _same(found: Any, expected: Any) -> bool:
    both_nan = isinstance(found, float) and isinstance(expected, float) and math.isnan(found) \
        and math.isnan(expected)
    return type(found) is type(expected) and (both_nan or found == expected)


def _assert_same_records(found: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert len(found) == len(expected) > 0
    for ours, theirs in zip(found, expected, strict=True):
        assert list(ours) == list(theirs)
        assert all(_same(ours[key], theirs[key]) for key in theirs), (ours, theirs)


def test_a_reports_rows_are_the_records_pandas_gives(migrated_db: Path, tmp_path: Path) -> None:
    report = province_report(demo_with_responses(migrated_db, tmp_path, 120, seed=4))
    for table in (report.estimates, report.trend, report.changes.reset_index()):
        _assert_same_records(records(table), table.to_dict("records"))  # type: ignore[arg-type]
    assert report.estimates["est"].isna().any()  # missing figures are compared too


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"a": pd.array(["x", None], dtype=pd.StringDtype(na_value=math.nan)), "n": [1, 2],
                  "f": [0.5, math.nan], "b": [True, False], "o": ["p", None]}),
    pd.DataFrame({"a": pd.Series([], dtype=object)}),
])
def test_missing_values_and_empty_tables(frame: pd.DataFrame) -> None:
    expected = frame.to_dict("records")
    if expected:
        _assert_same_records(records(frame), expected)  # type: ignore[arg-type]
    else:
        assert records(frame) == []
