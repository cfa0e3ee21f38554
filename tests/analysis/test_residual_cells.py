"""The variance parts of post-stratified cuts summed by weighting cell (`analysis.residual_cells`) are the
direct residual pass's (`CalibratedCuts.cells`), added in another order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import cut_cells
from analysis.data import item_matrices
from analysis.design import build_design
from analysis.domains import build_domains
from analysis.residual_cells import residual_cells
from analysis.sufficient import row_values, unit_cells
from analysis.tables import compute_indices
from instruments.index import IndexDefinition

from .test_calibration_r import PARENTS, _simulated, _simulated_weights


def assert_close(found: pd.DataFrame, expected: pd.DataFrame, rtol: float = 1e-12) -> float:
    """Every column equal, the floating ones to `rtol` relative to the larger value (p-values, which are
    probabilities, to `rtol` absolute: a p-value of 1e-200 is known to a few digits only); the worst
    difference returned."""
    figures = [c for c in expected.columns if pd.api.types.is_float_dtype(expected[c])]
    pd.testing.assert_frame_equal(found.drop(columns=figures), expected.drop(columns=figures),
                                  check_exact=True)
    assert list(found.columns) == list(expected.columns)
    worst = 0.0
    for column in figures:
        left, right = found[column].to_numpy(float), expected[column].to_numpy(float)
        finite = np.isfinite(right)
        assert np.array_equal(left[~finite], right[~finite], equal_nan=True), column
        both = finite & np.isfinite(left)
        assert both.sum() == finite.sum(), column
        scale = (np.ones(int(both.sum())) if column == "p_value"
                 else np.maximum(np.abs(left[both]), np.abs(right[both])))
        differs = np.abs(left[both] - right[both]) / np.where(scale > 0, scale, 1)
        worst = max(worst, float(np.max(differs, initial=0.0)))
        assert worst <= rtol, (column, worst)
    return worst


@pytest.mark.parametrize("stat_types", [None, ("overall_index",)])
def test_a_breakdown_table_is_the_residual_pass(definition: IndexDefinition,
                                                stat_types: tuple[str, ...] | None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit page's breakdown table (one scope unit, its units as strata, cuts by field and channel):
    the same rows as with the direct residual pass, every figure to 1e-12."""
    data, result = _simulated(), _simulated_weights()["ps_unit_field"]
    data["scope"] = "all"
    common = {"unit_col": "scope", "strata_col": "unit", "weights": result.weights, "min_n": 0,
              "lonely_psu": "adjust", "by": ["field", "channel"], "crossed_by": False,
              "calibration": result.calibration, "stat_types": stat_types}
    by_cell = compute_indices(data, definition, **common)  # type: ignore[arg-type]
    monkeypatch.setattr(cut_cells, "applies", lambda design, calibration: False)
    direct = compute_indices(data, definition, **common)  # type: ignore[arg-type]
    assert len(by_cell) >= 10
    assert assert_close(by_cell, direct) > 0  # not the same code path: the last bits differ somewhere


def test_the_sums_are_the_residuals_summed_by_hand(definition: IndexDefinition) -> None:
    """Each (stratum, unit) cell's totals and cross-products are those of ``w (δ x - m_g)`` written out
    respondent by respondent, ``m_g`` the base-weighted mean of ``δ x`` in the weighting cell."""
    data, result = _simulated(), _simulated_weights()["ps_unit_field"]
    calibration = result.calibration.aligned(data.index)  # type: ignore[attr-defined]
    weight = result.weights.reindex(data.index).to_numpy(float)
    items = item_matrices(data, definition)
    domains = build_domains(data["unit"], PARENTS)
    design = build_design(data, unit_col="unit", weight=weight)
    unit = domains.unit_codes
    n_units = int(unit.max()) + 1
    rows = np.flatnonzero((data["channel"] == data["channel"].iloc[0]).to_numpy())
    members = unit_cells(items, design, unit, rows, row_units=unit[rows])
    found = residual_cells(members, design, calibration, unit, n_units, 1, rows, np.zeros(len(rows), np.intp),
                           row_values(items, rows))

    x = row_values(items, np.arange(len(data)))
    base, cell = calibration.base_weight, calibration.model.indices
    inside = np.isin(np.arange(len(data)), rows)
    residual = np.zeros_like(x)
    for i in range(len(data)):
        same = [j for j in range(len(data)) if cell[j] == cell[i]]
        mean = sum(base[j] * x[j] * inside[j] for j in same) / sum(base[j] for j in same)
        residual[i] = weight[i] * (x[i] * inside[i] - mean)
    totals, cross, pair_cross = found.arrays[:3]
    k2 = 2 * len(items.criteria)
    pairs = members.layout.pair_columns()
    # The weighting cells lie within units here, so each cell's residuals total zero: what is left of
    # sums of thousands is rounding, measured against the size of what was summed.
    size = np.abs(weight[:, None] * x).sum(axis=0)
    assert len(found.stratum) == len(set(zip(design.stratum, unit, strict=True)))
    for at, (stratum, code) in enumerate(zip(found.stratum, found.unit, strict=True)):
        mine = residual[(design.stratum == stratum) & (unit == code)]
        assert (np.abs(totals[at] - mine.sum(axis=0)) <= 1e-14 * size).all()
        np.testing.assert_allclose(cross[at], mine[:, :k2].T @ mine[:, :k2], rtol=1e-12, atol=1e-12)
        by_hand = [[(mine[:, a] * mine[:, a]).sum(), (mine[:, a] * mine[:, b]).sum(),
                    (mine[:, b] * mine[:, b]).sum()] for a, b in pairs]
        np.testing.assert_allclose(pair_cross[at], by_hand, rtol=1e-12, atol=1e-12)
