"""Raking (iterative proportional fitting) to several margins, and weight trimming."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from analysis.calibration import Calibration
from analysis.weighting import (
    WEIGHT_NAME,
    RakingDidNotConverge,
    WeightingError,
    WeightingMethod,
    WeightingResult,
    as_weight_array,
)

__all__ = ["RakeResult", "TrimRedistribution", "rake", "trim_weights"]

# Margins must agree on the population total to this relative precision, or no weights can meet them all.
_TOTAL_AGREEMENT = 1e-9


@dataclass(frozen=True)
class RakeResult(WeightingResult):
    """Raked weights with the iterations used and the largest remaining relative discrepancy.

    ``calibration`` holds the indicators of every margin's categories and the base weights, for the
    linearized variance through the raking (`analysis.tables.compute_indices`).
    """

    iterations: int
    max_discrepancy: float
    calibration: Calibration


def rake(
    data: pd.DataFrame,
    margins: Mapping[str, pd.Series],
    *,
    base_weights: pd.Series | npt.ArrayLike | None = None,
    tol: float = 1e-8,
    max_iter: int = 100,
) -> RakeResult:
    """Rake weights to several margins by iterative proportional fitting.

    Each sweep post-stratifies to every margin in turn (the order given), multiplying the weights in
    category ``k`` of margin ``m`` by ``T_mk / Σ_{i in k} w_i``. The fit stops after the first sweep
    at whose end every margin is met: ``max |Σ_{i in k} w_i - T_mk| / T ≤ tol`` with ``T`` the
    population total, so the tolerance does not depend on the units of the counts.

    Parameters
    ----------
    data : pandas.DataFrame
        Respondents; every margin name is a column.
    margins : mapping of str to pandas.Series
        Target totals per category, indexed by the category values of that column, all summing to
        the same total. A category with target 0 gives its respondents weight 0.
    base_weights : array-like, optional
        Starting weights (design or post-stratification weights); 1 when omitted.
    tol : float
        Relative tolerance (see above).
    max_iter : int
        Most sweeps.

    Returns
    -------
    RakeResult

    Raises
    ------
    WeightingError
        On a missing column, missing values, a category present in the data but not in its margin,
        a positive target with no respondents (or only zero-weight ones), negative or unequal totals.
    RakingDidNotConverge
        When ``max_iter`` sweeps did not meet ``tol``; it names the worst margin.

    References
    ----------
    Deming, W. E. and Stephan, F. F. (1940). On a least squares adjustment of a sampled frequency
    table when the expected marginal totals are known. *Ann. Math. Statist.* 11(4), 427-444.
    Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley, section 7.4
    (``survey::rake``, the reference implementation the tests compare with).
    """
    if not margins:
        raise WeightingError("raking needs at least one margin")
    if tol <= 0 or max_iter < 1:
        raise WeightingError(f"tol must be positive and max_iter at least 1, got {tol}, {max_iter}")
    weights = (
        np.ones(len(data)) if base_weights is None else as_weight_array(np.asarray(base_weights)).copy()
    )
    if weights.size != len(data):
        raise WeightingError(f"base_weights has {weights.size} values for {len(data)} respondents")
    codes, targets = _prepare_margins(data, margins, weights)
    start = weights.copy()
    total = float(next(iter(targets.values())).sum())

    discrepancy = {name: np.inf for name in margins}
    for sweep in range(1, max_iter + 1):
        for name in margins:
            achieved = np.bincount(codes[name], weights=weights, minlength=targets[name].size)
            factor = np.divide(targets[name], achieved, out=np.zeros_like(achieved), where=achieved > 0)
            weights *= factor[codes[name]]
        for name in margins:
            achieved = np.bincount(codes[name], weights=weights, minlength=targets[name].size)
            discrepancy[name] = float(np.max(np.abs(achieved - targets[name]))) / total
        if max(discrepancy.values()) <= tol:
            return RakeResult(
                weights=pd.Series(weights, index=data.index, name=WEIGHT_NAME),
                method=WeightingMethod.RAKED,
                iterations=sweep,
                max_discrepancy=max(discrepancy.values()),
                calibration=_margin_calibration(data.index, codes, targets, start),
            )
    worst = max(discrepancy, key=lambda name: discrepancy[name])
    raise RakingDidNotConverge(worst, discrepancy[worst], max_iter)


def _margin_calibration(index: pd.Index, codes: dict[str, npt.NDArray[np.intp]],
                        targets: dict[str, npt.NDArray[np.float64]],
                        base: npt.NDArray[np.float64]) -> Calibration:
    """The indicators of every margin's categories side by side (one block of columns per margin)."""
    n = len(index)
    blocks = [sparse.csr_matrix((np.ones(n), (np.arange(n), codes[name])), shape=(n, targets[name].size))
              for name in codes]
    model = sparse.hstack(blocks, format="csr") if blocks else sparse.csr_matrix((n, 0))
    return Calibration(index=index, model=model, base_weight=base, method=WeightingMethod.RAKED.value)


