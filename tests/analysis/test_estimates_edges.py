"""analysis.estimates: mutants `make mutation` found alive (lonely-PSU message, rounding threshold, floor)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.design import LonelyPSUError
from analysis.tables import compute_indices
from instruments.index import IndexDefinition


def test_a_lonely_psu_error_names_the_stratum_that_has_one() -> None:
    # Stratum "a" has two clusters, stratum "b" one: R's default (lonely_psu="fail") refuses, and the
    # message must point at "b", not at the first stratum seen.
    data = pd.DataFrame({"unit": "u", "stratum": ["a", "a", "a", "b", "b"],
                         "cluster": ["a1", "a1", "a2", "b1", "b1"], "q1": [5, 4, 2, 5, 1]})
    definition = IndexDefinition.from_mapping([("q1", "e1")])
    message = (r"^stratum 'b' has only one PSU \(lonely_psu='fail', R's default\); "
               r"choose lonely_psu='adjust', 'average', 'certainty' or 'remove'$")
    with pytest.raises(LonelyPSUError, match=message):
        compute_indices(data, definition, unit_col="unit", strata_col="stratum", cluster_col="cluster",
                        min_n=0)


@pytest.mark.parametrize("weight", [1.0, 1e6])
def test_the_rounding_threshold_does_not_zero_a_real_variance_under_large_weights(weight: float) -> None:
    # 20 respondents, each its own PSU, equal weights, 15 satisfied: the linearized variance of a ratio
    # with equal weights is n/(n-1) sum z_i^2 with z_i = (y_i - p)/n, i.e. p (1 - p) / (n - 1) by hand
    # (Lumley 2010, sec. 2.3, with-replacement), whatever the common weight: se = sqrt(0.1875 / 19).
    data = pd.DataFrame({"unit": "u", "w": weight, "q1": [5] * 15 + [1] * 5})
    definition = IndexDefinition.from_mapping([("q1", "e1")])
    table = compute_indices(data, definition, unit_col="unit", weight_col="w", min_n=0)
    row = table[(table["domain"] == "u") & (table["stat_type"] == "criterion")].iloc[0]
    assert row["est"] == pytest.approx(0.75, abs=1e-12)
    assert row["se"] == pytest.approx(math.sqrt(0.75 * 0.25 / 19), rel=1e-9)
    assert math.sqrt(0.75 * 0.25 / 19) == pytest.approx(0.0993399, abs=1e-7)


def test_a_criterion_with_no_design_variance_sends_the_composite_floor_to_kish() -> None:
    # 4 PSUs of 2 respondents, equal weights. q1: one satisfied and one not in every PSU, so p = 0.5 and
    # every PSU total equals the mean: design variance 0 at 0 < p < 1, nothing to scale up to the Kish
    # floor. The element's floor then falls back to its Kish n_eff, (sum w)^2 / sum w^2 = 8 by hand
    # (docstring of _floored_composite_variance), not to "no floor" (inf).
    data = pd.DataFrame({"unit": "u", "psu": [f"p{i // 2}" for i in range(8)],
                         "q1": [5, 1] * 4, "q2": [5, 5, 5, 1, 5, 5, 1, 1]})
    definition = IndexDefinition.from_mapping([("q1", "e1"), ("q2", "e1")])
    table = compute_indices(data, definition, unit_col="unit", cluster_col="psu", min_n=0)
    rows = table[table["domain"] == "u"].set_index(["stat_type", "stat"])
    assert rows.loc[("criterion", "q1"), "se"] == 0.0
    assert rows.loc[("element", "e1"), "n_eff_floor"] == pytest.approx(8.0, abs=1e-12)


def test_an_unscalable_criterion_only_touches_the_composites_it_belongs_to() -> None:
    # As above, plus e2 = q3, clustered: two PSUs all satisfied, two none, p = 0.5. By hand, its PSU
    # totals of z_i = (y_i - p) / 8 are +-0.125, so the design variance is 4/3 * 4 * 0.125^2 = 0.0833,
    # above the Kish floor 0.25 / 8 = 0.03125: q3 is not floored, e2 has no floor (inf), whatever q1 in
    # e1 does. The overall index contains q1, so it falls back to Kish's n_eff, 8.
    data = pd.DataFrame({"unit": "u", "psu": [f"p{i // 2}" for i in range(8)],
                         "q1": [5, 1] * 4, "q2": [5, 5, 5, 1, 5, 5, 1, 1], "q3": [5, 5, 5, 5, 1, 1, 1, 1]})
    definition = IndexDefinition.from_mapping([("q1", "e1"), ("q2", "e1"), ("q3", "e2")])
    table = compute_indices(data, definition, unit_col="unit", cluster_col="psu", min_n=0)
    rows = table[table["domain"] == "u"].set_index(["stat_type", "stat"])
    assert rows.loc[("criterion", "q3"), "se"] ** 2 == pytest.approx(4 / 3 * 4 * 0.125**2, rel=1e-12)
    assert rows.loc[("element", "e2"), "n_eff_floor"] == float("inf")
    assert rows.loc[("element", "e1"), "n_eff_floor"] == pytest.approx(8.0, abs=1e-12)
    assert rows.loc[("overall_index", "overall"), "n_eff_floor"] == pytest.approx(8.0, abs=1e-12)


def test_lonely_psu_average_scales_the_variance_by_strata_over_non_lonely_strata() -> None:
    # Strata a (PSUs a1, a2), b (b1, b2), c (c1 alone), one respondent per PSU, weight 1; y = 1, 0, 1, 1, 0,
    # so p = 3/5. By hand, z_i = (y_i - p) / 5 = 0.08, -0.12, 0.08, 0.08, -0.12; stratum a contributes
    # 2 * ((0.08 + 0.02)^2 + (-0.12 + 0.02)^2) = 0.04, b 0, c (lonely) 0. R's survey.lonely.psu = "average"
    # scales by H / (H - lonely) = 3 / 2 (svyrecvar's onestage): var = 0.06; "certainty" leaves 0.04.
    data = pd.DataFrame({"unit": "u", "stratum": ["a", "a", "b", "b", "c"],
                         "psu": ["a1", "a2", "b1", "b2", "c1"], "q1": [5, 1, 5, 5, 1]})
    definition = IndexDefinition.from_mapping([("q1", "e1")])
    # The element's floor: Kish n_eff 5, floor variance 0.24 / 5 = 0.048 > 0.04, so q1 is scaled up to
    # 0.048 and the lonely adjustment applies to it as well: n_eff_floor = 0.24 / (0.048 * 3/2) = 10/3
    # under "average", 0.24 / 0.048 = 5 under "certainty".
    for lonely, var, floor in (("average", 0.06, 10 / 3), ("certainty", 0.04, 5.0)):
        table = compute_indices(data, definition, unit_col="unit", strata_col="stratum", cluster_col="psu",
                                lonely_psu=lonely, min_n=0)
        rows = table[table["domain"] == "u"].set_index(["stat_type", "stat"])
        assert rows.loc[("criterion", "q1"), "est"] == pytest.approx(0.6, abs=1e-12)
        for stat in (("criterion", "q1"), ("element", "e1"), ("overall_index", "overall")):
            assert rows.loc[stat, "se"] ** 2 == pytest.approx(var, rel=1e-12), (lonely, stat)
        assert rows.loc[("element", "e1"), "n_eff_floor"] == pytest.approx(floor, rel=1e-12)


def test_mean_score_design_effect_of_a_simple_random_sample_is_one() -> None:
    # Scores 5, 1, 5, 5, 1, equal weights, no clusters. By hand: mean 3.4, population variance
    # 77/5 - 3.4^2 = 3.84, variance of the mean s^2 / n = (5 * 3.84 / 4) / 5 = 0.96, and R's
    # svymean(deff = "replace") SRS variance 3.84 / (n - 1) = 0.96: deff = 1 (Kish 1965).
    data = pd.DataFrame({"unit": "u", "q1": [5, 1, 5, 5, 1]})
    table = compute_indices(data, IndexDefinition.from_mapping([("q1", "e1")]), unit_col="unit", min_n=0)
    row = table[(table["domain"] == "u") & (table["stat_type"] == "mean_score")].iloc[0]
    assert row["est"] == pytest.approx(3.4, abs=1e-12)
    assert row["se"] ** 2 == pytest.approx(0.96, rel=1e-12)
    assert row["deff"] == pytest.approx(1.0, rel=1e-12)


def test_design_effects_that_have_no_srs_counterpart_are_missing() -> None:
    # Element and overall indices average several criteria: no single yes/no variable has their SRS
    # variance, so their deff is NaN. Everyone scoring 4 gives a mean score with no spread: deff is
    # 0 / 0, NaN (R's svymean gives NaN too), not 0.
    data = pd.DataFrame({"unit": "u", "q1": [5, 1, 5, 5, 1], "q2": 4})
    definition = IndexDefinition.from_mapping([("q1", "e1"), ("q2", "e1")])
    table = compute_indices(data, definition, unit_col="unit", min_n=0)
    rows = table[table["domain"] == "u"].set_index(["stat_type", "stat"])
    assert np.isnan(rows.loc[("element", "e1"), "deff"])
    assert np.isnan(rows.loc[("overall_index", "overall"), "deff"])
    assert rows.loc[("mean_score", "q2"), "se"] == 0.0 and np.isnan(rows.loc[("mean_score", "q2"), "deff"])
    assert rows.loc[("criterion", "q1"), "deff"] == pytest.approx(1.0, rel=1e-12)  # an SRS: deff 1


def test_the_design_effect_of_two_respondents_is_that_of_simple_random_sampling() -> None:
    # Two respondents, one satisfied, equal weights, one stratum: p = 1/2. The with-replacement variance
    # of the share is p (1 - p) / (n - 1) = 0.25 (Lumley 2010, sec. 2.3), and the SRS variance that
    # svymean(deff = "replace") divides by is the population variance over n - 1 = 0.25 / 1: deff = 1,
    # by hand. Two is the smallest n with a design effect at all (one respondent has no spread).
    data = pd.DataFrame({"unit": "u", "q1": [5, 1]})
    table = compute_indices(data, IndexDefinition.from_mapping([("q1", "e1")]), unit_col="unit", min_n=0)
    row = table[(table["domain"] == "u") & (table["stat_type"] == "criterion")].iloc[0]
    assert row["n"] == 2 and row["est"] == pytest.approx(0.5, abs=1e-12)
    assert row["se"] ** 2 == pytest.approx(0.25, rel=1e-12)
    assert row["deff"] == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("weight", [1.0, 1e6])
def test_the_mean_scores_design_effect_does_not_depend_on_the_scale_of_the_weights(weight: float) -> None:
    # Four respondents, equal weights, codes 5, 4, 2, 1: the with-replacement variance of the mean is
    # sum (y - ybar)^2 / (n (n - 1)) and the SRS variance it is compared with is the population variance
    # sum (y - ybar)^2 / n over n - 1, the same number: deff = 1 by hand, whether each respondent
    # weighs 1 or a million dossiers (a rounding-noise threshold must scale with the weights, not grow).
    data = pd.DataFrame({"unit": "u", "w": weight, "q1": [5, 4, 2, 1]})
    table = compute_indices(data, IndexDefinition.from_mapping([("q1", "e1")]), unit_col="unit",
                            weight_col="w", min_n=0)
    row = table[(table["domain"] == "u") & (table["stat_type"] == "mean_score")].iloc[0]
    assert row["est"] == pytest.approx(3.0, rel=1e-12)
    assert row["se"] ** 2 == pytest.approx(10 / 12, rel=1e-9)  # sum (y - 3)^2 = 10, n (n - 1) = 12
    assert row["deff"] == pytest.approx(1.0, rel=1e-9)


def test_with_several_lonely_strata_the_error_names_the_first_that_counts() -> None:
    # Strata in order a, b, c, d: "a" has two clusters; "b" one cluster but every answer to q1 is not
    # applicable (NaN), so it holds no respondent of q1 and is no reason to refuse; "c" and "d" have
    # one cluster each with answers. The message names "c": not "b" (a stratum without respondents),
    # not "d" (the second lonely one), not "a".
    data = pd.DataFrame({"unit": "u", "stratum": ["a", "a", "b", "b", "c", "c", "d"],
                         "cluster": ["a1", "a2", "b1", "b1", "c1", "c1", "d1"],
                         "q1": [5, 4, np.nan, np.nan, 5, 1, 4]})
    definition = IndexDefinition.from_mapping([("q1", "e1")])
    with pytest.raises(LonelyPSUError, match=r"^stratum 'c' has only one PSU"):
        compute_indices(data, definition, unit_col="unit", strata_col="stratum", cluster_col="cluster",
                        min_n=0)


@pytest.mark.parametrize("factor", [1.0, 3.0])
def test_the_same_code_from_everyone_has_no_variance_whatever_the_weights(factor: float) -> None:
    # Found by the weight-scaling property test: two respondents of unit B, both answering 3 to q3,
    # weights 5.865636... and 5.78125. Every linearized value is 0, so the variance is 0 by hand and the
    # mean score's interval is [3, 3]. The centred cross-products are differences of sums near
    # (3 w)^2 ~ 300 and kept ~2e-16 of rounding, which the noise test, scaled to the centred values
    # (~0.06), did not recognise: se 1.4e-8 at factor 1 and 1.4e-8 (another value) at factor 3.
    data = pd.DataFrame({"unit": ["A", "B", "A", "A", "B", "A"],
                         "w": [1.0, 5.86563633912433868, 1.0, 1.0, 5.78125, 1.0],
                         "q1": 0.0, "q2": 0.0, "q3": [0.0, 3.0, 0.0, 0.0, 3.0, 0.0]})
    definition = IndexDefinition.from_mapping([("q1", "e1"), ("q2", "e1"), ("q3", "e2")])
    table = compute_indices(data.assign(w=data["w"] * factor), definition, unit_col="unit", weight_col="w",
                            lonely_psu="adjust", min_n=0)
    row = table[(table["domain"] == "B") & (table["stat_type"] == "mean_score")
                & (table["stat"] == "q3")].iloc[0]
    assert row["est"] == pytest.approx(3.0, abs=1e-12) and row["se"] == 0.0
    assert row["ci_lo"] == row["est"] == row["ci_hi"]


def test_a_criterion_nobody_answered_leaves_its_element_out_of_the_composites() -> None:
    # Unit u answered only q1 (q2 and q3 "not applicable"); unit v answered all three. By hand, with
    # "satisfied" = codes 4 and 5: u q1 = 2/4 = .5, so u's e1 = .5 (q1 alone), e2 undefined and u's
    # overall = .5; total q1 = 5/8, q2 = 1/4 (v only), e1 = (.625 + .25) / 2 = .4375, e2 = q3 = .5,
    # overall = (.4375 + .5) / 2 = .46875. u's q1 SE: p (1 - p) / (n - 1) = .25 / 3 with every
    # respondent its own PSU (Lumley 2010, sec. 2.3).
    definition = IndexDefinition.from_mapping([("q1", "e1"), ("q2", "e1"), ("q3", "e2")])
    data = pd.DataFrame({"unit": ["u"] * 4 + ["v"] * 4, "q1": [5, 4, 2, 1, 5, 5, 4, 1],
                         "q2": [np.nan] * 4 + [4, 2, 2, 2], "q3": [np.nan] * 4 + [5, 5, 1, 1]})
    table = compute_indices(data, definition, unit_col="unit", min_n=0).set_index(
        ["domain", "stat_type", "stat"])
    expected = {("u", "criterion", "q1"): 0.5, ("u", "element", "e1"): 0.5,
                ("u", "overall_index", "overall"): 0.5, ("total", "criterion", "q1"): 0.625,
                ("total", "criterion", "q2"): 0.25, ("total", "element", "e1"): 0.4375,
                ("total", "element", "e2"): 0.5, ("total", "overall_index", "overall"): 0.46875}
    for key, value in expected.items():
        assert table.loc[key, "est"] == pytest.approx(value, abs=1e-12), key
    for key in (("u", "criterion", "q2"), ("u", "criterion", "q3"), ("u", "element", "e2")):
        assert math.isnan(table.loc[key, "est"]) and table.loc[key, "n"] == 0, key
    assert table.loc[("u", "element", "e1"), "se"] == pytest.approx(math.sqrt(0.25 / 3), rel=1e-12)
    assert table["n"].dtype == np.int64  # a count: "4", not "4.0", in the published CSV


def test_a_stratum_without_answers_to_an_item_adds_no_degree_of_freedom_loss() -> None:
    # Stratum a: clusters a1, a2 answer q1; stratum b: clusters b1, b2 answer only q2. Design df of a
    # statistic = its PSUs minus its strata (R's degf() of the subset design): q1 2 - 1 = 1, q2
    # likewise 1; the element (both criteria) 4 - 2 = 2.
    definition = IndexDefinition.from_mapping([("q1", "e1"), ("q2", "e1")])
    data = pd.DataFrame({"unit": "u", "stratum": ["a", "a", "b", "b"], "cluster": ["a1", "a2", "b1", "b2"],
                         "q1": [5, 2, np.nan, np.nan], "q2": [np.nan, np.nan, 4, 1]})
    table = compute_indices(data, definition, unit_col="unit", strata_col="stratum", cluster_col="cluster",
                            min_n=0).set_index(["domain", "stat_type", "stat"])
    assert table.loc[("u", "criterion", "q1"), "df"] == 1
    assert table.loc[("u", "criterion", "q2"), "df"] == 1
    assert table.loc[("u", "element", "e1"), "df"] == 2


def test_a_certainty_stratum_adds_nothing_to_a_mean_scores_variance() -> None:
    # Stratum a: two PSUs scoring 5 and 3; stratum b: one PSU scoring 4, taken with certainty. Mean
    # score 4; z_i = (y_i - 4) / 3, so stratum a holds +-1/3 and contributes 2/1 * 2/9 = 4/9, stratum
    # b nothing: se = 2/3 by hand.
    definition = IndexDefinition.from_mapping([("q1", "e1")])
    data = pd.DataFrame({"unit": "u", "stratum": ["a", "a", "b"], "cluster": ["a1", "a2", "b1"],
                         "q1": [5, 3, 4]})
    table = compute_indices(data, definition, unit_col="unit", strata_col="stratum", cluster_col="cluster",
                            lonely_psu="certainty", min_n=0).set_index(["domain", "stat_type", "stat"])
    row = table.loc[("u", "mean_score", "q1")]
    assert row["est"] == pytest.approx(4.0, abs=1e-12)
    assert row["se"] == pytest.approx(2 / 3, rel=1e-12)


def test_everyone_satisfied_has_no_variance_whatever_the_weights() -> None:
    # As the same-code test above, for a criterion: both of B's respondents answer 5, so p = 1 and
    # every linearized value is 0; the share's variance must be exactly 0, not rounding left over.
    definition = IndexDefinition.from_mapping([("q1", "e1")])
    data = pd.DataFrame({"unit": "B", "w": [5.86563633912433868, 5.78125], "q1": [5.0, 5.0]})
    for factor in (1.0, 3.0, 0.7):
        table = compute_indices(data.assign(w=data["w"] * factor), definition, unit_col="unit",
                                weight_col="w", min_n=0)
        row = table[(table["domain"] == "B") & (table["stat_type"] == "criterion")].iloc[0]
        assert (row["est"], row["se"]) == (1.0, 0.0), factor


def test_the_composite_floor_does_not_depend_on_the_scale_of_small_weights() -> None:
    # Equal weights are equivalent to none, whatever their size: with ten weights of 0.01 (squares
    # summing to 0.001) the element's Kish floor and interval must be those of weights 1. Kish's n_eff
    # (sum w)^2 / sum w^2 = 10 either way.
    definition = IndexDefinition.from_mapping([("q1", "e1"), ("q2", "e1")])
    data = pd.DataFrame({"unit": "u", "psu": [f"p{i // 2}" for i in range(10)],
                         "q1": [5, 1] * 5, "q2": [5, 5, 5, 1, 5, 5, 1, 1, 4, 2]})
    tables = [compute_indices(data.assign(w=weight), definition, unit_col="unit", cluster_col="psu",
                              weight_col="w", min_n=0).set_index(["domain", "stat_type", "stat"])
              for weight in (1.0, 0.01)]
    for column in ("n_eff_floor", "ci_lo", "ci_hi"):
        assert tables[1].loc[("u", "element", "e1"), column] == pytest.approx(
            tables[0].loc[("u", "element", "e1"), column], rel=1e-12), column
    assert tables[1].loc[("u", "criterion", "q1"), "n_eff"] == pytest.approx(10.0, rel=1e-12)
