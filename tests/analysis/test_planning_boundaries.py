"""analysis.planning at its edges: the mutants `make mutation` found alive (docs/testing.md).

Each test pins a boundary or a constant that the broader tests of test_planning.py let move: the
open intervals of the arguments, the finite-population special cases, the rounding guard and the
Wilson half-width formula (checked against statsmodels' independent implementation).
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from analysis.planning import HalfWidthMethod, achievable_half_width, plan_for_unit, responses_needed

Z95 = 1.959963984540054  # qnorm(0.975)


@pytest.mark.parametrize("confidence", [0.0, 1.0, -0.1, 1.5])
def test_confidence_must_lie_strictly_between_0_and_1(confidence: float) -> None:
    with pytest.raises(ValueError, match=r"confidence must lie in \(0, 1\)"):
        responses_needed(0.05, confidence=confidence)


@pytest.mark.parametrize("half_width", [0.0, 1.0, 1.5, -0.05])
def test_half_width_must_lie_strictly_between_0_and_1(half_width: float) -> None:
    with pytest.raises(ValueError, match=r"the half-width must lie in \(0, 1\)"):
        responses_needed(half_width)


def test_bad_planning_values_name_the_value() -> None:
    with pytest.raises(ValueError, match=r"the planning proportion must lie in \(0, 1\), got 1\.0"):
        responses_needed(0.05, p=1.0)
    with pytest.raises(ValueError, match="the design effect must be positive and finite, got inf"):
        responses_needed(0.05, deff=float("inf"))
    with pytest.raises(ValueError, match=r"the population served must be at least 1, got 0\.5"):
        responses_needed(0.05, population=0.5)
    with pytest.raises(ValueError, match="the number of responses must be positive, got 0"):
        achievable_half_width(0)
    # The population is checked before it is compared with n (0.25 responses of 0.5 would pass that).
    with pytest.raises(ValueError, match="the population served must be at least 1"):
        achievable_half_width(0.25, population=0.5)


def test_a_single_dossier_served_needs_one_response() -> None:
    # N = 1 is allowed: n = n0 / (1 + (n0 - 1)/1) = 1 whatever n0.
    plan = responses_needed(0.05, p=0.5, population=1)
    assert plan.n == pytest.approx(1.0, abs=1e-12) and plan.responses == 1


def test_one_response_is_enough_to_report_a_half_width() -> None:
    # n = 1, p = 0.85: Wald z sqrt(0.1275) = 0.69984...
    assert achievable_half_width(1) == pytest.approx(Z95 * 0.1275**0.5, rel=1e-12)


def test_every_dossier_answered_leaves_nothing_to_estimate() -> None:
    # N = n = 2: fpc (2-2)/(2-1) = 0, n_eff infinite, half-width 0 (N = 1 alone is special-cased).
    assert achievable_half_width(2, population=2) == 0.0
    assert achievable_half_width(2, population=2, method=HalfWidthMethod.WILSON) == 0.0


def test_a_plan_of_exactly_100_asks_for_100_not_101() -> None:
    # deff chosen so that n0 = z² 0.25 deff / 0.05² is 100 up to floating-point noise.
    deff = 100 * 0.05**2 / (Z95**2 * 0.25)
    plan = responses_needed(0.05, p=0.5, deff=deff)
    assert plan.n0 == pytest.approx(100.0, abs=1e-9)
    assert plan.responses == 100


def test_wilson_half_width_equals_half_the_statsmodels_wilson_interval() -> None:
    # 85 of 100: statsmodels' proportion_confint(85, 100, method="wilson") is (0.76708, 0.90686);
    # half its width, 0.0698879, is the Wilson half-width at p = 0.85, n = 100.
    for successes, n in ((85, 100), (45, 50), (10, 12)):
        lo, hi = proportion_confint(successes, n, alpha=0.05, method="wilson")
        got = achievable_half_width(n, p=successes / n, method=HalfWidthMethod.WILSON)
        assert got == pytest.approx((hi - lo) / 2, rel=1e-12)


def test_plan_for_unit_keeps_the_confidence_and_replaces_a_degenerate_estimate() -> None:
    equal = [1.0, 1.0, 1.0, 1.0]  # Kish deff 1
    # 90 %: z = 1.6448536, n0 = z² 0.25 / 0.05² = 270.554 -> 271 (at 95 % it would be 385).
    assert plan_for_unit(0.05, equal, est=0.5, confidence=0.90).responses == 271
    # An estimate of 0 or 1 plans with 85 %: z² 0.1275 / 0.0025 = 195.914 -> 196.
    assert plan_for_unit(0.05, equal, est=0.0).responses == 196
    assert plan_for_unit(0.05, equal, est=1.0).responses == 196
