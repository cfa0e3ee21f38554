"""The cuts of a table stacked in one pass (`analysis.cut_cells`) give each cut the rows it gets when it is
estimated alone, to the bit: unweighted, with fixed weights, post-stratified with clusters (the
calibration nested in units), raked on crossed margins (cut by cut), and when the cuts fill several
batches. Post-stratified respondents each their own PSU have their variance parts summed by weighting
cell (`analysis.residual_cells`): to 1e-12 there."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import cut_cells
from analysis.cut_cells import CalibratedCuts, cut_estimates
from analysis.data import ItemMatrices, item_matrices
from analysis.design import Design, IntArray, build_design
from analysis.domains import Domains, build_domains, cuts
from analysis.estimates import domain_estimates
from analysis.residual_cells import applies
from analysis.sufficient import cell_statistics
from analysis.tables import compute_indices
from instruments.index import IndexDefinition

from .test_calibration_r import PARENTS, _simulated, _simulated_weights
from .test_residual_cells import assert_close


def _alone(items: ItemMatrices, design: Design, domains: Domains, rows: IntArray,
           calibrated: CalibratedCuts | None, stat_types: tuple[str, ...] | None) -> pd.DataFrame:
    """The cut estimated on its own, as `compute_indices` did cut by cut."""
    cells = (calibrated.cells(rows) if calibrated is not None
             else cell_statistics(items, design, domains.unit_codes, domains.membership, rows))
    return domain_estimates(cells, design, items, len(domains.labels), stat_types)


@pytest.mark.parametrize("weighting", [None, "fixed", "ps_unit_field", "rake_crossed"])
@pytest.mark.parametrize("stat_types", [None, ("overall_index",)])
@pytest.mark.parametrize("clustered", [False, True])
@pytest.mark.parametrize("batch", [65_536, 700])
def test_each_stacked_cut_is_the_cut_estimated_alone(definition: IndexDefinition, weighting: str | None,
                                                     stat_types: tuple[str, ...] | None, clustered: bool,
                                                     batch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cut_cells, "MAX_ENTRIES", batch)
    data = _simulated()
    if clustered:  # pairs of respondents of a unit share a cluster
        data["cluster"] = data["unit"] + ":" + (np.arange(len(data)) // 2).astype(str)
    result = None if weighting in (None, "fixed") else _simulated_weights()[weighting]
    weight = (None if weighting is None
              else np.random.default_rng(4).uniform(0.5, 3, len(data)) if weighting == "fixed"
              else result.weights.reindex(data.index).to_numpy(float))  # type: ignore[union-attr]
    items = item_matrices(data, definition)
    domains = build_domains(data["unit"], PARENTS)
    design = build_design(data, unit_col="unit", weight=weight, lonely_psu="adjust",
                          cluster_col="cluster" if clustered else None)
    calibrated = None if result is None else CalibratedCuts(
        items, design, result.calibration.aligned(data.index),  # type: ignore[attr-defined]
        domains.unit_codes, domains.membership, len(domains.labels))
    every_cut = [rows for _labels, rows in cuts(data, by=["field", "channel"], crossed=False)]
    assert len(every_cut) > 5
    together = cut_estimates(items, design, domains, every_cut, calibrated, stat_types)
    assert len(together) == len(every_cut)
    # Post-stratified respondents: the variance parts are summed by weighting cell
    # (`analysis.residual_cells`), the same sums in another order.
    by_cell = calibrated is not None and applies(design, calibrated.calibration)
    for rows, stacked in zip(every_cut, together, strict=True):
        alone = _alone(items, design, domains, rows, calibrated, stat_types)
        if by_cell:
            assert_close(stacked, alone)
        else:
            pd.testing.assert_frame_equal(stacked, alone, check_exact=True)


def test_batches_bound_the_entries() -> None:
    assert cut_cells._batches([10, 20, 30]) == [[0, 1, 2]]
    most = cut_cells.MAX_ENTRIES
    assert cut_cells._batches([most - 5, 10, most + 1, 3]) == [[0], [1], [2], [3]]


@pytest.mark.parametrize("weighting", ["ps_unit_field", "rake_nested", "rake_crossed"])
@pytest.mark.parametrize("stat_types", [("overall_index",), ("criterion", "element")])
def test_a_table_of_ratios_alone_has_the_figures_of_the_whole_table(definition: IndexDefinition,
                                                                     weighting: str,
                                                                     stat_types: tuple[str, ...]) -> None:
    """Asked for ratio statistics only, a post-stratified table's variance pass totals the criteria's
    columns alone (`CalibratedCuts`, ``ratios_only``; raking keeps every column): its rows are the whole
    table's, to the bit."""
    data, result = _simulated(), _simulated_weights()[weighting]
    common = {"unit_col": "unit", "parents": PARENTS, "weights": result.weights, "min_n": 0,
              "lonely_psu": "adjust", "by": ["field", "channel"], "crossed_by": False,
              "calibration": result.calibration}  # type: ignore[attr-defined]
    whole = compute_indices(data, definition, **common)  # type: ignore[arg-type]
    ratios = compute_indices(data, definition, stat_types=stat_types, **common)  # type: ignore[arg-type]
    expected = whole[whole["stat_type"].isin(stat_types)].reset_index(drop=True)
    assert len(ratios) > 50
    pd.testing.assert_frame_equal(ratios, expected, check_exact=True)
