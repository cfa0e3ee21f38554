"""Building blocks shared by every weighting method: result types, errors and Kish's summaries.

The weighting methods themselves live in `analysis.poststratification` and `analysis.raking`;
`analysis.weights` is the public face that re-exports everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "RakingDidNotConverge",
    "WeightSummary",
    "WeightingError",
    "WeightingMethod",
    "WeightingResult",
    "as_weight_array",
    "imported_weights",
    "kish_deff",
    "kish_n_eff",
    "unit_weights",
    "weight_summary",
]

WEIGHT_NAME = "weight"


class WeightingMethod(StrEnum):
    """How a set of weights was obtained; reports print it next to every weighted figure."""

    NONE = "none"  # every respondent counts once: no frame of dossiers served was available
    POSTSTRATIFIED = "poststratified"
    RAKED = "raked"
    CALIBRATED = "calibrated"  # linear (GREG) calibration to totals of auxiliary variables
    IMPORTED = "imported"  # weights delivered with an imported survey (e.g. a provincial SIPAS file)


class WeightingError(ValueError):
    """The inputs cannot be weighted as asked; the message says which input and why."""


class RakingDidNotConverge(WeightingError):
    """Iterative proportional fitting stopped at its iteration cap before meeting the tolerance."""

    def __init__(self, margin: str, discrepancy: float, iterations: int) -> None:
        self.margin = margin
        self.discrepancy = discrepancy
        self.iterations = iterations
        super().__init__(
            f"raking did not converge after {iterations} iterations: margin {margin!r} is still off "
            f"by {discrepancy:.3g} (largest |achieved - target| / population total)"
        )


@dataclass(frozen=True)
class WeightingResult:
    """Weights aligned with the respondents' index, and how they were made.

    Attributes
    ----------
    weights : pandas.Series
        One non-negative weight per respondent, indexed like the input data, named ``"weight"``.
    method : WeightingMethod
        The method, so a report can say e.g. "unweighted: no frame".
    """

    weights: pd.Series
    method: WeightingMethod


def unit_weights(n_or_index: int | pd.Index) -> WeightingResult:
    """Weights of 1 for data that has no frame of dossiers served.

    Parameters
    ----------
    n_or_index : int or pandas.Index
        The number of respondents (the index is then ``RangeIndex(n)``) or the data's index.

    Returns
    -------
    WeightingResult
        ``method`` is `WeightingMethod.NONE`.
    """
    index = pd.RangeIndex(n_or_index) if isinstance(n_or_index, int) else n_or_index
    if isinstance(n_or_index, int) and n_or_index < 0:
        raise WeightingError(f"the number of respondents cannot be negative, got {n_or_index}")
    weights = pd.Series(np.ones(len(index)), index=index, name=WEIGHT_NAME)
    return WeightingResult(weights=weights, method=WeightingMethod.NONE)


def imported_weights(weights: pd.Series) -> WeightingResult:
    """Wrap weights delivered with imported survey data, after checking them.

    Raises
    ------
    WeightingError
        If a weight is missing, infinite or negative, or all weights are zero.
    """
    checked = as_weight_array(weights)
    series = pd.Series(checked, index=weights.index, name=WEIGHT_NAME)
    return WeightingResult(weights=series, method=WeightingMethod.IMPORTED)


def as_weight_array(weights: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Validate weights (finite, non-negative, positive total) and return them as floats."""
    array = np.asarray(weights, dtype=np.float64)
    if array.ndim != 1:
        raise WeightingError(f"weights must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise WeightingError("no weights given")
    if not np.all(np.isfinite(array)):
        raise WeightingError("weights contain NaN or infinite values")
    if np.any(array < 0):
        raise WeightingError(f"weights cannot be negative (smallest is {array.min():g})")
    if array.sum() <= 0:
        raise WeightingError("all weights are zero")
    return array


def kish_deff(weights: npt.ArrayLike) -> float:
    """Kish's design effect due to unequal weighting, ``n Σw² / (Σw)²``.

    Equal to ``1 + cv²`` with the coefficient of variation of the weights computed with divisor n.

    References
    ----------
    Kish, L. (1965). *Survey Sampling*. Wiley, section 11.7.
    Kish, L. (1992). Weighting for unequal P_i. *Journal of Official Statistics* 8(2), 183-200.
    """
    array = as_weight_array(weights)
    return float(array.size * np.sum(array**2) / np.sum(array) ** 2)


def kish_n_eff(weights: npt.ArrayLike) -> float:
    """Kish's effective sample size ``(Σw)² / Σw²`` = n / deff; invariant to rescaling the weights.

    References
    ----------
    Kish, L. (1965). *Survey Sampling*. Wiley, section 11.7.
    """
    array = as_weight_array(weights)
    return float(np.sum(array) ** 2 / np.sum(array**2))


@dataclass(frozen=True)
class WeightSummary:
    """What a report says about a set of weights."""

    n: int
    total: float
    min: float
    max: float
    cv: float  # standard deviation (divisor n) over mean, so that deff = 1 + cv²
    deff: float
    n_eff: float


def weight_summary(weights: npt.ArrayLike) -> WeightSummary:
    """Summarise weights for a report: n, total, range, cv, Kish deff and effective n.

    References
    ----------
    Kish, L. (1965). *Survey Sampling*. Wiley, section 11.7.
    """
    array = as_weight_array(weights)
    return WeightSummary(
        n=int(array.size),
        total=float(array.sum()),
        min=float(array.min()),
        max=float(array.max()),
        cv=float(array.std() / array.mean()),
        deff=kish_deff(array),
        n_eff=kish_n_eff(array),
    )
