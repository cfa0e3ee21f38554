"""Streamed ``python -m analysis indices``: per-unit sufficient statistics summed chunk by chunk, so the
memory a run needs does not grow with the file and only the needed columns are ever read.

It applies to the default design (strata = units, each respondent a PSU) with imported weights or
none, and no frame, margins, periods or groupings: each unit's sums over its respondents
(`analysis.sufficient.cell_statistics`) are additive across chunks of rows, and parents and the
total are sums of units. Anything unusual (a value the whole-table readers might read differently, a
code outside the scale, a file Arrow cannot parse) makes `stream_indices` return None, and the
command reads the whole table as before: errors keep their wording (file, row, value) and odd files
their reading.

Numbers: the sums run over fixed chunks of `CHUNK_ROWS` rows in file order whatever the reader's own
batches, so the CSV readers and Parquet give the same bits. They equal the whole-table path's to
rounding (the same sums added in another order; within 1e-12 relative, tests/analysis/test_cli_stream.py).
"""

from __future__ import annotations

import argparse
import codecs
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from scipy import sparse

from analysis.cell_sums import sums_design
from analysis.data import AnalysisInputError, FloatArray, ItemMatrices, item_matrices, no_respondents
from analysis.design import IntArray, LonelyPSU
from analysis.domains import build_domains
from analysis.estimates import domain_estimates
from analysis.inputs import check_declared_codes, check_weights
from analysis.intervals import DEFAULT_INTERVAL_METHOD, IntervalMethod
from analysis.sufficient import Layout, aggregate_to_domains
from analysis.tables import labelled_table
from instruments.index import IndexDefinition

CHUNK_ROWS = 131_072
"""Rows summed at a time. Part of the result's rounding: change it and the last bits may change."""

# pandas' default missing-value strings (read_csv's ``na_values``), given to Arrow so that both
# readers see the same blanks.
PANDAS_NA_VALUES = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
                    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")
_CHECK_BLOCK = 1 << 24  # bytes decoded at a time by the UTF-8 check
_CSV_BLOCK = 1 << 20  # Arrow's CSV block: small blocks keep its read-ahead small (1M rows: 507 vs 703 MiB)


class _Unusual(Exception):
    """The streamed path steps aside: the whole-table path reads (or refuses) the file."""


def streamable(args: argparse.Namespace) -> bool:
    """Whether the options of `args` are the default design the streamed path computes."""
    return (len(by_columns(args)) == 1 and args.frame is None and not args.margin and args.strata_col is None
            and args.cluster_col is None and args.fpc_col is None and args.period is None
            and args.date_col is None)


def by_columns(args: argparse.Namespace) -> list[str]:
    """The unit column, then the grouping columns, of ``--by`` (a comma-separated list).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``indices`` command line.

    Returns
    -------
    list of str
    """
    return [c.strip() for c in args.by.split(",") if c.strip()]


def stream_indices(args: argparse.Namespace, definition: IndexDefinition) -> pd.DataFrame | None:
    """The indices table of `args` read chunk by chunk, or None when the whole table must be read.

    References
    ----------
    See `analysis.tables.compute_indices` (the same table) and `analysis.sufficient` (why the sums
    of units are enough).
    """
    if not streamable(args):
        return None
    unit_col = by_columns(args)[0]
    items = definition.item_ids
    extra = [c for c in (args.parent_col, args.weight_col) if c is not None]
    needed = list(dict.fromkeys([unit_col, *extra, *items]))
    if len(needed) != 1 + len(extra) + len(items) or unit_col in items:
        return None  # a column with two roles: leave it to the whole-table path
    sums = _UnitSums(definition, unit_col, args.parent_col, args.weight_col, args.responses,
                     args.invalid_codes == "error")
    try:
        pieces = _pieces(args.responses, needed, unit_col, args.parent_col, args.csv_engine)
        for chunk in _fixed_chunks(pieces, CHUNK_ROWS):
            sums.add(chunk)
        ci = DEFAULT_INTERVAL_METHOD if args.ci == "all" else args.ci
        return sums.table(lonely_psu=cast(LonelyPSU, args.lonely_psu), targets=args.target, alpha=args.alpha,
                          ci_method=cast(IntervalMethod, ci), all_intervals=args.ci == "all",
                          min_n=args.min_n)
    except (_Unusual, AnalysisInputError, ValueError, KeyError, TypeError, OSError, pa.ArrowException):
        return None  # the whole-table path reads the file again and words any error


