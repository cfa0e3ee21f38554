"""Properties that must hold for any data: invariances, ranges, and parent = pooled children."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.tables import compute_indices
from instruments.index import IndexDefinition

DEFINITION = IndexDefinition.from_mapping([("q1", "e1"), ("q2", "e1"), ("q3", "e2")])
CODES = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, np.nan]
PARENTS = {"A": "P", "B": "P", "C": "Q"}


@st.composite
def samples(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(2, 40))
    units = draw(st.lists(st.sampled_from(["A", "B", "C"]), min_size=n, max_size=n))
    weights = draw(st.lists(st.floats(0.1, 10.0), min_size=n, max_size=n))
    data = pd.DataFrame({"unit": units, "w": weights})
    for item in ("q1", "q2", "q3"):
        data[item] = draw(st.lists(st.sampled_from(CODES), min_size=n, max_size=n))
    return data


def _table(data: pd.DataFrame, **kwargs: object) -> pd.DataFrame:
    return compute_indices(data, DEFINITION, unit_col="unit", parents=PARENTS, lonely_psu="adjust",
                           min_n=0, **kwargs).set_index(["domain", "stat_type", "stat"]).sort_index()


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(samples())
def test_unit_weights_equal_unweighted(data: pd.DataFrame) -> None:
    unweighted = _table(data)
    ones = _table(data.assign(w=1.0), weight_col="w")
    for column in ("est", "se", "df", "n", "ci_lo", "ci_hi", "deff", "n_eff"):
        np.testing.assert_allclose(ones[column], unweighted[column], rtol=1e-12, atol=1e-12)


@SETTINGS
@given(samples(), st.floats(0.01, 1000.0))
def test_scaling_weights_changes_nothing_but_sum_w(data: pd.DataFrame, factor: float) -> None:
    base = _table(data, weight_col="w")
    scaled = _table(data.assign(w=data["w"] * factor), weight_col="w")
    for column in ("est", "df", "ci_lo", "ci_hi", "deff", "deff_kish", "n_eff"):
        np.testing.assert_allclose(scaled[column], base[column], rtol=1e-9, atol=1e-12, err_msg=column)
    # A variance that is zero in exact arithmetic (every answer alike) comes out as rounding noise of
    # about 1e-15, whose square root is 4e-8: compare standard errors on the variance scale.
    np.testing.assert_allclose(scaled["se"] ** 2, base["se"] ** 2, rtol=1e-9, atol=1e-12, err_msg="se")
    np.testing.assert_allclose(scaled["sum_w"], base["sum_w"] * factor, rtol=1e-12)


@SETTINGS
@given(samples())
def test_estimates_in_range_and_inside_their_interval(data: pd.DataFrame) -> None:
    table = _table(data, weight_col="w").reset_index()
    shares = table[table["stat_type"] != "mean_score"].dropna(subset=["est"])
    assert ((shares["est"] >= 0) & (shares["est"] <= 1)).all()
    scores = table[table["stat_type"] == "mean_score"].dropna(subset=["est"])
    # a weighted mean of equal codes may land one rounding step outside them (5 + 1 ulp)
    assert ((scores["est"] >= 1 - 1e-12) & (scores["est"] <= 5 + 1e-12)).all()
    bounded = shares.dropna(subset=["ci_lo", "ci_hi"])
    assert (bounded["ci_lo"] <= bounded["est"] + 1e-12).all()
    assert (bounded["est"] <= bounded["ci_hi"] + 1e-12).all()


@SETTINGS
@given(samples())
def test_parent_criterion_pools_its_children(data: pd.DataFrame) -> None:
    table = _table(data, weight_col="w").reset_index()
    crit = table[table["stat_type"] == "criterion"].set_index(["domain", "stat"])
    for stat in ("q1", "q2", "q3"):
        children = crit.loc[[("A", stat), ("B", stat)]] if ("A", stat) in crit.index else None
        if children is None:
            continue
        children = children[children["sum_w"] > 0]
        parent = crit.loc[("P", stat)]
        if children.empty:
            assert parent["n"] == 0
            continue
        # ratio of summed numerators (est * sum of weights of valid answers) over summed denominators
        pooled = (children["est"] * children["sum_w"]).sum() / children["sum_w"].sum()
        assert abs(parent["est"] - pooled) < 1e-12
        assert parent["n"] == children["n"].sum()