def _prepare_margins(
    data: pd.DataFrame, margins: Mapping[str, pd.Series], weights: npt.NDArray[np.float64]
) -> tuple[dict[str, npt.NDArray[np.intp]], dict[str, npt.NDArray[np.float64]]]:
    """Category codes per respondent and target arrays per margin, after checking both."""
    codes: dict[str, npt.NDArray[np.intp]] = {}
    targets: dict[str, npt.NDArray[np.float64]] = {}
    totals: dict[str, float] = {}
    for name, margin in margins.items():
        if name not in data.columns:
            raise WeightingError(f"data has no column {name!r} for the margin of that name")
        column = data[name]
        if column.isna().any():
            raise WeightingError(f"data[{name!r}] has missing values; raking needs every category known")
        target = pd.to_numeric(margin, errors="coerce").astype(np.float64)
        if target.isna().any() or not np.all(np.isfinite(target.to_numpy())) or (target < 0).any():
            raise WeightingError(f"margin {name!r} must hold finite, non-negative totals")
        if not margin.index.is_unique:
            raise WeightingError(f"margin {name!r} lists a category twice")
        position = margin.index.get_indexer(pd.Index(column))
        if np.any(position < 0):
            unknown = sorted({repr(v) for v in column[position < 0]})
            raise WeightingError(f"categories {', '.join(unknown)} of {name!r} are not in its margin")
        reached = np.bincount(position, weights=weights, minlength=target.size) > 0
        empty = target.index[(target.to_numpy() > 0) & ~reached].tolist()
        if empty:
            raise WeightingError(f"margin {name!r} has positive targets for {empty} but no respondents")
        codes[name] = position
        targets[name] = np.asarray(target.to_numpy(), dtype=np.float64)
        totals[name] = float(target.sum())
    reference = next(iter(totals.values()))
    if reference <= 0:
        raise WeightingError("margins must have a positive total")
    for name, value in totals.items():
        if abs(value - reference) > _TOTAL_AGREEMENT * reference:
            first = next(iter(totals))
            raise WeightingError(
                f"margin {name!r} totals {value:g} but {first!r} totals {reference:g}; they must agree"
            )
    return codes, targets


class TrimRedistribution(StrEnum):
    """Where the weight cut from trimmed respondents goes."""

    EVEN = "even"  # the same amount added to every untrimmed weight, as survey::trimWeights does
    PROPORTIONAL = "proportional"  # untrimmed weights scaled up, keeping their ratios (cell structure)


