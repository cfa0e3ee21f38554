"""The main entry: a tidy table of every index, interval and verdict for every domain."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.calibration import Calibration
from analysis.cut_cells import CalibratedCuts, cut_estimates
from analysis.data import AnalysisInputError, item_matrices
from analysis.design import LonelyPSU, build_design
from analysis.domains import Domains, PeriodSpec, build_domains, cuts
from analysis.estimates import RATIO_STAT_TYPES
from analysis.intervals import (
    BOUNDARY_METHOD,
    DEFAULT_INTERVAL_METHOD,
    IntervalMethod,
    beta_interval,
    finite_population_boundary_interval,
    logit_interval,
    proportion_interval,
    wald_interval,
    wilson_conservative_interval,
    wilson_interval,
)
from analysis.verdicts import Verdict, p_values, precision_flags, verdicts
from instruments.index import IndexDefinition

OUTPUT_COLUMNS = (
    "level", "domain", "parent", "stat_type", "stat", "n", "df", "sum_w", "est", "se", "ci_lo", "ci_hi",
    "method", "deff", "deff_kish", "n_eff", "n_eff_floor", "target", "verdict", "p_value", "flags",
)
Targets = float | Mapping[str, float] | None


@dataclass(frozen=True)
class Estimate:
    """One row of the indices table, typed."""

    level: str
    domain: str
    parent: str
    stat_type: str
    stat: str
    n: int
    df: float
    sum_w: float
    est: float
    se: float
    ci_lo: float
    ci_hi: float
    method: str
    deff: float
    deff_kish: float
    n_eff: float
    n_eff_floor: float
    target: float
    verdict: str
    p_value: float
    flags: str

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> Estimate:
        """Build from a row (mapping) of the table returned by `compute_indices`.

        References
        ----------
        docs/analysis.md, "Command line" (the meaning of each column).
        """
        return cls(**{name: row[name] for name in OUTPUT_COLUMNS})  # type: ignore[arg-type]


def _target_column(table: pd.DataFrame, targets: Targets) -> np.ndarray:
    """Targets apply to proportions; a mapping is looked up by domain, then stat, then stat_type, then "*"."""
    out = np.full(len(table), np.nan)
    if targets is None:
        pass
    elif isinstance(targets, int | float):
        out[:] = float(targets)
    else:
        for key in ("*", "stat_type", "stat", "domain"):
            if key == "*":
                if "*" in targets:
                    out[:] = float(targets["*"])
                continue
            lookup = {str(name): float(value) for name, value in targets.items()}
            values = table[key].astype(str).map(lookup).to_numpy(dtype=np.float64, na_value=np.nan)
            out = np.where(np.isnan(values), out, values)
    out[~table["proportion"].to_numpy(dtype=bool)] = np.nan
    if np.any((out < 0) | (out > 1)):
        raise AnalysisInputError("targets are proportions between 0 and 1")
    return out


def add_inference(
    table: pd.DataFrame,
    *,
    targets: Targets = None,
    alpha: float = 0.05,
    ci_method: IntervalMethod = DEFAULT_INTERVAL_METHOD,
    all_intervals: bool = False,
    min_n: int = 10,
) -> pd.DataFrame:
    """Add intervals, verdicts, p-values and flags to a table of estimates.

    Proportions (criterion, element, overall, comprehensive, separate) get `ci_method`, with the
    Clopper-Pearson fallback on Kish's n_eff at 0 or 1; mean scores get the t (Wald) interval and no
    verdict. Rows with ``n < min_n`` keep n but lose est, se, interval and p-value.

    Parameters
    ----------
    table : pandas.DataFrame
        As returned by `analysis.estimates.domain_estimates` (columns est, se, df, n, n_rows, n_eff,
        proportion, stat_type, stat, domain), e.g. from cell statistics summed in SQL.
    targets, alpha, ci_method, all_intervals, min_n
        As in `compute_indices`.

    References
    ----------
    Wilson EB (1927); Korn EL, Graubard BI (1998); Clopper CJ, Pearson ES (1934); Kish L (1965).
    """
    out = table.copy()
    est, se, df = (out[c].to_numpy(dtype=np.float64) for c in ("est", "se", "df"))
    n_rows, n_eff = out["n_rows"].to_numpy(np.float64), out["n_eff"].to_numpy(np.float64)
    # Tables summed elsewhere (e.g. in SQL) may lack the composite floor: Kish's n_eff is the floor
    # of a single share.
    floor = out["n_eff_floor"].to_numpy(np.float64) if "n_eff_floor" in out.columns else n_eff
    proportion = out["proportion"].to_numpy(dtype=bool)
    # 1 - f of each row (the fpc of the boundary interval); tables summed elsewhere have no fpc.
    share = out["fpc_share"].to_numpy(np.float64) if "fpc_share" in out.columns else np.ones_like(est)
    lower, upper, used = proportion_interval(ci_method, est, se, df, n_rows, n_eff, alpha, floor_n_eff=floor,
                                             fpc_share=share)
    wald_lo, wald_hi = wald_interval(est, se, df, alpha)
    lower, upper = np.where(proportion, lower, wald_lo), np.where(proportion, upper, wald_hi)
    used = np.where(proportion, used, "wald")
    suppressed = out["n"].to_numpy() < min_n
    target = _target_column(out, targets)
    verdict = verdicts(lower, upper, target)
    verdict[suppressed] = Verdict.SUPPRESSED.value
    p_value = p_values(used, est, se, df, n_rows, n_eff, target, alpha, floor_n_eff=floor, fpc_share=share)
    half = np.where(proportion, (upper - lower) / 2, np.nan)
    out["flags"] = precision_flags(out["n"].to_numpy(), n_eff, df, half, used == BOUNDARY_METHOD, min_n=min_n)
    out["ci_lo"], out["ci_hi"], out["method"] = lower, upper, used
    out["target"], out["verdict"], out["p_value"] = target, verdict, p_value
    if all_intervals:
        # Each method's own formula, without the boundary fallback, so every column can be checked
        # against the method it names; the fallback has its own column.
        raw = {
            "wilson_conservative": wilson_conservative_interval(est, se, df, floor, alpha),
            "wilson": wilson_interval(est, se, df, alpha),
            "beta": beta_interval(est, se, df, n_rows, alpha),
            "logit": logit_interval(est, se, df, alpha),
            "wald": wald_interval(est, se, df, alpha),
            BOUNDARY_METHOD: finite_population_boundary_interval(est, n_eff, share, alpha),
        }
        for method, (lo, hi) in raw.items():
            shown = proportion | (method == "wald")  # mean scores get the t interval only
            out[f"ci_{method}_lo"] = np.where(shown, lo, np.nan)
            out[f"ci_{method}_hi"] = np.where(shown, hi, np.nan)
    hidden = [c for c in out.columns if c in ("est", "se", "ci_lo", "ci_hi", "deff", "p_value")
              or c.startswith("ci_")]
    out.loc[suppressed, hidden] = np.nan
    return out


def compute_indices(
    data: pd.DataFrame,
    definition: IndexDefinition,
    *,
    unit_col: str,
    parents: Mapping[str, str | None] | None = None,
    weight_col: str | None = None,
    weights: pd.Series | None = None,
    strata_col: str | None = None,
    cluster_col: str | None = None,
    fpc_col: str | None = None,
    by: Sequence[str] = (),
    period_col: str | None = None,
    period: PeriodSpec | None = None,
    targets: Targets = None,
    alpha: float = 0.05,
    ci_method: IntervalMethod = DEFAULT_INTERVAL_METHOD,
    all_intervals: bool = False,
    min_n: int = 10,
    lonely_psu: LonelyPSU = "fail",
    calibration: Calibration | None = None,
    stat_types: Collection[str] | None = None,
    crossed_by: bool = True,
) -> pd.DataFrame:
    """Weighted SIPAS indices with design-based intervals and verdicts for every domain.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent: the unit, optional design and grouping columns, one column per item.
    definition : instruments.index.IndexDefinition
    unit_col : str
    parents : mapping, optional
        ``unit -> parent`` (parents may have parents); every node becomes a domain, plus "total".
    weight_col, weights : optional
        A weight column, or a weight Series aligned with `data` (e.g. from post-stratification).
        Unweighted when both are omitted.
    strata_col, cluster_col, fpc_col : str, optional
        Imported design (nest=TRUE). Default design: strata = unit, each respondent a PSU.
    by : sequence of str
        Groupings (field, channel, counter) crossed with every domain, in addition to "all".
    period_col, period : optional
        Date column and "month" / "quarter" / "year" or ``{label: (first, last)}``.
    targets : float or mapping, optional
        Target proportion(s); a mapping is keyed by domain, stat, stat_type or "*".
    alpha : float
        1 - confidence level of the two-sided intervals (verdicts use the same intervals).
    ci_method : {"wilson_conservative", "wilson", "beta", "logit", "wald"}
        "wilson_conservative" (default): Wilson on min(design n_eff, a floor): Kish's n_eff for single
        shares; for element and overall indices the n_eff of their variance with every criterion
        floored at its Kish binomial variance (`analysis.estimates`);
        "wilson" is R's ``svyciprop(method="wilson")`` (docs/analysis.md, "Intervals").
    all_intervals : bool
        Add ``ci_<method>_lo/hi`` for every method and the boundary fallback.
    min_n : int
        Suppress estimates with fewer respondents.
    lonely_psu : {"fail", "certainty", "remove", "adjust", "average"}
        R's rules for single-PSU strata; "fail" (R's default) raises `LonelyPSUError`.
    calibration : analysis.calibration.Calibration, optional
        The calibration model of calibrated `weights` (``PoststratResult.calibration``,
        ``RakeResult.calibration``, ``calibrate_linear``): standard errors are then linearized through
        the calibration, as R's ``postStratify``, ``rake`` and ``calibrate`` designs do. Without it the
        weights are taken as fixed.
    stat_types : collection of str, optional
        Only the rows of these statistic types (``criterion``, ``element``, ``overall_index``,
        ``mean_score``, ...), with the figures of the full table; None: every statistic.
    crossed_by : bool
        True: the `by` columns' combinations. False: each `by` column on its own (the others ``""``
        in its rows), the rows of one call per column with one design, weighting and "all" cut.

    Returns
    -------
    pandas.DataFrame
        One row per domain x (cut) x statistic, columns `OUTPUT_COLUMNS` plus "period" and the `by`
        columns when used.

    References
    ----------
    Binder DA (1983), *International Statistical Review* 51:279-292; Wolter KM (2007), *Introduction
    to Variance Estimation*, Springer; Deville JC, Särndal CE (1992), *JASA* 87:376-382 (calibration);
    Lumley T (2010), *Complex Surveys*, Wiley, and the R package
    survey (``svydesign``, ``svyratio``, ``svyciprop``, ``degf``); Korn EL, Graubard BI (1998);
    Wilson EB (1927); Clopper CJ, Pearson ES (1934); Kish L (1965), *Survey Sampling*.
    """
    if unit_col not in data.columns:
        raise AnalysisInputError(f"missing unit column: {unit_col}")
    if weight_col is not None and weights is not None:
        raise AnalysisInputError("give a weight column or a weight series, not both")
    weight_array = None
    if weight_col is not None:
        if weight_col not in data.columns:
            raise AnalysisInputError(f"missing weight column: {weight_col}")
        weight_array = pd.to_numeric(data[weight_col], errors="coerce").to_numpy(dtype=np.float64)
    elif weights is not None:
        weight_array = weights.reindex(data.index).to_numpy(dtype=np.float64)
    items = item_matrices(data, definition)
    domains = build_domains(data[unit_col], parents)
    design = build_design(
        data, unit_col=unit_col, weight=weight_array, strata_col=strata_col,
        cluster_col=cluster_col, fpc_col=fpc_col, lonely_psu=lonely_psu,
    )
    if calibration is not None:
        if weight_array is None:
            raise AnalysisInputError("a calibration needs the calibrated weights")
        calibration = calibration.aligned(data.index)
    calibrated = None if calibration is None else CalibratedCuts(
        items, design, calibration, domains.unit_codes, domains.membership, len(domains.labels),
        ratios_only=stat_types is not None and set(stat_types) <= RATIO_STAT_TYPES)
    every_cut = cuts(data, by=by, period_col=period_col, period=period, crossed=crossed_by)
    cut_labels = [labels for labels, _rows in every_cut]
    frames = cut_estimates(items, design, domains, [rows for _labels, rows in every_cut], calibrated,
                           stat_types)
    table = pd.concat(frames, ignore_index=True)
    # Each cut's labels, a column each once the cuts' rows are together (column by column per cut cost
    # more than the estimates of a unit's 18 breakdown cuts)
    sizes = [len(frame) for frame in frames]
    for name in dict.fromkeys(name for labels in cut_labels for name in labels):
        table[name] = pd.Series(np.repeat(np.array([labels[name] for labels in cut_labels], dtype=object),
                                          sizes), dtype=str)
    return labelled_table(table, domains, by, targets=targets, alpha=alpha, ci_method=ci_method,
                          all_intervals=all_intervals, min_n=min_n)


def labelled_table(table: pd.DataFrame, domains: Domains, by: Sequence[str], *, targets: Targets,
                   alpha: float, ci_method: IntervalMethod, all_intervals: bool, min_n: int) -> pd.DataFrame:
    """Domain labels and inference on `domain_estimates` rows, columns in the published order.

    Shared by `compute_indices`, `analysis.sums_tables` and the command line's streamed path
    (`analysis.cli_stream`), so each publishes the same columns with the same inference.

    Parameters
    ----------
    table : pandas.DataFrame
        `domain_estimates` output; its integer ``domain`` column indexes `domains`.
    domains : Domains
        Level, label and parent of each domain code.
    by : sequence of str
        Grouping columns present in `table`, placed after the domain columns.
    targets, alpha, ci_method, all_intervals, min_n
        As in `compute_indices`.

    Returns
    -------
    pandas.DataFrame
        The published table (`OUTPUT_COLUMNS`, with any cut columns and extra intervals).
    """
    code = table.pop("domain").to_numpy()
    table.insert(0, "level", np.asarray(domains.levels, dtype=object)[code])
    table.insert(1, "domain", np.asarray(domains.labels, dtype=object)[code])
    table.insert(2, "parent", np.asarray(domains.parents, dtype=object)[code])
    table = add_inference(table, targets=targets, alpha=alpha, ci_method=ci_method,
                          all_intervals=all_intervals, min_n=min_n)
    cut_columns = [c for c in ("period", *by) if c in table.columns]
    extra = [c for c in table.columns if c.startswith("ci_") and c not in ("ci_lo", "ci_hi")]
    columns = [*OUTPUT_COLUMNS[:3], *cut_columns, *OUTPUT_COLUMNS[3:], *extra]
    return table[columns]
