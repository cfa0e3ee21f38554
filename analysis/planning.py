"""Planning: how many responses a unit needs for a target precision, and the reverse."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy.typing as npt
from scipy import stats

from analysis.weighting import kish_deff

__all__ = [
    "DEFAULT_PLANNING_P",
    "HalfWidthMethod",
    "ResponsePlan",
    "achievable_half_width",
    "plan_for_unit",
    "responses_needed",
]

# The national SIPAS share satisfied has sat between 80 % and 86 % since 2018 (docs/sipas-method.md §1),
# so 0.85 is the planning value when a unit has no estimate of its own yet.
DEFAULT_PLANNING_P = 0.85


class HalfWidthMethod(StrEnum):
    """Interval whose half-width `achievable_half_width` reports."""

    WALD = "wald"  # z √(deff p(1-p)/n · fpc): the exact inverse of `responses_needed`
    WILSON = "wilson"  # half the width of the Wilson score interval on n_eff = n/deff, as reports show


@dataclass(frozen=True)
class ResponsePlan:
    """Responses needed for a target half-width.

    Attributes
    ----------
    n0 : float
        Infinite-population size ``z² p(1-p) deff / h²``.
    n : float
        After the finite-population correction (equal to ``n0`` without a frame).
    responses : int
        ``ceil(n)``, what to ask for.
    """

    n0: float
    n: float
    responses: int


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def _check(p: float, deff: float, population: float | None) -> None:
    if not 0 < p < 1:
        raise ValueError(f"the planning proportion must lie in (0, 1), got {p}")
    if not deff > 0 or not math.isfinite(deff):
        raise ValueError(f"the design effect must be positive and finite, got {deff}")
    if population is not None and not population >= 1:
        raise ValueError(f"the population served must be at least 1, got {population}")


def responses_needed(
    half_width: float,
    *,
    p: float = DEFAULT_PLANNING_P,
    confidence: float = 0.95,
    deff: float = 1.0,
    population: float | None = None,
) -> ResponsePlan:
    """Responses needed to estimate a proportion to ``± half_width``.

    ``n0 = z² p(1-p) deff / h²`` and, when the frame gives ``N`` dossiers served in the period,
    ``n = n0 / (1 + (n0 - 1)/N)`` (Cochran 1977, eqs. 4.1-4.3 with the design effect of Kish 1965).

    Parameters
    ----------
    half_width : float
        Target half-width on the proportion scale (0.05 for ±5 points).
    p : float
        Planning proportion: the unit's current estimate, else `DEFAULT_PLANNING_P`.
    confidence : float
        Confidence level ``1 - alpha``.
    deff : float
        Design effect, e.g. the current Kish deff of the unit's weights.
    population : float, optional
        Dossiers served (N) for the finite-population correction.

    Returns
    -------
    ResponsePlan

    References
    ----------
    Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. Wiley, section 4.4.
    Kish, L. (1965). *Survey Sampling*. Wiley, section 8.2 (design effect).
    Krejcie, R. V. and Morgan, D. W. (1970). Determining sample size for research activities.
    *Educational and Psychological Measurement* 30, 607-610 (the table the tests reproduce).
    """
    if not 0 < half_width < 1:
        raise ValueError(f"the half-width must lie in (0, 1), got {half_width}")
    _check(p, deff, population)
    n0 = _z(confidence) ** 2 * p * (1 - p) * deff / half_width**2
    n = n0 if population is None else n0 / (1 + (n0 - 1) / population)
    return ResponsePlan(n0=n0, n=n, responses=math.ceil(n - 1e-9))  # 1e-9: no extra response for rounding


def achievable_half_width(
    n: float,
    *,
    p: float = DEFAULT_PLANNING_P,
    confidence: float = 0.95,
    deff: float = 1.0,
    population: float | None = None,
    method: HalfWidthMethod = HalfWidthMethod.WALD,
) -> float:
    """Half-width reachable with ``n`` responses: the reverse of `responses_needed`.

    ``WALD``: ``z √(deff p(1-p)/n · (N-n)/(N-1))``, the exact inverse of `responses_needed`.
    ``WILSON``: half the Wilson score interval width at ``p`` on the effective size
    ``n_eff = n / deff`` (times ``(N-n)/(N-1)`` with a frame), ``z √(p(1-p)/n_eff + z²/(4 n_eff²))
    / (1 + z²/n_eff)``; the interval is not symmetric about ``p`` but its half-width is this.

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    *JASA* 22(158), 209-212.
    Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. Wiley, section 4.4.
    """
    if not n > 0:
        raise ValueError(f"the number of responses must be positive, got {n}")
    _check(p, deff, population)
    if population is not None and n > population:
        raise ValueError(f"{n} responses exceed the {population} dossiers served")
    z = _z(confidence)
    fpc = 1.0 if population is None or population == 1 else (population - n) / (population - 1)
    n_eff = n / (deff * fpc) if fpc > 0 else math.inf
    if method is HalfWidthMethod.WALD:
        return z * math.sqrt(p * (1 - p) / n_eff)
    return z * math.sqrt(p * (1 - p) / n_eff + z**2 / (4 * n_eff**2)) / (1 + z**2 / n_eff)


def plan_for_unit(
    half_width: float,
    weights: npt.ArrayLike,
    *,
    est: float | None = None,
    confidence: float = 0.95,
    population: float | None = None,
) -> ResponsePlan:
    """`responses_needed` with a unit's own planning values.

    The planning proportion is the unit's current estimate when it is strictly between 0 and 1
    (else `DEFAULT_PLANNING_P`: an estimate of 0 or 1 would ask for no responses at all), and the
    design effect is the Kish deff of its current weights, assuming next period's weights vary alike.
    """
    p = est if est is not None and 0 < est < 1 else DEFAULT_PLANNING_P
    return responses_needed(
        half_width, p=p, confidence=confidence, deff=kish_deff(weights), population=population
    )
