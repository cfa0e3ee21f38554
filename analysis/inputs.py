"""Strict reading of the command line's input files: every refusal names the file, and where it can the
column, row and value, so that bad input never becomes a quiet table of suppressed or invalid answers.

Rows are counted as data rows from 1 (the header is line 1 of the file, so data row r is line r + 1
when no field spans several lines).
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from analysis.data import AnalysisInputError, numeric_codes
from instruments.index import IndexDefinition

CSV_ENGINES = ("arrow", "c")


def read_table(path: Path, role: str, dtype: dict[str, type] | None = None, engine: str = "arrow"
               ) -> pd.DataFrame:
    """Read a UTF-8 CSV (a byte-order mark is allowed) or a Parquet file with at least one data row.

    Parameters
    ----------
    path : pathlib.Path
        A ``.parquet`` file is read with pyarrow; anything else as CSV.
    role : str
        What the file is ("responses", "frame", ...), for the messages.
    dtype : dict, optional
        Column types (passed to `pandas.read_csv`; applied after reading a Parquet file).
    engine : {"arrow", "c"}
        CSV parser: Arrow's multi-threaded reader (several times faster on a large file) or pandas'
        C parser. A file Arrow cannot read (e.g. a line break inside a quoted comment) is read again
        with the C parser, so the choice changes speed, never the table.

    Raises
    ------
    AnalysisInputError
        If the file is missing, empty, not UTF-8 (with the byte offset and line of the first bad
        byte), not a CSV or Parquet file, or has a header but no rows.
    """
    if not path.exists():
        raise AnalysisInputError(f"{role} file not found: {path}")
    if path.suffix.lower() == ".parquet":
        table = _read_parquet(path, dtype)
    else:
        table = _read_csv(path, role, dtype, engine)
    if table.empty:
        raise AnalysisInputError(f"{path}: the {role} file has a header but no rows")
    return table


def _read_csv(path: Path, role: str, dtype: dict[str, type] | None, engine: str) -> pd.DataFrame:
    raw = path.read_bytes()
    try:
        blank = not raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise AnalysisInputError(
            f"{path}: not UTF-8: byte 0x{raw[exc.start]:02x} at byte offset {exc.start} (line {line}); "
            "save the file as UTF-8"
        ) from None
    if blank:
        raise AnalysisInputError(f"{path}: the {role} file is empty")
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    if engine == "arrow":
        try:
            return _read_csv_arrow(raw, dtype)
        except (pa.ArrowException, ValueError):
            pass  # the C parser below reads what it can and words the error when the file is bad
    try:
        return pd.read_csv(io.BytesIO(raw), dtype=dtype, encoding="utf-8")
    except (pd.errors.ParserError, ValueError) as exc:
        raise AnalysisInputError(f"{path}: not a readable CSV ({exc})") from None


def _read_csv_arrow(raw: bytes, dtype: dict[str, type] | None) -> pd.DataFrame:
    """Arrow's reader, typed as pandas' C parser types: Arrow alone would turn ISO dates and times
    into date and timestamp values (pandas keeps them as text), so such columns are read again as text.
    """
    table = pd.read_csv(io.BytesIO(raw), dtype=dtype, engine="pyarrow")
    types = pd.api.types
    retyped = [column for column in table.columns
               if not (types.is_numeric_dtype(table[column]) or types.is_string_dtype(table[column]))
               or types.is_datetime64_any_dtype(table[column])]
    if retyped:
        as_text = pd.read_csv(io.BytesIO(raw), engine="pyarrow", usecols=retyped,
                              dtype=dict.fromkeys(retyped, str))
        for column in retyped:
            table[column] = as_text[column]
    return table


def _read_parquet(path: Path, dtype: dict[str, type] | None) -> pd.DataFrame:
    try:
        table = pd.read_parquet(path, engine="pyarrow")
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise AnalysisInputError(f"{path}: not a readable Parquet file ({exc})") from None
    for column, kind in (dtype or {}).items():
        if column in table.columns:
            table[column] = table[column].astype(kind)
    return table


def _first_bad(path: Path, column: str, values: pd.Series, bad: np.ndarray, what: str) -> AnalysisInputError:
    position = int(np.flatnonzero(bad)[0])
    value = values.iloc[position]
    if isinstance(value, float | np.floating) and np.isfinite(value) and float(value).is_integer():
        value = int(value)  # a column with blanks is read as floats: show the code as written
    shown = str(value) if isinstance(value, int | np.integer) else repr(str(value))
    return AnalysisInputError(
        f"{path}: column {column!r}, row {position + 1} (line {position + 2}): {what} "
        f"{shown} ({int(bad.sum())} such row(s))"
    )


def check_declared_codes(data: pd.DataFrame, definition: IndexDefinition, path: Path) -> None:
    """Refuse an answer code that is neither a scale level, the not-applicable code nor blank.

    A 7 or a -1 on a 1-5 scale is a coding error; reading it as "not a valid answer" would drop it
    from the denominator silently. The CLI's ``--invalid-codes missing`` skips this check.

    Raises
    ------
    AnalysisInputError
        Naming the file, column, first row and value, and how many rows are affected.
    """
    declared: list[tuple[str, set[int]]] = []
    not_applicable = {c.not_applicable_code for c in definition.criteria if c.not_applicable_code is not None}
    for criterion in definition.criteria:
        allowed = set(criterion.valid_codes)
        if criterion.not_applicable_code is not None:
            allowed.add(criterion.not_applicable_code)
        declared.append((criterion.item_id, allowed))
    # A separately reported item may be skipped with the instrument's not-applicable code too.
    declared += [(item.item_id, set(item.codes) | not_applicable) for item in definition.separate]
    for column, allowed in declared:
        if column not in data.columns:
            continue  # item_matrices names missing columns
        codes = _codes_or_row_error(data[column], column, path)
        bad = np.isfinite(codes) & ~np.isin(codes, sorted(allowed))
        if bad.any():
            raise _first_bad(path, column, data[column], bad,
                             f"code outside the declared scale {sorted(allowed)}:")


def _codes_or_row_error(values: pd.Series, column: str, path: Path) -> np.ndarray:
    """`numeric_codes`, with a text or fractional code reported by file, column, row and value."""
    try:
        return numeric_codes(values, column)
    except AnalysisInputError:
        text = values.astype("string").str.strip()
        number = pd.to_numeric(text.mask(text == ""), errors="coerce")
        bad = ((text.notna() & (text != "") & number.isna()) | (number.notna() & (number != number.round())))
        rows = np.flatnonzero(bad.to_numpy(dtype=bool))
        if not len(rows):
            raise
        value = str(values.iloc[rows[0]]).strip()
        raise AnalysisInputError(
            f"{path}: column {column!r}, row {rows[0] + 1} (line {rows[0] + 2}): code {value!r} is not a "
            + ("whole number" if pd.notna(number.iloc[rows[0]]) else "number") + f" ({len(rows)} such row(s))"
        ) from None


def check_some_valid_answer(data: pd.DataFrame, definition: IndexDefinition, path: Path) -> None:
    """Refuse a file in which no criterion has a single valid answer (every index would be empty)."""
    for criterion in definition.criteria:
        if criterion.item_id in data.columns:
            codes = numeric_codes(data[criterion.item_id], criterion.item_id)
            if np.isin(codes, sorted(criterion.valid_codes)).any():
                return
    raise AnalysisInputError(f"{path}: no valid answer to any criterion: nothing to estimate")


def check_weights(data: pd.DataFrame, column: str, path: Path) -> None:
    """Refuse a missing, non-numeric, zero or negative weight, naming its row and value."""
    if column not in data.columns:
        raise AnalysisInputError(f"{path}: missing weight column: {column}")
    values = pd.to_numeric(data[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        raise _first_bad(path, column, data[column], bad, "weight that is not a finite number:")
    bad = values <= 0
    if bad.any():
        raise _first_bad(path, column, data[column], bad, "weight that is not positive:")
