"""analysis.change and analysis.weighting at their edges: mutants `make mutation` found alive.

Expected values are worked out by hand in the comments (normal quantiles from any table).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.change import change_between, period_change
from analysis.weighting import (
    RakingDidNotConverge,
    WeightingError,
    WeightingMethod,
    as_weight_array,
    imported_weights,
    unit_weights,
)

# -- period_change / change_between ------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_alpha_must_lie_strictly_between_0_and_1(alpha: float) -> None:
    with pytest.raises(ValueError, match=r"alpha must lie in \(0, 1\)"):
        period_change(0.8, 0.03, 30, 0.7, 0.03, 30, alpha=alpha)


def test_bad_inputs_are_refused_with_their_reason() -> None:
    with pytest.raises(ValueError, match=r"^standard errors cannot be negative$"):
        period_change(0.8, 0.03, 30, 0.7, -0.03, 30)  # the previous period's se
    with pytest.raises(ValueError, match=r"^estimates, standard errors and df must not be NaN$"):
        period_change(0.8, 0.03, 30, np.nan, 0.03, 30)
    df_message = r"^degrees of freedom must be positive \(np.inf for a normal reference\)$"
    for df1, df0 in ((30, 0), (0, 30), (30, -1)):
        with pytest.raises(ValueError, match=df_message):
            period_change(0.8, 0.03, df1, 0.7, 0.03, df0)


def test_fractional_degrees_of_freedom_below_one_are_allowed() -> None:
    # Satterthwaite df are real numbers; 0.5 is positive. With se0 = 0 only the current period
    # contributes: df = v1² / (v1²/0.5) = 0.5.
    result = period_change(0.8, 0.03, 0.5, 0.7, 0.0, 0.5)
    assert result["df"].iloc[0] == pytest.approx(0.5)
    assert period_change(0.8, 0.0, 0.5, 0.7, 0.03, 0.5)["df"].iloc[0] == pytest.approx(0.5)


def test_direction_categories_are_the_four_a_report_may_say() -> None:
    result = period_change([0.9, 0.5, 0.7], 0.01, np.inf, 0.7, 0.01, np.inf)
    assert list(result["direction"]) == ["up", "down", "not_significant"]
    # "not_comparable" is for a period without an estimate (suppressed); period_change never says it
    assert list(result["direction"].cat.categories) == ["up", "down", "not_significant", "not_comparable"]
    assert result["direction"].value_counts().to_dict() == {"up": 1, "down": 1, "not_significant": 1,
                                                            "not_comparable": 0}


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    current = pd.DataFrame({"unit": ["a", "b"], "est": [0.82, 0.80], "se": [0.03, 0.03],
                            "df": [np.inf, np.inf]})
    previous = pd.DataFrame({"unit": ["a", "c"], "est": [0.74, 0.70], "se": [0.03, 0.03],
                             "df": [np.inf, np.inf]})
    return current, previous


def test_change_between_matches_on_a_single_key_name_and_passes_alpha() -> None:
    # Unit a: diff 0.08, se = 0.03 √2 = 0.0424264, z = 1.8856, p = 2 (1 - Φ(1.8856)) = 0.0593:
    # significant at 10 %, not at 5 %. Units b and c are in one period only: no row.
    current, previous = _tables()
    at_10 = change_between(current, previous, on="unit", alpha=0.10)
    assert list(at_10["unit"]) == ["a"]
    assert at_10["p_value"].iloc[0] == pytest.approx(0.0593, abs=5e-4)
    assert bool(at_10["significant"].iloc[0]) and at_10["direction"].iloc[0] == "up"
    at_5 = change_between(current, previous, on="unit")
    assert not bool(at_5["significant"].iloc[0]) and at_5["direction"].iloc[0] == "not_significant"


def test_change_between_names_the_table_that_lacks_a_column() -> None:
    current, previous = _tables()
    with pytest.raises(ValueError, match=r"the current table lacks the column\(s\) \['se'\]"):
        change_between(current.drop(columns="se"), previous, on="unit")
    with pytest.raises(ValueError, match=r"the previous table lacks the column\(s\) \['df'\]"):
        change_between(current, previous.drop(columns="df"), on="unit")


def test_change_between_refuses_a_key_twice_in_one_period() -> None:
    current, previous = _tables()
    with pytest.raises(pd.errors.MergeError):
        change_between(current, pd.concat([previous, previous]), on="unit")


# -- weighting ---------------------------------------------------------------------------------------


def test_unit_weights_of_no_respondents_are_empty_and_a_negative_count_is_refused() -> None:
    empty = unit_weights(0)
    assert len(empty.weights) == 0 and empty.method is WeightingMethod.NONE
    three = unit_weights(3)
    assert three.weights.name == "weight" and list(three.weights) == [1.0, 1.0, 1.0]
    with pytest.raises(WeightingError, match="the number of respondents cannot be negative, got -1"):
        unit_weights(-1)


def test_imported_weights_keep_the_values_and_the_index_and_are_named() -> None:
    given = pd.Series([2, 0, 1.5], index=["r7", "r8", "r9"])  # a zero weight is allowed
    result = imported_weights(given)
    assert result.method is WeightingMethod.IMPORTED
    assert result.weights.name == "weight"
    assert list(result.weights.index) == ["r7", "r8", "r9"]
    assert result.weights.dtype == np.float64 and list(result.weights) == [2.0, 0.0, 1.5]


def test_weight_arrays_are_refused_with_their_reason() -> None:
    cases = [
        ([[1.0, 2.0]], r"weights must be one-dimensional, got shape \(1, 2\)"),
        ([], r"^no weights given$"),
        ([1.0, np.nan], r"^weights contain NaN or infinite values$"),
        ([1.0, -0.5], r"weights cannot be negative \(smallest is -0.5\)"),
        ([0.0, 0.0], r"^all weights are zero$"),
    ]
    for weights, message in cases:
        with pytest.raises(WeightingError, match=message):
            as_weight_array(weights)
    assert as_weight_array([0, 1]).dtype == np.float64  # integers become floats; a zero is allowed


def test_raking_failure_carries_its_figures() -> None:
    error = RakingDidNotConverge("channel", 0.0123, 50)
    assert (error.margin, error.discrepancy, error.iterations) == ("channel", 0.0123, 50)
    assert "after 50 iterations: margin 'channel' is still off by 0.0123" in str(error)