class _UnitSums:
    """Running sums of `unit_statistics` per unit (one stratum each), in order of first appearance."""

    def __init__(self, definition: IndexDefinition, unit_col: str, parent_col: str | None,
                 weight_col: str | None, path: Path, check_codes: bool) -> None:
        self.definition, self.unit_col, self.parent_col = definition, unit_col, parent_col
        self.weight_col, self.path, self.check_codes = weight_col, path, check_codes
        self.labels: dict[str, int] = {}
        self.parents: dict[str, str] = {}
        self.arrays: list[FloatArray] = []
        self.respondents = np.zeros(0, dtype=np.int64)
        self.any_valid = False
        self.scratch: dict[str, FloatArray] = {}

    def add(self, frame: pd.DataFrame) -> None:
        """Check one chunk as the whole-table path checks the file, and add its units' sums."""
        units = frame[self.unit_col]
        if units.isna().any():
            raise _Unusual
        codes, uniques = pd.factorize(units)
        ids = np.array([self.labels.setdefault(str(u), len(self.labels)) for u in uniques], dtype=np.intp)
        unit = ids[codes]
        if self.parent_col is not None:
            self._add_parents(frame)
        if self.check_codes:
            check_declared_codes(frame, self.definition, self.path)
        if self.weight_col is not None:
            check_weights(frame, self.weight_col, self.path)
            weight = pd.to_numeric(frame[self.weight_col], errors="coerce").to_numpy(dtype=np.float64)
        else:
            weight = np.ones(len(frame))
        items = item_matrices(frame, self.definition)
        self.any_valid = self.any_valid or bool(items.valid.any())
        n = len(self.labels)
        parts = unit_statistics(items, weight, unit, n, self.scratch)
        if not self.arrays:
            self.arrays = [np.zeros((0, *part.shape[1:])) for part in parts]
        if n > len(self.respondents):
            grow = n - len(self.respondents)
            self.arrays = [np.concatenate([a, np.zeros((grow, *a.shape[1:]))]) for a in self.arrays]
            self.respondents = np.concatenate([self.respondents, np.zeros(grow, dtype=np.int64)])
        for total, part in zip(self.arrays, parts, strict=True):
            total += part
        self.respondents += np.bincount(unit, minlength=n)

    def _add_parents(self, frame: pd.DataFrame) -> None:
        """Each unit's parent, as text; a blank or number-like parent is left to the whole-table
        readers (their column types decide whether ``01`` reads as ``1``)."""
        assert self.parent_col is not None
        pairs = frame[[self.unit_col, self.parent_col]].drop_duplicates()
        parents = pairs[self.parent_col]
        if parents.isna().any():
            raise _Unusual
        text = parents.astype(str)
        if (pd.to_numeric(text, errors="coerce").notna().any()
                or text.str.strip().str.lower().isin(["true", "false", ""]).any()):
            raise _Unusual
        for unit, parent in zip(pairs[self.unit_col].astype(str), text, strict=True):
            if self.parents.setdefault(unit, parent) != parent:
                raise _Unusual  # two parents: the whole-table path names the unit

    def table(self, *, lonely_psu: LonelyPSU, targets: float | None, alpha: float,
              ci_method: IntervalMethod, all_intervals: bool, min_n: int) -> pd.DataFrame:
        """The indices table (`analysis.tables.compute_indices`) from the summed units."""
        if not self.labels or not self.any_valid:
            raise _Unusual  # header only, or nothing to estimate: the whole-table path says so
        raw = pd.Series(list(self.labels), dtype=object)
        stratum, stratum_labels = pd.factorize(raw.astype("string"), sort=True)
        domains = build_domains(raw, self.parents if self.parent_col is not None else None)
        order = np.argsort(stratum, kind="stable")  # the whole-table path's order of (stratum, unit)
        layout = Layout(len(self.definition.criteria), len(self.definition.elements),
                        len(self.definition.separate))
        cells = aggregate_to_domains(layout, stratum[order].astype(np.intp), domains.unit_codes[order],
                                     domains.membership, *(a[order] for a in self.arrays))
        design = sums_design([str(u) for u in stratum_labels], self.respondents[order], lonely_psu)
        table = domain_estimates(cells, design, no_respondents(self.definition), len(domains.labels))
        return labelled_table(table, domains, (), targets=targets, alpha=alpha, ci_method=ci_method,
                         all_intervals=all_intervals, min_n=min_n)


