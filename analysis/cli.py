"""Command line: ``python -m analysis indices ...`` computes the indices table from files alone.

Input errors (missing column, non-numeric code, unknown instrument, lonely PSU under "fail") print one
line on stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import pandas as pd

from analysis.cli_league import add_parser as add_league_parser
from analysis.cli_league import run_league
from analysis.cli_stream import by_columns, stream_indices, streamable
from analysis.data import AnalysisInputError
from analysis.design import LonelyPSU
from analysis.inputs import (
    CSV_ENGINES,
    check_declared_codes,
    check_some_valid_answer,
    check_weights,
    read_table,
)
from analysis.intervals import DEFAULT_INTERVAL_METHOD, INTERVAL_METHODS, IntervalMethod
from analysis.poststratification import DEFAULT_MIN_CELL, PoststratResult
from analysis.raking import RakeResult
from analysis.tables import compute_indices
from instruments.index import SIPAS_FIVE_LEVELS, SIPAS_NOT_APPLICABLE, SIPAS_SATISFIED, IndexDefinition

EXIT_INPUT_ERROR = 2


def _codes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= 0.5:
        raise argparse.ArgumentTypeError(f"alpha must be in (0, 0.5] (e.g. 0.05 for 95 %), got {value:g}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis", description="Hài Lòng statistics")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("indices", help="weighted SIPAS indices with intervals and verdicts")
    p.add_argument("--responses", required=True, type=Path,
                   help="CSV or Parquet (.parquet), one row per respondent")
    p.add_argument("--csv-engine", choices=CSV_ENGINES, default="arrow",
                   help="CSV parser: Arrow's fast reader (default) or pandas' C parser; same table")
    p.add_argument("--no-stream", action="store_true",
                   help="read the whole file at once even for the default design (by default it is read in "
                        "chunks, memory flat; the same figures to rounding)")
    p.add_argument("--definition", required=True,
                   help="instrument id@version, or a CSV with columns criterion,element[,weight]")
    p.add_argument("--by", required=True,
                   help="unit column, then optional grouping columns crossed with units: unit[,field,...]")
    p.add_argument("--parent-col", help="column holding each unit's parent")
    weights = p.add_mutually_exclusive_group()
    weights.add_argument("--weight-col", help="column of survey weights")
    weights.add_argument("--frame", type=Path,
                         help="CSV of dossiers served per unit x cell (column 'served')")
    weights.add_argument("--margin", type=Path, action="append",
                         help="rake to this margin: a CSV of its key columns (e.g. unit,channel) and "
                              "'served'; repeat for each margin")
    p.add_argument("--rake-tol", type=float, default=1e-8, help="raking tolerance (relative to the total)")
    p.add_argument("--rake-max-iter", type=_positive_int, default=100, help="most raking sweeps")
    p.add_argument("--cells", default="", help="cell columns for --frame, most important first")
    p.add_argument("--min-cell", type=_positive_int, default=DEFAULT_MIN_CELL,
                   help=f"fewest respondents a --frame cell needs alone (default {DEFAULT_MIN_CELL})")
    p.add_argument("--collapse-out", type=Path,
                   help="CSV of the --frame cells merged into others (default: listed on stderr)")
    p.add_argument("--strata-col")
    p.add_argument("--cluster-col")
    p.add_argument("--fpc-col")
    p.add_argument("--period", choices=["month", "quarter", "year"])
    p.add_argument("--date-col")
    p.add_argument("--target", type=float, help="target proportion for every index, e.g. 0.8")
    p.add_argument("--ci", default=DEFAULT_INTERVAL_METHOD, choices=[*INTERVAL_METHODS, "all"],
                   help="interval method; 'all' adds ci_<method>_lo/hi columns "
                        f"({DEFAULT_INTERVAL_METHOD} displayed)")
    p.add_argument("--alpha", type=_alpha, default=0.05, help="1 - confidence level, in (0, 0.5]")
    p.add_argument("--min-n", type=int, default=10)
    p.add_argument("--lonely-psu", default="fail",
                   choices=["fail", "certainty", "remove", "adjust", "average"],
                   help="rule for single-PSU strata; 'fail' is R's default")
    p.add_argument("--levels", type=_codes, default=SIPAS_FIVE_LEVELS, help="scale codes (CSV definition)")
    p.add_argument("--satisfied", type=_codes, default=SIPAS_SATISFIED, help="satisfied codes")
    p.add_argument("--na-code", type=int, default=SIPAS_NOT_APPLICABLE, help="not-applicable code")
    p.add_argument("--invalid-codes", default="error", choices=["error", "missing"],
                   help="a code outside the declared scale: stop with an error (default) or count it "
                        "as a missing answer")
    p.add_argument("--out", required=True, type=Path)
    add_league_parser(commands)
    return parser


def load_definition(spec: str, *, levels: Sequence[int], satisfied: Sequence[int], na_code: int | None
                    ) -> IndexDefinition:
    """An index definition from ``id@version`` (instrument registry) or a ``criterion,element`` CSV.

    References
    ----------
    docs/sipas-method.md, sections 3-4 (5-level scale, satisfied = 4-5, N/A excluded).
    """
    path = Path(spec)
    if path.suffix.lower() == ".csv" or path.exists():
        if not path.exists():
            raise AnalysisInputError(f"definition file not found: {spec}")
        table = pd.read_csv(path, dtype=str).fillna("")
        if not {"criterion", "element"} <= set(table.columns):
            raise AnalysisInputError("a definition CSV needs columns criterion,element")
        element_weights: dict[str, float] = {}
        if "weight" in table.columns:
            for element, weight in zip(table["element"], table["weight"], strict=True):
                if weight:
                    try:
                        element_weights[element] = float(weight)
                    except ValueError:
                        raise AnalysisInputError(f"element weight {weight!r} is not a number") from None
        try:
            return IndexDefinition.from_mapping(
                zip(table["criterion"].str.strip(), table["element"].str.strip(), strict=True),
                element_weights=element_weights, key=path.stem, levels=levels, satisfied=satisfied,
                not_applicable=na_code,
            )
        except ValueError as exc:
            raise AnalysisInputError(f"definition {spec}: {exc}") from None
    from instruments.registry import UnknownInstrument, get_instrument  # the registry reads YAML files

    instrument_id, _, version = spec.partition("@")
    try:
        return IndexDefinition.from_instrument(get_instrument(instrument_id, version or None))
    except UnknownInstrument:
        raise AnalysisInputError(f"unknown instrument {spec!r} (and no such definition file)") from None


def _parents(data: pd.DataFrame, unit_col: str, parent_col: str) -> dict[str, str | None]:
    if parent_col not in data.columns:
        raise AnalysisInputError(f"missing parent column: {parent_col}")
    pairs = data[[unit_col, parent_col]].astype("string").fillna("").drop_duplicates()
    if pairs[unit_col].duplicated().any():
        unit = pairs.loc[pairs[unit_col].duplicated(), unit_col].iloc[0]
        raise AnalysisInputError(f"unit {unit!r} has more than one parent")
    return {str(u): (str(p) or None) for u, p in zip(pairs[unit_col], pairs[parent_col], strict=True)}


def report_collapse(collapsed: pd.DataFrame, out: Path | None) -> None:
    """Say which frame cells were merged into which (a CSV with `out`, else one line each on stderr)."""
    if out is not None:
        collapsed.to_csv(out, index=False)
        return
    counts = ("respondents", "served", "reason", "kept", "merged_into")
    keys = [c for c in collapsed.columns if c not in counts]
    for row in collapsed.to_dict("records"):
        cell = ", ".join(f"{key}={row[key]}" for key in keys)
        print(f"collapsed: {cell} ({row['respondents']} respondents, {row['served']:g} served, "
              f"{row['reason']}) -> {row['merged_into']}", file=sys.stderr)


def rake_from_files(data: pd.DataFrame, paths: Sequence[Path], unit_col: str, tol: float,
                    max_iter: int) -> RakeResult:
    """Rake to the margins in `paths` (key columns + ``served``) and say on stderr how it converged.

    A margin over several columns (unit x channel) rakes to their combinations; the combined key is
    added to `data` as a column named ``a+b``.
    """
    from analysis.weights import RakingDidNotConverge, WeightingError, rake

    margins: dict[str, pd.Series] = {}
    for path in paths:
        table = read_table(path, "margin", dtype={unit_col: str})
        keys = [c for c in table.columns if c != "served"]
        if "served" not in table.columns or not keys:
            raise AnalysisInputError(f"{path}: a margin needs its key column(s) and 'served'")
        missing = [c for c in keys if c not in data.columns]
        if missing:
            raise AnalysisInputError(f"{path}: the responses have no column(s) {missing}")
        name = "+".join(keys)
        data[name] = data[keys].astype("string").agg("\x1f".join, axis=1)
        label = table[keys].astype("string").agg("\x1f".join, axis=1)
        margins[name] = pd.Series(pd.to_numeric(table["served"], errors="coerce").to_numpy(), index=label)
    try:
        result = rake(data, margins, tol=tol, max_iter=max_iter)
    except RakingDidNotConverge as exc:
        raise AnalysisInputError(f"raking: {exc}") from None
    except WeightingError as exc:
        raise AnalysisInputError(f"raking: {exc}") from None
    print(f"raking converged after {result.iterations} sweep(s); largest |achieved - target| / total = "
          f"{result.max_discrepancy:.3g} (tolerance {tol:g})", file=sys.stderr)
    return result


def _streamed(args: argparse.Namespace) -> pd.DataFrame | None:
    """The table read chunk by chunk (`analysis.cli_stream`), or None to read the whole table.

    A bad definition is left to the whole-table path too, so that errors come in the usual order
    (the responses file first).
    """
    if args.no_stream or not (streamable(args) and args.responses.is_file()):
        return None
    try:
        definition = load_definition(args.definition, levels=args.levels, satisfied=args.satisfied,
                                     na_code=args.na_code)
    except AnalysisInputError:
        return None
    return stream_indices(args, definition)


def run_indices(args: argparse.Namespace) -> pd.DataFrame:
    """Read the files named in `args` and compute the indices table.

    References
    ----------
    See `analysis.tables.compute_indices`.
    """
    streamed = _streamed(args)
    if streamed is not None:
        return streamed
    data = read_table(args.responses, "responses", dtype={args.by.split(",")[0]: str},
                      engine=args.csv_engine)
    by = by_columns(args)
    unit_col, groupings = by[0], by[1:]
    if unit_col not in data.columns:
        raise AnalysisInputError(f"missing unit column: {unit_col}")
    definition = load_definition(args.definition, levels=args.levels, satisfied=args.satisfied,
                                 na_code=args.na_code)
    if args.invalid_codes == "error":
        check_declared_codes(data, definition, args.responses)
    check_some_valid_answer(data, definition, args.responses)
    if args.weight_col is not None:
        check_weights(data, args.weight_col, args.responses)
    parents = _parents(data, unit_col, args.parent_col) if args.parent_col else None
    weighting: PoststratResult | RakeResult | None = None
    if args.frame is not None:
        from analysis.weights import WeightingError, poststratify

        cells = [c.strip() for c in args.cells.split(",") if c.strip()]
        frame = read_table(args.frame, "frame", dtype={unit_col: str}, engine=args.csv_engine)
        try:
            weighting = poststratify(data, frame, cells, unit_col=unit_col, count_col="served",
                                     min_cell=args.min_cell)
        except WeightingError as exc:
            raise AnalysisInputError(f"{args.frame}: post-stratification: {exc}") from None
        report_collapse(weighting.collapsed, args.collapse_out)
    if args.margin:
        weighting = rake_from_files(data, args.margin, unit_col, args.rake_tol, args.rake_max_iter)
    if args.period and not args.date_col:
        raise AnalysisInputError("--period needs --date-col")
    ci = DEFAULT_INTERVAL_METHOD if args.ci == "all" else args.ci
    return compute_indices(
        data, definition, unit_col=unit_col, parents=parents, weight_col=args.weight_col,
        weights=None if weighting is None else weighting.weights,
        calibration=None if weighting is None else weighting.calibration,
        strata_col=args.strata_col, cluster_col=args.cluster_col, fpc_col=args.fpc_col, by=groupings,
        period_col=args.date_col, period=args.period, targets=args.target, alpha=args.alpha,
        ci_method=cast(IntervalMethod, ci), all_intervals=args.ci == "all", min_n=args.min_n,
        lonely_psu=cast(LonelyPSU, args.lonely_psu),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0, or 2 on an input error).

    References
    ----------
    docs/analysis.md, "Command line".
    """
    args = _parser().parse_args(argv)
    try:
        table = run_league(args) if args.command == "league" else run_indices(args)
        table.to_csv(args.out, index=False)
    except (ValueError, OSError) as exc:  # input errors (parsing, encoding, values), never a traceback
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    return 0
