"""Estimates, SEs, df, design effects and intervals against R's survey package.

Reference values: tests/analysis/r/reference.csv, written by tests/analysis/r/make_reference.R
(R 4.2.2, survey 4.1.1) from the committed CSVs in tests/analysis/data. Tolerances (absolute): point
estimates 1e-12; SEs, Wald/beta bounds and Kish n_eff 1e-10; logit bounds 1e-7 (R obtains them through
svyglm and a pnorm/qnorm round trip of the confidence level).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.tables import compute_indices
from instruments.index import IndexDefinition

from .conftest import R_DIR

KEYS = ["dataset", "lonely_psu", "domain", "cut", "stat_type", "stat"]


@pytest.fixture(scope="module")
def merged(
    counters: pd.DataFrame,
    counters_parents: dict[str, str],
    household: pd.DataFrame,
    definition: IndexDefinition,
) -> pd.DataFrame:
    reference = pd.read_csv(R_DIR / "reference.csv")
    reference["cut"] = reference["cut"].fillna("")
    ours = []
    for lonely in ("adjust", "average", "certainty"):
        table = compute_indices(
            counters, definition, unit_col="unit", parents=counters_parents, weight_col="w",
            by=["field"], lonely_psu=lonely, all_intervals=True, min_n=0,
        )
        ours.append(table.rename(columns={"field": "cut"}).assign(dataset="counters", lonely_psu=lonely))
    zones = dict(zip(household["commune"], household["zone"], strict=False))
    table = compute_indices(
        household, definition, unit_col="commune", parents=zones, weight_col="w", strata_col="district",
        cluster_col="village", fpc_col="fpc", all_intervals=True, min_n=0,
    )
    ours.append(table.assign(cut="", dataset="household", lonely_psu="fail"))
    clusters_only = compute_indices(
        household, definition, unit_col="commune", parents=zones, weight_col="w", cluster_col="village",
        all_intervals=True, min_n=0,
    )
    ours.append(clusters_only.assign(cut="", dataset="household_clusters", lonely_psu="fail"))
    merged = reference.merge(pd.concat(ours), on=KEYS, how="left", suffixes=("_r", ""), validate="1:1")
    assert merged["n"].notna().all(), "every R domain x statistic has a row in our table"
    return merged


def test_reference_covers_both_designs_and_every_statistic(merged: pd.DataFrame) -> None:
    assert set(merged["dataset"]) == {"counters", "household", "household_clusters"}
    assert set(merged["stat_type"]) == {
        "criterion", "element", "overall_index", "mean_score", "comprehensive", "separate"
    }
    assert len(merged) > 3000


@pytest.mark.parametrize(("column", "tolerance"), [
    ("est", 1e-12), ("se", 1e-10), ("n_eff", 1e-10), ("deff", 1e-10),
])
def test_estimates_match_r(merged: pd.DataFrame, column: str, tolerance: float) -> None:
    theirs, ours = merged[f"{column}_r"], merged[column]
    both = theirs.notna() & np.isfinite(theirs)
    if column == "deff":
        # Where everyone in the domain answers alike R's variance is rounding noise (~1e-33) and its
        # deff noise/noise; ours is exactly 0/0.
        both &= merged["se_r"] > 1e-12
    assert both.sum() > 1000
    np.testing.assert_allclose(ours[both], theirs[both], rtol=0, atol=tolerance)
    assert (ours[~both].isna() | ~np.isfinite(ours[~both])).all()


def test_counts_and_degrees_of_freedom_match_r_degf(merged: pd.DataFrame) -> None:
    assert (merged["n"] == merged["n_r"]).all()
    np.testing.assert_array_equal(merged["df"], merged["df_r"])


@pytest.mark.parametrize(("method", "tolerance"), [("beta", 1e-10), ("wald", 1e-10), ("logit", 1e-7)])
def test_intervals_match_svyciprop(merged: pd.DataFrame, method: str, tolerance: float) -> None:
    # R's mean of an all-ones column can be 1 - 1e-16 with an SE of 1e-17: a degenerate interval that
    # we report as the boundary case instead (tested below), so such rows are not compared here.
    inside = (merged["est_r"] > 0) & (merged["est_r"] < 1) & (merged["df_r"] > 0) & (merged["se_r"] > 1e-12)
    if method == "logit":
        # At df = 1 R's confint.svyglm turns qt(0.025, 1) into a confidence level that rounds to 1 and
        # returns (0, NaN); the t-quantile formula it approximates is what we return.
        inside &= merged["df_r"] >= 2
    compared = 0
    for side in ("lo", "hi"):
        theirs, ours = merged[f"ci_{method}_{side}_r"], merged[f"ci_{method}_{side}"]
        rows = inside & theirs.notna()
        compared += int(rows.sum())
        np.testing.assert_allclose(ours[rows], theirs[rows], rtol=0, atol=tolerance)
    assert compared > 800


def test_boundary_rows_use_clopper_pearson_on_kish_n_eff(merged: pd.DataFrame) -> None:
    boundary = merged[merged["est"].isin([0.0, 1.0]) & merged["stat_type"].ne("mean_score")]
    assert len(boundary) > 50
    assert (boundary["method"] == "boundary_cp").all()
    assert boundary["flags"].str.contains("boundary_cp").all()
    ones = boundary[boundary["est"] == 1.0]
    # x = n_eff successes: lower bound (alpha/2)^(1/n_eff) (Clopper & Pearson 1934, closed form at x = n).
    np.testing.assert_allclose(ones["ci_lo"], 0.025 ** (1 / ones["n_eff"]), rtol=1e-12)
    assert (ones["ci_hi"] == 1.0).all()