def unit_statistics(items: ItemMatrices, weight: FloatArray, unit: IntArray, n_units: int,
                    scratch: dict[str, FloatArray] | None = None) -> tuple[FloatArray, ...]:
    """Per unit, the arrays `analysis.sufficient.cell_statistics` sums for a (stratum, unit) cell of the
    default design, for positive weights: totals, cross, pair_cross, psu_present, rows, rows_positive,
    sum_w, sum_w2 (shapes as in `analysis.sufficient.CellStatistics`, one row per unit).

    Each respondent is a PSU, so every array is a weighted sum over respondents of ``z`` (the `Layout`
    columns and the element denominators) with weight 1, w or w^2, and ``cross`` sums ``(w u)(w u)'``.
    The extra ratios' cross-products need no products of columns: their variables are 0/1 indicators
    or codes whose products are already columns (``y v = y``, ``c a = c``, ``f l = f``; as in
    `analysis.cell_sums`). Three sparse products replace `cell_statistics`' ten passes over a wide
    matrix. `scratch` keeps the two large work matrices from one chunk to the next: freshly allocated,
    their first touch cost more than all the arithmetic.
    """
    if not bool((weight > 0).all()):
        raise _Unusual  # zero weights: present and positive counts differ; the whole-table path has both
    layout = Layout(len(items.criteria), len(items.elements), len(items.separate))
    k, e, j = layout.k, layout.e, layout.j
    m, n_totals = len(unit), layout.n_totals
    held = {} if scratch is None else scratch

    def work(name: str, width: int) -> FloatArray:
        if name not in held or held[name].shape[0] < m or held[name].shape[1] != width:
            held[name] = np.empty((m, width))
        return held[name][:m]

    score = items.score.astype(np.float64)
    z = work("z", n_totals + e)
    np.concatenate([items.satisfied, items.valid, score, score * score, items.all_satisfied[:, None],
                    items.any_valid[:, None], items.favourable, items.listed, items.element_valid],
                   axis=1, out=z)
    by_unit = sparse.csr_matrix((np.ones(m), (unit, np.arange(m))), shape=(n_units, m))
    respondent = by_unit.indices  # the respondent of each stored entry
    sums = []
    for power in (0, 1, 2):
        by_unit.data = weight[respondent] ** power if power else np.ones(m)
        sums.append(np.asarray(by_unit @ z))
    count, weighted, squared = sums
    listed = range(4 * k + 2 + j, 4 * k + 2 + 2 * j)
    q = [*range(k, 2 * k), *range(n_totals, n_totals + e), 4 * k + 1, *listed]  # `Layout` denominators
    triples = [(3 * k + i, 2 * k + i, k + i) for i in range(k)] + [(4 * k, 4 * k, 4 * k + 1)]
    triples += [(4 * k + 2 + i, 4 * k + 2 + i, 4 * k + 2 + j + i) for i in range(j)]
    pair_cross = squared[:, np.array(triples, dtype=np.intp).reshape(-1, 3)]
    order = np.argsort(unit, kind="stable")
    sorted_unit = unit[order]
    starts = np.flatnonzero(np.r_[True, sorted_unit[1:] != sorted_unit[:-1]])
    answers = np.concatenate([items.satisfied, items.valid], axis=1)[order]  # u as bytes: a cheap gather
    weighted_u = work("u", 2 * k)
    np.multiply(answers, weight[order][:, None], out=weighted_u)
    cross = np.zeros((n_units, 2 * k, 2 * k))
    bounds = np.r_[starts, m]
    for g, code in enumerate(sorted_unit[starts]):
        block = weighted_u[bounds[g] : bounds[g + 1]]
        cross[code] = block.T @ block
    rows = count[:, q]
    return (weighted[:, :n_totals], cross, pair_cross, rows, rows, rows, weighted[:, q], squared[:, q])


