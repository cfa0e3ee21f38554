"""``python -m analysis league``: a shrunk league table of units from an ``indices`` output file.

Two methods: the beta-binomial empirical Bayes of `analysis.shrinkage` (the web's; it works on
effective counts, so units at 0 or 100 % are fine), and Fay–Herriot on the logit scale of
`analysis.fay_herriot`, which uses each unit's design-based standard error and so suits imported
survey data with strata, clusters or calibrated weights, but needs 0 < est < 1 and se > 0 everywhere.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from analysis.data import AnalysisInputError
from analysis.inputs import read_table
from analysis.tables import OUTPUT_COLUMNS

METHODS = ("beta-binomial", "fay-herriot")


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the ``league`` sub-command."""
    p = commands.add_parser("league", help="shrunk league table of units from an indices CSV")
    p.add_argument("--indices", required=True, type=Path, help="output of `python -m analysis indices`")
    p.add_argument("--method", default="beta-binomial", choices=METHODS)
    p.add_argument("--stat-type", default="overall_index", help="which statistic to rank (default overall)")
    p.add_argument("--stat", default="overall")
    p.add_argument("--period", help="the period to rank, when the table has several")
    p.add_argument("--out", required=True, type=Path)


def run_league(args: argparse.Namespace) -> pd.DataFrame:
    """Rank the unit-level rows of one statistic (the whole-data cut) by the chosen method.

    Raises
    ------
    AnalysisInputError
        If the file lacks the columns, has fewer than the required units, or (Fay–Herriot) a unit at
        0 or 100 % or with se 0.
    """
    # Imported here: their scipy.stats and scipy.optimize would add ~0.5 s to every `indices` run.
    from analysis.fay_herriot import fay_herriot_table
    from analysis.shrinkage import league_table

    table = read_table(args.indices, "indices")
    needed = {"level", "domain", "stat_type", "stat", "est", "se", "n", "n_eff"}
    missing = sorted(needed - set(table.columns))
    if missing:
        raise AnalysisInputError(f"{args.indices}: not an indices table (missing {missing})")
    rows = table[(table["level"] == "unit") & (table["stat_type"] == args.stat_type)
                 & (table["stat"].astype(str) == args.stat)]
    cuts = [c for c in table.columns if c not in OUTPUT_COLUMNS and c != "period" and not c.startswith("ci_")]
    for cut in cuts:
        rows = rows[rows[cut].isna() | (rows[cut].astype(str) == "")]  # the whole-data cut of a `by`
    if "period" in rows.columns:
        periods = sorted(rows["period"].dropna().astype(str).unique())
        if args.period is None and len(periods) > 1:
            raise AnalysisInputError(f"{args.indices}: several periods {periods}: choose one with --period")
        if args.period is not None:
            rows = rows[rows["period"].astype(str) == args.period]
    rows = rows[rows["est"].notna()]
    if rows.empty:
        raise AnalysisInputError(f"{args.indices}: no unit has an estimate of {args.stat_type} {args.stat}")
    try:
        if args.method == "fay-herriot":
            return fay_herriot_table(rows["domain"], rows["est"], rows["se"], rows["n"]).table
        return league_table(rows["domain"], rows["est"], rows["n"], rows["n_eff"]).table
    except ValueError as exc:
        raise AnalysisInputError(f"{args.indices}: {exc}") from None
