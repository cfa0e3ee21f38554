"""Tests for analysis.planning against docs/sipas-method.md §7, Krejcie & Morgan (1970) and hand
computations."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.planning import (
    DEFAULT_PLANNING_P,
    HalfWidthMethod,
    achievable_half_width,
    plan_for_unit,
    responses_needed,
)


def test_hand_computed_infinite_population() -> None:
    # Cochran (1977) eq. 4.2: n0 = z² p q / d²; p = 0.5, d = 0.05, 95 %: 1.959964² · 0.25 / 0.0025
    plan = responses_needed(0.05, p=0.5)
    assert plan.n0 == pytest.approx(1.959964**2 * 0.25 / 0.0025, rel=1e-6)
    assert plan.n0 == pytest.approx(384.146, abs=1e-3)
    assert plan.n == plan.n0
    assert plan.responses == 385


def test_design_effect_multiplies_n0() -> None:
    base = responses_needed(0.07, p=0.85)
    doubled = responses_needed(0.07, p=0.85, deff=2.0)
    assert doubled.n0 == pytest.approx(2 * base.n0)
    # ±7 points at p = 0.85: 1.96² · 0.1275 / 0.0049 = 99.96 → 100 responses (docs/sipas-method.md §7)
    assert base.n0 == pytest.approx(99.96, abs=0.01)
    assert base.responses == 100


# Krejcie & Morgan (1970), Table 1 (Educational and Psychological Measurement 30, 607-610):
# N → S for p = 0.5, d = 0.05, χ²₁ = 3.841, s = χ² N P(1-P) / (d² (N-1) + χ² P(1-P)), which is
# Cochran's n0 / (1 + (n0 - 1)/N). The table rounds s to the nearest integer.
KREJCIE_MORGAN = [(10, 10), (50, 44), (100, 80), (220, 140), (500, 217), (1200, 291), (9000, 368)]


@pytest.mark.parametrize(("population", "published"), KREJCIE_MORGAN)
def test_finite_population_correction_reproduces_krejcie_morgan(population: int, published: int) -> None:
    plan = responses_needed(0.05, p=0.5, population=population)
    assert abs(plan.n - published) <= 0.5
    assert plan.responses in (published, published + 1)


def test_sipas_md_wilson_half_widths() -> None:
    # docs/sipas-method.md §7: Wilson half-width at p ≈ 0.85 is about ±7 points at n = 100 and ±3.5
    # at n = 400
    # hand: n = 100, z²/n = 0.038415; √(0.001275 + 0.0000960) / 1.038415 · 1.959964 = 0.06989
    at_100 = achievable_half_width(100, p=0.85, method=HalfWidthMethod.WILSON)
    at_400 = achievable_half_width(400, p=0.85, method=HalfWidthMethod.WILSON)
    assert at_100 == pytest.approx(0.0699, abs=5e-4)
    assert at_400 == pytest.approx(0.0350, abs=5e-4)
    assert round(at_100 * 100) == 7
    assert round(at_400 * 1000) == 35


def test_planning_without_a_share_assumes_85_percent_satisfied() -> None:
    # 0.85 * 0.15 = 0.1275; z = 1.959964 (qnorm(0.975)).
    assert achievable_half_width(100) == pytest.approx(1.959964 * math.sqrt(0.1275 / 100), rel=1e-6)


def test_finite_population_shrinks_the_half_width() -> None:
    # all 50 dossiers answered: nothing left to estimate
    assert achievable_half_width(50, population=50) == 0.0
    assert achievable_half_width(25, population=50) < achievable_half_width(25)


@settings(max_examples=200, deadline=None)
@given(
    h=st.floats(0.01, 0.2),
    p=st.floats(0.05, 0.95),
    deff=st.floats(1.0, 4.0),
    population=st.one_of(st.none(), st.integers(50, 100_000)),
)
def test_reverse_is_the_inverse(h: float, p: float, deff: float, population: int | None) -> None:
    plan = responses_needed(h, p=p, deff=deff, population=population)
    if population is not None and plan.n >= population:
        return  # the whole population is needed; no half-width to invert
    back = achievable_half_width(plan.n, p=p, deff=deff, population=population)
    assert back == pytest.approx(h, rel=1e-9)
    # asking for the rounded-up number never does worse than the target
    assert achievable_half_width(plan.responses, p=p, deff=deff, population=population) <= h * (1 + 1e-9)


@pytest.mark.parametrize(
    "kwargs",
    [{"p": 0.0}, {"p": 1.0}, {"deff": 0.0}, {"confidence": 1.0}, {"population": 0}],
)
def test_bad_planning_inputs(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        responses_needed(0.05, **kwargs)  # type: ignore[arg-type]


def test_more_responses_than_served_is_an_error() -> None:
    with pytest.raises(ValueError, match="exceed"):
        achievable_half_width(60, population=50)


def test_plan_for_unit_uses_its_estimate_and_kish_deff() -> None:
    weights = [1.0, 1.0, 2.0, 4.0]  # Kish deff 1.375 (see test_weights)
    plan = plan_for_unit(0.05, weights, est=0.9)
    assert plan.n0 == pytest.approx(1.959964**2 * 0.09 * 1.375 / 0.0025, rel=1e-6)
    # an estimate of 100 % falls back to the default planning value
    fallback = plan_for_unit(0.05, weights, est=1.0, population=500)
    assert fallback == responses_needed(0.05, p=DEFAULT_PLANNING_P, deff=1.375, population=500)
