"""Internal consistency of an element's items: Cronbach's alpha with Feldt's confidence interval."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["CronbachAlpha", "cronbach_alpha", "cronbach_by_element", "feldt_interval"]


@dataclass(frozen=True)
class CronbachAlpha:
    """Cronbach's alpha of one set of items.

    Attributes
    ----------
    alpha : float
        The coefficient (NaN when the total score does not vary).
    lo, hi : float
        Feldt's confidence limits (NaN when alpha is NaN).
    n_used : int
        Respondents who answered every item validly (listwise complete cases).
    n_dropped : int
        Respondents left out for a missing or not-applicable answer.
    n_items : int
        Items in the scale.
    """

    alpha: float
    lo: float
    hi: float
    n_used: int
    n_dropped: int
    n_items: int


def cronbach_alpha(items: pd.DataFrame, *, confidence: float = 0.95) -> CronbachAlpha:
    """Cronbach's alpha on listwise complete cases, with the Feldt (1965) interval.

    ``alpha = k/(k-1) · (1 - Σ s_j² / s_X²)`` with item variances ``s_j²`` and the variance ``s_X²``
    of the total score (both with divisor n - 1; the ratio does not depend on it). The interval is
    ``1 - (1 - alpha) F_{1-γ/2}`` to ``1 - (1 - alpha) F_{γ/2}`` with F quantiles on
    ``(n - 1, (n - 1)(k - 1))`` degrees of freedom, ``γ = 1 - confidence``; it assumes compound
    symmetry (parallel items), as Feldt derived it.

    Parameters
    ----------
    items : pandas.DataFrame
        One column per item, one row per respondent, scores as numbers; NaN marks a missing or
        "not applicable" answer (code 0 on health-sector forms must be turned into NaN first).
    confidence : float
        Confidence level of the interval.

    Returns
    -------
    CronbachAlpha

    Raises
    ------
    ValueError
        With fewer than 2 items, fewer than 2 complete cases, or non-numeric scores.

    References
    ----------
    Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests.
    *Psychometrika* 16(3), 297-334.
    Feldt, L. S. (1965). The approximate sampling distribution of Kuder-Richardson reliability
    coefficient twenty. *Psychometrika* 30(3), 357-370.
    Feldt, L. S., Woodruff, D. J. and Salih, F. A. (1987). Statistical inference for coefficient
    alpha. *Applied Psychological Measurement* 11(1), 93-103 (formulas 6 and 7).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    k = items.shape[1]
    if k < 2:
        raise ValueError(f"alpha needs at least 2 items, got {k}")
    try:
        scores = items.apply(pd.to_numeric, errors="raise").astype(np.float64)
    except (ValueError, TypeError) as error:
        raise ValueError(f"item scores must be numeric: {error}") from error
    complete = scores.dropna(how="any").to_numpy()
    n = complete.shape[0]
    if n < 2:
        raise ValueError(f"alpha needs at least 2 complete cases, got {n}")
    item_variance = complete.var(axis=0, ddof=1).sum()
    total_variance = complete.sum(axis=1).var(ddof=1)
    if total_variance == 0:
        nan = float("nan")
        return CronbachAlpha(nan, nan, nan, n, len(items) - n, k)
    alpha = float(k / (k - 1) * (1 - item_variance / total_variance))
    lo, hi = feldt_interval(alpha, n_items=k, n=n, confidence=confidence)
    return CronbachAlpha(alpha, lo, hi, n, len(items) - n, k)


def feldt_interval(alpha: float, *, n_items: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Feldt's confidence interval for coefficient alpha from ``n`` respondents and ``n_items`` items.

    ``(1 - α) / (1 - alpha)`` is taken as F-distributed on ``(n - 1, (n - 1)(k - 1))`` degrees of
    freedom, giving ``[1 - (1 - alpha) F_{1-γ/2}, 1 - (1 - alpha) F_{γ/2}]``, ``γ = 1 - confidence``.

    References
    ----------
    Feldt, L. S., Woodruff, D. J. and Salih, F. A. (1987). Statistical inference for coefficient
    alpha. *Applied Psychological Measurement* 11(1), 93-103 (formulas 6 and 7).
    """
    if n_items < 2 or n < 2:
        raise ValueError(f"Feldt's interval needs at least 2 items and 2 respondents, got {n_items}, {n}")
    gamma = 1 - confidence
    dfn, dfd = n - 1, (n - 1) * (n_items - 1)
    lo = 1 - (1 - alpha) * stats.f.ppf(1 - gamma / 2, dfn, dfd)
    hi = 1 - (1 - alpha) * stats.f.ppf(gamma / 2, dfn, dfd)
    return float(lo), float(hi)


def cronbach_by_element(
    data: pd.DataFrame, elements: Mapping[str, Sequence[str]], *, confidence: float = 0.95
) -> pd.DataFrame:
    """Cronbach's alpha per element (e.g. E1 access: items 15-18), one row each.

    Each element uses its own complete cases, so ``n_used`` differs between elements. Elements with
    fewer than 2 items or complete cases get NaN rather than stopping the whole table.

    Returns
    -------
    pandas.DataFrame
        Indexed by element with columns ``alpha, lo, hi, n_used, n_dropped, n_items``.
    """
    rows: dict[str, dict[str, float | int]] = {}
    for element, columns in elements.items():
        missing = [column for column in columns if column not in data.columns]
        if missing:
            raise ValueError(f"element {element!r} names unknown item columns {missing}")
        try:
            rows[element] = asdict(cronbach_alpha(data[list(columns)], confidence=confidence))
        except ValueError:
            if len(columns) >= 2 and data[list(columns)].dropna().shape[0] >= 2:
                raise  # a real error (e.g. non-numeric scores), not a too-small element
            n_used = int(data[list(columns)].dropna().shape[0])
            rows[element] = {
                "alpha": np.nan, "lo": np.nan, "hi": np.nan,
                "n_used": n_used, "n_dropped": len(data) - n_used, "n_items": len(columns),
            }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "element"
    return table
