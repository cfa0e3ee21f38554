"""The default interval's Kish floor respects the fpc: (1 - f) p (1 - p) / n_eff, none in a census.

Rule (docs/analysis.md, "The floor and the fpc"): the floor's effective size is Kish's n_eff divided by
the domain's 1 - f, the weight-share average of each stratum's 1 - f_h over the statistic's
respondents. Checked by hand on the committed household design, and on a census of it (fpc = the
sampled villages in every district), where R's variance (svydesign with fpc = sampsize) is 0 and so
is the interval's width.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.tables import compute_indices
from instruments.index import IndexDefinition


def _table(household: pd.DataFrame, definition: IndexDefinition) -> pd.DataFrame:
    return compute_indices(household, definition, unit_col="commune", weight_col="w", strata_col="district",
                           cluster_col="village", fpc_col="fpc", min_n=0)


def test_floor_is_kish_over_the_weighted_fpc(household: pd.DataFrame, definition: IndexDefinition) -> None:
    table = _table(household, definition).set_index(["domain", "stat_type", "stat"])
    valid = household[household["q1"].between(1, 5)]
    sampled = household.groupby("district")["village"].nunique()
    one_minus_f = 1 - sampled / household.groupby("district")["fpc"].first()
    share = (valid.groupby("district")["w"].sum() * one_minus_f).sum() / valid["w"].sum()
    kish = valid["w"].sum() ** 2 / (valid["w"] ** 2).sum()
    assert 0 < share < 1
    row = table.loc[("total", "criterion", "q1")]
    assert row["n_eff"] == np.float64(kish) or abs(row["n_eff"] - kish) < 1e-9
    assert abs(row["n_eff_floor"] - kish / share) < 1e-9


def test_a_census_has_no_floor_and_a_zero_width_interval(household: pd.DataFrame,
                                                        definition: IndexDefinition) -> None:
    census = household.assign(fpc=household.groupby("district")["village"].transform("nunique"))
    table = _table(census, definition)
    shares = table[table["stat_type"].isin(["criterion", "element", "overall_index"])
                   & (table["est"] > 0) & (table["est"] < 1)]
    assert len(shares) > 20
    assert (shares["se"] == 0).all()
    assert np.isinf(shares["n_eff_floor"]).all()
    np.testing.assert_allclose(shares["ci_lo"], shares["est"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(shares["ci_hi"], shares["est"], rtol=0, atol=1e-12)


def test_the_floor_does_not_depend_on_the_scale_of_the_weights(household: pd.DataFrame,
                                                               definition: IndexDefinition) -> None:
    # Weights normalised to sum to 0.1 (a relative weight, not an expansion factor): 1 - f and Kish's
    # n_eff are ratios of weight sums, so the floor is the same by hand as with the original weights.
    scaled = household.assign(w=household["w"] / household["w"].sum() / 10)
    table = _table(scaled, definition).set_index(["domain", "stat_type", "stat"])
    valid = scaled[scaled["q1"].between(1, 5)]
    assert valid["w"].sum() < 1
    sampled = scaled.groupby("district")["village"].nunique()
    one_minus_f = 1 - sampled / scaled.groupby("district")["fpc"].first()
    share = (valid.groupby("district")["w"].sum() * one_minus_f).sum() / valid["w"].sum()
    kish = valid["w"].sum() ** 2 / (valid["w"] ** 2).sum()
    assert 0 < share < 1
    row = table.loc[("total", "criterion", "q1")]
    assert abs(row["n_eff_floor"] - kish / share) < 1e-9
