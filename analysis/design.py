"""The sampling design: weights, strata, PSUs, finite population corrections, lonely-PSU rule.

The default design treats each unit as a stratum and each respondent as a PSU drawn with replacement,
with the weights taken as fixed: R's ``svydesign(ids=~1, strata=~unit, weights=~w)``. Imported
probability-survey data may bring their own strata, clusters (PSUs) and fpc, which reproduces
``svydesign(ids=~psu, strata=~stratum, weights=~w, fpc=~fpc, nest=TRUE)``: PSU labels are only
meaningful within their stratum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.data import AnalysisInputError, FloatArray

LonelyPSU = Literal["fail", "certainty", "remove", "adjust", "average"]
"""How a stratum with a single PSU enters the variance; the names and meanings of R's
``options(survey.lonely.psu=...)``. "fail" (R's default) raises `LonelyPSUError`; "certainty" and
"remove" let it contribute nothing; "adjust" centres it at the domain estimate instead of its own
mean; "average" replaces its contribution by the average of the other strata."""

IntArray = npt.NDArray[np.intp]


class LonelyPSUError(AnalysisInputError):
    """A stratum with a single PSU entered a variance while ``lonely_psu="fail"`` (R's default)."""


@dataclass(frozen=True)
class Design:
    """Row-level design arrays for the whole sample (not a domain).

    Attributes
    ----------
    weight : numpy.ndarray of float
        Sampling (or post-stratified) weights, >= 0.
    stratum : numpy.ndarray of int
        Stratum code per row, 0..H-1.
    psu : numpy.ndarray of int or None
        PSU code per row, unique across strata (nest=TRUE); None when every respondent is a PSU.
    psu_per_stratum : numpy.ndarray of int
        Number of PSUs of each stratum in the full sample (R's ``fpc$sampsize``): a domain estimate
        centres each stratum at its total divided by this count, i.e. rows outside the domain count
        as zeros rather than being dropped.
    fpc_factor : numpy.ndarray of float
        ``1 - n_h / N_h`` per stratum (1 without an fpc).
    stratum_labels : tuple of str
    lonely_psu : LonelyPSU
    """

    weight: FloatArray
    stratum: IntArray
    psu: IntArray | None
    psu_per_stratum: IntArray
    fpc_factor: FloatArray
    stratum_labels: tuple[str, ...]
    lonely_psu: LonelyPSU = "fail"

    @property
    def n_strata(self) -> int:
        """Number of strata."""
        return len(self.stratum_labels)

    def variance_scale(self) -> FloatArray:
        """Per-stratum multiplier ``f_h n_h / (n_h - 1)`` of the centred PSU cross-products.

        Lonely strata (``n_h = 1``) get ``f_h`` as in R's ``onestrat``; whether they are centred is
        decided by the lonely-PSU rule.

        References
        ----------
        Lumley T (2010). *Complex Surveys: A Guide to Analysis Using R*, ch. 2-3. Wiley.
        Wolter KM (2007). *Introduction to Variance Estimation*, 2nd ed., ch. 6. Springer.
        """
        n_h = self.psu_per_stratum.astype(np.float64)
        ratio = np.where(n_h > 1, n_h / np.maximum(n_h - 1, 1), 1.0)
        return np.asarray(self.fpc_factor * ratio, dtype=np.float64)


def _factorize(values: pd.Series) -> tuple[IntArray, tuple[str, ...]]:
    codes, uniques = pd.factorize(values.astype("string"), sort=True)
    if (codes < 0).any():
        raise AnalysisInputError(f"column {values.name!r} has empty values")
    return codes.astype(np.intp), tuple(str(u) for u in uniques)


def build_design(
    data: pd.DataFrame,
    *,
    unit_col: str,
    weight: FloatArray | None = None,
    strata_col: str | None = None,
    cluster_col: str | None = None,
    fpc_col: str | None = None,
    lonely_psu: LonelyPSU = "fail",
) -> Design:
    """Assemble the design from a respondent table.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent.
    unit_col : str
        The unit column; the default strata when no design columns are given.
    weight : numpy.ndarray, optional
        Weights aligned with `data` (all 1 when omitted). Must be finite and >= 0.
    strata_col, cluster_col, fpc_col : str, optional
        Imported design columns. With clusters but no strata there is one stratum, as in R. The fpc is
        the number of PSUs in the stratum's population, or the sampling fraction when every value is
        <= 1 (R's convention); it must be constant within a stratum.
    lonely_psu : LonelyPSU
        Rule for strata with one PSU (default "fail", R's default).

    Returns
    -------
    Design

    References
    ----------
    Lumley T (2004). Analysis of complex survey samples. *Journal of Statistical Software* 9(8).
    R package survey, ``svydesign`` (nest=TRUE) and ``onestrat``.
    """
    n = len(data)
    for name in (unit_col, strata_col, cluster_col, fpc_col):
        if name is not None and name not in data.columns:
            raise AnalysisInputError(f"missing design column: {name}")
    w = np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or (w < 0).any():
        raise AnalysisInputError("weights must be finite, non-negative and one per respondent")
    if strata_col is not None:
        stratum, labels = _factorize(data[strata_col])
    elif cluster_col is not None:
        stratum, labels = np.zeros(n, dtype=np.intp), ("all",)
    else:
        stratum, labels = _factorize(data[unit_col])
    n_strata = len(labels)
    psu: IntArray | None = None
    if cluster_col is not None:
        _factorize(data[cluster_col])  # refuses empty cluster labels
        key = pd.DataFrame({"h": stratum, "c": data[cluster_col].astype("string").to_numpy()})
        psu = key.groupby(["h", "c"], sort=True).ngroup().to_numpy().astype(np.intp)
        first = np.unique(psu, return_index=True)[1]
        psu_per_stratum = np.bincount(stratum[first], minlength=n_strata).astype(np.intp)
        unit_codes = pd.factorize(data[unit_col].astype("string"))[0]
        if (pd.Series(unit_codes).groupby(psu).nunique() > 1).any():
            raise AnalysisInputError("a cluster (PSU) spans several units: PSUs must be nested in units")
    else:
        psu_per_stratum = np.bincount(stratum, minlength=n_strata).astype(np.intp)
    fpc_factor = np.ones(n_strata)
    if fpc_col is not None:
        fpc = pd.to_numeric(data[fpc_col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        if not np.all(np.isfinite(fpc)) or (fpc <= 0).any():
            raise AnalysisInputError("fpc values must be positive numbers")
        per_stratum = pd.Series(fpc).groupby(stratum)
        if (per_stratum.nunique() > 1).any():
            raise AnalysisInputError("fpc must be constant within a stratum")
        value = per_stratum.first().reindex(range(n_strata)).to_numpy(dtype=np.float64)
        population = psu_per_stratum / value if np.all(fpc <= 1) else value
        if (population < psu_per_stratum - 1e-9).any():
            raise AnalysisInputError("fpc is smaller than the number of sampled PSUs in a stratum")
        fpc_factor = (population - psu_per_stratum) / population
    return Design(
        weight=w,
        stratum=stratum,
        psu=psu,
        psu_per_stratum=psu_per_stratum,
        fpc_factor=np.asarray(fpc_factor, dtype=np.float64),
        stratum_labels=labels,
        lonely_psu=lonely_psu,
    )