def trim_weights(
    weights: pd.Series | npt.ArrayLike,
    *,
    upper: float | None = None,
    lower: float | None = None,
    ratio_cap: float | None = None,
    redistribute: bool = True,
    how: TrimRedistribution = TrimRedistribution.PROPORTIONAL,
    max_iter: int = 100,
) -> pd.Series:
    """Cap extreme weights, optionally giving the excess to the other respondents to keep the total.

    Bounds: ``upper``/``lower`` are absolute; ``ratio_cap`` caps at ``ratio_cap × mean weight``
    (the mean, not the median, because redistribution keeps the total and so the mean fixed: the
    cap does not move while iterating). When both ``upper`` and ``ratio_cap`` are given the smaller
    cap wins. Respondents pushed past a bound by redistribution are trimmed in the next round; the
    weights at a bound stay there, so the rounds end within ``max_iter`` (at most n rounds).

    Parameters
    ----------
    weights : pandas.Series or array-like
        Non-negative weights.
    upper, lower, ratio_cap : float, optional
        Bounds (see above).
    redistribute : bool
        Keep the total by giving the trimmed amount to untrimmed respondents. Without it, weights
        are simply clipped and the total changes.
    how : TrimRedistribution
        ``PROPORTIONAL`` (default: keeps the ratios the post-stratification made) or ``EVEN``
        (adds the same amount to each, matching ``survey::trimWeights(strict=TRUE)``).
    max_iter : int
        Most redistribution rounds.

    Returns
    -------
    pandas.Series
        Trimmed weights (indexed like the input Series, or 0..n-1).

    Raises
    ------
    WeightingError
        If the bounds are inconsistent or cannot be met while keeping the total
        (``n × upper < total`` or ``n × lower > total``), or the rounds do not end.

    References
    ----------
    Potter, F. J. (1990). A study of procedures to identify and trim extreme sampling weights.
    *Proceedings of the Survey Research Methods Section, ASA*, 225-230.
    Lumley, T. (2010). *Complex Surveys*. Wiley (``survey::trimWeights``).
    """
    index = weights.index if isinstance(weights, pd.Series) else pd.RangeIndex(np.size(weights))
    w = as_weight_array(np.asarray(weights)).copy()
    total = float(w.sum())
    cap_hi = np.inf if upper is None else float(upper)
    if ratio_cap is not None:
        if ratio_cap < 1:
            raise WeightingError(f"ratio_cap must be at least 1 (× the mean weight), got {ratio_cap}")
        cap_hi = min(cap_hi, ratio_cap * total / w.size)
    cap_lo = -np.inf if lower is None else float(lower)
    if cap_lo > cap_hi:
        raise WeightingError(f"lower bound {cap_lo:g} is above upper bound {cap_hi:g}")
    slack = 1e-12 * total  # rounding: a cap of exactly the mean must stay feasible
    if redistribute and (w.size * cap_hi < total - slack or w.size * cap_lo > total + slack):
        raise WeightingError("the bounds cannot hold: n × upper < total or n × lower > total")
    if not redistribute:
        return pd.Series(np.clip(w, cap_lo, cap_hi), index=index, name=WEIGHT_NAME)

    fixed = np.zeros(w.size, dtype=bool)
    for _ in range(max_iter):
        outside = ~fixed & ((w > cap_hi) | (w < cap_lo))
        if not outside.any():
            return pd.Series(w, index=index, name=WEIGHT_NAME)
        w[outside] = np.clip(w[outside], cap_lo, cap_hi)
        fixed |= outside
        excess = total - w.sum()
        free = ~fixed
        if not free.any():
            break  # every weight sits at a bound; the feasibility check makes this exact, else error
        if how is TrimRedistribution.EVEN or w[free].sum() <= 0:
            w[free] += excess / free.sum()
        else:
            w[free] *= 1 + excess / w[free].sum()
    if abs(w.sum() - total) <= slack and np.all((w <= cap_hi + slack) & (w >= cap_lo - slack)):
        return pd.Series(w, index=index, name=WEIGHT_NAME)
    raise WeightingError(f"trimming did not settle within {max_iter} rounds")
