"""Change against the previous period: the difference of two independent estimates."""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

__all__ = ["Direction", "change_between", "period_change"]

FloatArray = npt.NDArray[np.float64]


class Direction(StrEnum):
    """What a report may say about a change: a direction only when it is significant."""

    UP = "up"
    DOWN = "down"
    NOT_SIGNIFICANT = "not_significant"
    NOT_COMPARABLE = "not_comparable"  # either period has no estimate (suppressed, or no valid answer)


def period_change(
    est1: npt.ArrayLike,
    se1: npt.ArrayLike,
    df1: npt.ArrayLike,
    est0: npt.ArrayLike,
    se0: npt.ArrayLike,
    df0: npt.ArrayLike,
    *,
    alpha: float = 0.05,
    index: pd.Index | None = None,
) -> pd.DataFrame:
    """Difference ``est1 - est0`` of two independent estimates, with a Welch–Satterthwaite t test.

    The two periods are different respondents, so the estimates are independent and
    ``se = √(se1² + se0²)``. Degrees of freedom follow Welch–Satterthwaite,
    ``df = (se1² + se0²)² / (se1⁴/df1 + se0⁴/df0)``; pass ``np.inf`` for a period whose estimate is
    treated as normal (both infinite gives the z test). The t reference, rather than the normal, is
    the choice because commune units have small design degrees of freedom, where a normal test
    would call too many changes significant.

    Parameters
    ----------
    est1, se1, df1 : array-like
        Current period: estimate, standard error, degrees of freedom (> 0).
    est0, se0, df0 : array-like
        Previous period, likewise. All six broadcast against each other.
    alpha : float
        Two-sided significance level; the interval has confidence ``1 - alpha``.
    index : pandas.Index, optional
        Index of the result; taken from ``est1`` when that is a Series.

    Returns
    -------
    pandas.DataFrame
        Columns ``diff, se, df, lo, hi, statistic, p_value, significant, direction``.
        With ``se = 0`` the statistic is ±inf (p = 0) or 0 when the estimates are equal (p = 1).

    Raises
    ------
    ValueError
        On a negative standard error, non-positive df, NaN inputs or ``alpha`` outside (0, 1).

    References
    ----------
    Welch, B. L. (1947). The generalization of "Student's" problem when several different
    population variances are involved. *Biometrika* 34(1/2), 28-35.
    Satterthwaite, F. E. (1946). An approximate distribution of estimates of variance components.
    *Biometrics Bulletin* 2(6), 110-114.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if index is None and isinstance(est1, pd.Series):
        index = est1.index
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (est1, se1, df1, est0, se0, df0)))
    e1, s1, d1, e0, s0, d0 = (np.atleast_1d(a) for a in arrays)
    if any(np.isnan(a).any() for a in (e1, s1, d1, e0, s0, d0)):
        raise ValueError("estimates, standard errors and df must not be NaN")
    if np.any(s1 < 0) or np.any(s0 < 0):
        raise ValueError("standard errors cannot be negative")
    if np.any(d1 <= 0) or np.any(d0 <= 0):
        raise ValueError("degrees of freedom must be positive (np.inf for a normal reference)")

    diff = e1 - e0
    var = s1**2 + s0**2
    se = np.sqrt(var)
    df = _welch_satterthwaite(s1**2, d1, s0**2, d0)
    quantile = stats.t.ppf(1 - alpha / 2, df)  # scipy gives the normal quantile at df = inf
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.where(se > 0, diff / se, np.where(diff == 0, 0.0, np.sign(diff) * np.inf))
    p_value = 2 * stats.t.sf(np.abs(statistic), df)
    significant = p_value < alpha
    signed = np.where(diff > 0, Direction.UP.value, Direction.DOWN.value)
    direction = np.where(significant, signed, Direction.NOT_SIGNIFICANT.value)
    return pd.DataFrame(
        {
            "diff": diff,
            "se": se,
            "df": df,
            "lo": diff - quantile * se,
            "hi": diff + quantile * se,
            "statistic": statistic,
            "p_value": p_value,
            "significant": significant,
            "direction": pd.Categorical(direction, categories=[d.value for d in Direction]),
        },
        index=index,
    )


def change_between(
    current: pd.DataFrame,
    previous: pd.DataFrame,
    on: str | list[str],
    *,
    est: str = "est",
    se: str = "se",
    df: str = "df",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """`period_change` for two estimate tables matched on key columns (e.g. unit and element).

    Only keys present in both periods are compared (an inner join): a unit without a previous
    estimate has no change to report. A key whose estimate, SE or df is missing in either period
    (suppressed below the minimum n, no valid answer, df 0) gets a row with direction
    ``not_comparable``, ``significant`` False and NaN statistics, so that a report can say "not
    comparable" instead of failing or dropping it. The result has the key columns, ``est1, est0`` and
    the columns of `period_change`.
    """
    keys = [on] if isinstance(on, str) else list(on)
    for name, table in (("current", current), ("previous", previous)):
        missing = [column for column in [*keys, est, se, df] if column not in table.columns]
        if missing:
            raise ValueError(f"the {name} table lacks the column(s) {missing}")
    merged = current[[*keys, est, se, df]].merge(
        previous[[*keys, est, se, df]], on=keys, how="inner", suffixes=("_1", "_0"), validate="one_to_one"
    )
    values = merged[[f"{c}_{t}" for t in (1, 0) for c in (est, se, df)]].astype(np.float64)
    comparable = values.notna().all(axis=1) & (merged[f"{df}_1"] > 0) & (merged[f"{df}_0"] > 0)
    # Placeholders where not comparable, overwritten below: period_change refuses NaN.
    filled = values.where(comparable, 1.0)
    change = period_change(*(filled[column] for column in values.columns), alpha=alpha, index=merged.index)
    numeric = ["diff", "se", "df", "lo", "hi", "statistic", "p_value"]
    change.loc[~comparable, numeric] = np.nan
    change.loc[~comparable, "significant"] = False
    direction = change["direction"].astype(str).where(comparable, Direction.NOT_COMPARABLE.value)
    change["direction"] = pd.Categorical(direction, categories=[d.value for d in Direction])
    renamed = {f"{est}_1": "est1", f"{est}_0": "est0"}
    estimates = merged[[*keys, *renamed]].rename(columns=renamed)
    return pd.concat([estimates, change], axis=1)


def _welch_satterthwaite(v1: FloatArray, d1: FloatArray, v0: FloatArray, d0: FloatArray) -> FloatArray:
    """Satterthwaite df of ``v1 + v0``; infinite df contribute no term, zero variances none either."""
    with np.errstate(divide="ignore", invalid="ignore"):
        term1 = np.where(np.isinf(d1) | (v1 == 0), 0.0, v1**2 / d1)
        term0 = np.where(np.isinf(d0) | (v0 == 0), 0.0, v0**2 / d0)
        denominator = term1 + term0
        df = np.where(denominator > 0, (v1 + v0) ** 2 / denominator, np.inf)
    return np.asarray(df, dtype=np.float64)
