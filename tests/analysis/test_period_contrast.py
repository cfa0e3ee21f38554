"""Change between two quarters under one design over both, against R's svycontrast.

Reference: tests/analysis/r/change_reference.csv, written by tests/analysis/r/change_reference.R
(R 4.2.2, survey 4.1.1) from tests/analysis/data/counters.csv: 2026Q2 - 2026Q1, strata = unit,
weights w, lonely PSUs "adjust". Tolerance 1e-10 on the difference and its SE.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.change import change_between
from analysis.period_contrast import change_with_covariance
from analysis.tables import compute_indices
from instruments.index import IndexDefinition

from .conftest import R_DIR


def _quarters(counters: pd.DataFrame) -> pd.DataFrame:
    month = counters["submitted"].str.slice(5, 7).astype(int)
    return counters.assign(quarter=np.where(month <= 3, "2026Q1", "2026Q2"))


def test_change_and_its_se_equal_svycontrast(counters: pd.DataFrame, counters_parents: dict[str, str],
                                             definition: IndexDefinition) -> None:
    data = _quarters(counters)
    ours = change_with_covariance(data, definition, unit_col="unit", period_col="quarter", current="2026Q2",
                                  previous="2026Q1", parents=counters_parents, weights=data["w"])
    reference = pd.read_csv(R_DIR / "change_reference.csv")
    merged = reference.merge(ours, on=["domain", "stat_type", "stat"], how="left", suffixes=("_r", ""),
                             validate="1:1")
    assert len(merged) > 100 and merged["diff"].notna().all()
    np.testing.assert_allclose(merged["diff"], merged["diff_r"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(merged["se"], merged["se_r"], rtol=0, atol=1e-10)
    # what R leaves out (a statistic defined in one quarter only) is "not comparable" here
    rest = ours.merge(reference, on=["domain", "stat_type", "stat"], how="left", indicator=True)
    assert (rest.loc[rest["_merge"] == "left_only", "direction"] == "not_comparable").all()


def test_the_covariance_matters_for_parents_and_the_total(
    counters: pd.DataFrame, counters_parents: dict[str, str], definition: IndexDefinition
) -> None:
    """Independent periods (period_change) give other SEs where strata hold both quarters."""
    data = _quarters(counters)
    joint = change_with_covariance(data, definition, unit_col="unit", period_col="quarter", current="2026Q2",
                                   previous="2026Q1", parents=counters_parents, weights=data["w"])
    tables = {q: compute_indices(data[data["quarter"] == q], definition, unit_col="unit",
                                 parents=counters_parents, weight_col="w", lonely_psu="adjust", min_n=0)
              for q in ("2026Q1", "2026Q2")}
    independent = change_between(tables["2026Q2"], tables["2026Q1"], ["domain", "stat_type", "stat"])
    both = joint.merge(independent, on=["domain", "stat_type", "stat"], suffixes=("", "_ind"))
    both = both[(both["direction"] != "not_comparable") & both["diff_ind"].notna()]
    np.testing.assert_allclose(both["diff"], both["diff_ind"], rtol=0, atol=1e-12)
    total = both[both["domain"] == "total"]
    assert (abs(total["se"] / total["se_ind"] - 1) > 1e-3).any()