def _pieces(path: Path, needed: list[str], unit_col: str, parent_col: str | None, engine: str
            ) -> Iterator[pd.DataFrame]:
    """The needed columns of `path` in pieces, typed as `analysis.inputs.read_table` types them (the
    unit and parent as text, numbers as float64, pandas' missing-value strings as blanks)."""
    if path.suffix.lower() == ".parquet":
        source = pq.ParquetFile(path)
        schema = source.schema_arrow
        if len(set(schema.names)) != len(schema.names) or set(needed) - set(schema.names):
            raise _Unusual
        for name in [unit_col, *([parent_col] if parent_col else [])]:
            if not (pa.types.is_string(schema.field(name).type)
                    or pa.types.is_large_string(schema.field(name).type)):
                raise _Unusual  # read_table's astype(str) of numbers: leave to the whole-table path
        for batch in source.iter_batches(batch_size=CHUNK_ROWS, columns=needed):
            yield batch.to_pandas()
        return
    _check_utf8(path)
    with path.open(encoding="utf-8-sig", newline="") as stream:
        header = next(csv.reader(stream), [])
    if any(header.count(name) != 1 for name in needed):
        raise _Unusual  # a missing or repeated column: pandas' readers name or rename it
    text_columns = [unit_col, *([parent_col] if parent_col else [])]
    if engine == "c":
        yield from pd.read_csv(path, usecols=needed, dtype=dict.fromkeys(text_columns, str), encoding="utf-8",
                               chunksize=CHUNK_ROWS)
        return
    numbers = [c for c in needed if c not in text_columns]
    convert = pa_csv.ConvertOptions(
        include_columns=needed, null_values=list(PANDAS_NA_VALUES), strings_can_be_null=True,
        column_types={**dict.fromkeys(text_columns, pa.string()), **dict.fromkeys(numbers, pa.float64())},
    )
    reader = pa_csv.open_csv(path, read_options=pa_csv.ReadOptions(block_size=_CSV_BLOCK),
                             convert_options=convert)
    if sorted(reader.schema.names) != sorted(needed):
        raise _Unusual
    for batch in reader:
        yield batch.to_pandas()


def _check_utf8(path: Path) -> None:
    """Refuse (to the whole-table path) a file that is not UTF-8 or is blank, without holding it."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    blank = True
    with path.open("rb") as stream:
        while block := stream.read(_CHECK_BLOCK):
            try:
                text = decoder.decode(block)
            except UnicodeDecodeError:
                raise _Unusual from None
            blank = blank and not text.strip()
        try:
            blank = blank and not decoder.decode(b"", final=True).strip()
        except UnicodeDecodeError:
            raise _Unusual from None
    if blank:
        raise _Unusual


def _fixed_chunks(pieces: Iterator[pd.DataFrame], size: int) -> Iterator[pd.DataFrame]:
    """Regroup `pieces` into frames of exactly `size` rows (the last may be shorter), in order."""
    held: list[pd.DataFrame] = []
    count = 0
    for piece in pieces:
        held.append(piece)
        count += len(piece)
        while count >= size:
            frame = pd.concat(held, ignore_index=True) if len(held) > 1 else held[0].reset_index(drop=True)
            yield frame.iloc[:size].reset_index(drop=True)
            rest = frame.iloc[size:]
            held, count = ([rest] if len(rest) else []), len(rest)
    if count:
        yield pd.concat(held, ignore_index=True) if len(held) > 1 else held[0].reset_index(drop=True)
