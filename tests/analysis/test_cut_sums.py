"""A table's cuts from its parts' sums (`analysis.cut_sums`): a year's breakdown table from its months',
each weighted on its own, is `compute_indices` on the whole year's respondents, to 1e-12."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.cut_sums import added, cut_sums, cut_table
from analysis.data import AnalysisInputError
from analysis.tables import compute_indices
from analysis.weights import poststratify
from instruments.index import IndexDefinition

from .test_calibration_r import _simulated, _simulated_weights
from .test_residual_cells import assert_close

BY = ["field", "channel"]
MONTHS = ["2026-01", "2026-02", "2026-03"]


def _months() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The simulated respondents over three months, a channel missing from one month and a unit from
    another; a frame of dossiers served per unit, month and field."""
    rng = np.random.default_rng(41)
    data = _simulated()
    data["month"] = rng.choice(MONTHS, len(data))
    data = data[~((data["month"] == "2026-02") & (data["channel"] == "online"))]
    data = data[~((data["month"] == "2026-03") & (data["unit"] == "u2"))].reset_index(drop=True)
    data["scope"] = "all"
    counts = data.groupby(["unit", "month", "field"]).size().rename("n").reset_index()
    counts["served"] = np.round(counts["n"] * rng.uniform(1.5, 6, len(counts)))
    return data, counts.drop(columns="n")


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values([*BY, "domain", "stat_type", "stat"], kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("stat_types", [None, ("overall_index",)])
def test_a_years_cuts_from_its_months_are_the_years(definition: IndexDefinition, weighted: bool,
                                                    stat_types: tuple[str, ...] | None) -> None:
    data, frame = _months()
    common = {"unit_col": "scope", "strata_col": "unit"}
    outputs = {"targets": 0.8, "min_n": 10, "stat_types": stat_types}

    def weighting(rows: pd.DataFrame, served: pd.DataFrame) -> dict[str, object]:
        if not weighted:
            return {}
        found = poststratify(rows, served, ["field"], unit_col="unit", count_col="served", period_col="month",
                             min_cell=3)
        return {"weights": found.weights, "calibration": found.calibration}

    whole = compute_indices(data, definition, by=BY, crossed_by=False, lonely_psu="adjust", **common,
                            **weighting(data, frame), **outputs)  # type: ignore[arg-type]
    parts = []
    for month in MONTHS:
        rows = data[data["month"] == month]
        parts.append(cut_sums(rows, definition, by=BY, ratios_only=stat_types is not None, **common,
                              **weighting(rows, frame[frame["month"] == month]))[""])  # type: ignore[arg-type]
    found = cut_table(added(parts), definition, **outputs)  # type: ignore[arg-type]
    assert len(found) == len(whole) and len(found) >= 10
    assert list(found.columns) == list(whole.columns)
    assert_close(_sorted(found), _sorted(whole))
    # every month's sums in one pass over the period's respondents, weighted as the period is
    at_once = cut_sums(data, definition, by=BY, ratios_only=stat_types is not None, part_col="month",
                       **common, **weighting(data, frame))  # type: ignore[arg-type]
    assert sorted(at_once) == MONTHS
    assert_close(_sorted(cut_table(added(list(at_once.values())), definition, **outputs)),  # type: ignore[arg-type]
                 _sorted(whole))
    alone = cut_table(parts[1], definition, **outputs)  # type: ignore[arg-type]
    assert_close(_sorted(cut_table(at_once[MONTHS[1]], definition, **outputs)),  # type: ignore[arg-type]
                 _sorted(alone))


def test_a_weighting_cell_may_not_span_parts(definition: IndexDefinition) -> None:
    """Weights made in cells of the whole period (unit x field) cannot be split into months."""
    data, frame = _months()
    whole = poststratify(data.assign(period="y"), frame.assign(period="y").groupby(
        ["unit", "period", "field"], as_index=False)["served"].sum(), ["field"], unit_col="unit",
        count_col="served", period_col="period", min_cell=3)
    with pytest.raises(AnalysisInputError, match="two parts"):
        cut_sums(data, definition, unit_col="scope", strata_col="unit", by=BY, part_col="month",
                 weights=whole.weights, calibration=whole.calibration)


def test_only_post_stratified_parts_add_up(definition: IndexDefinition) -> None:
    data = _simulated().assign(scope="all")
    raked = _simulated_weights()["rake_crossed"]
    with pytest.raises(AnalysisInputError, match="post-stratification"):
        cut_sums(data, definition, unit_col="scope", strata_col="unit", by=BY, weights=raked.weights,
                 calibration=raked.calibration)  # type: ignore[attr-defined]
