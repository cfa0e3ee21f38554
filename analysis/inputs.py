"""Strict reading of the command line's input files: every refusal names the file, and where it can the
column, row and value, so that bad input never becomes a quiet table of suppressed or invalid answers.

Rows are counted as data rows from 1 (the header is line 1 of the file, so data row r is line r + 1
when no field spans several lines).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data import AnalysisInputError, numeric_codes
from instruments.index import IndexDefinition


def read_table(path: Path, role: str, dtype: dict[str, type] | None = None) -> pd.DataFrame:
    """Read a UTF-8 CSV (a byte-order mark is allowed) with at least one data row.

    Parameters
    ----------
    path : pathlib.Path
    role : str
        What the file is ("responses", "frame", ...), for the messages.
    dtype : dict, optional
        Column types passed to `pandas.read_csv`.

    Raises
    ------
    AnalysisInputError
        If the file is missing, empty, not UTF-8 (with the byte offset and line of the first bad
        byte), not a CSV, or has a header but no rows.
    """
    if not path.exists():
        raise AnalysisInputError(f"{role} file not found: {path}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise AnalysisInputError(
            f"{path}: not UTF-8: byte 0x{raw[exc.start]:02x} at byte offset {exc.start} (line {line}); "
            "save the file as UTF-8"
        ) from None
    if not text.strip():
        raise AnalysisInputError(f"{path}: the {role} file is empty")
    try:
        table = pd.read_csv(io.StringIO(text), dtype=dtype)
    except (pd.errors.ParserError, ValueError) as exc:
        raise AnalysisInputError(f"{path}: not a readable CSV ({exc})") from None
    if table.empty:
        raise AnalysisInputError(f"{path}: the {role} file has a header but no rows")
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
