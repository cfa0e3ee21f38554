"""Raw answer codes -> validity, satisfaction and score matrices for an index definition.

One pass over the respondent table turns the item columns into small dense arrays that every later
step reuses: `valid` (the answer is a scale level), `satisfied` (the level counts as satisfied) and the
codes themselves (for the mean score). Not-applicable and missing answers are simply not valid, so they
drop out of every denominator instead of counting as zeros.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from instruments.index import IndexDefinition

BoolMatrix = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


class AnalysisInputError(ValueError):
    """The respondent table does not fit the index definition (missing column, non-numeric codes...)."""


@dataclass(frozen=True)
class ItemMatrices:
    """Per-respondent indicators for the criteria and the separately reported items.

    Attributes
    ----------
    criteria : tuple of str
        Criterion item ids, in definition (element) order; columns of the matrices below.
    element_of : numpy.ndarray of int
        Index of each criterion's element in ``elements``.
    elements : tuple of str
        Element ids, in definition order.
    element_weights : numpy.ndarray of float
        Weight of each element in the overall index.
    valid, satisfied : numpy.ndarray of bool, shape (n, K)
        Answer is a scale level / answer is a satisfied level.
    score : numpy.ndarray of int16, shape (n, K)
        The code where valid, 0 elsewhere (so that sums over respondents are sums over valid answers).
    separate : tuple of str
        Separately reported item ids.
    listed, favourable : numpy.ndarray of bool, shape (n, J)
        Answer has one of the item's listed codes / one of its favourable codes.
    """

    criteria: tuple[str, ...]
    element_of: npt.NDArray[np.intp]
    elements: tuple[str, ...]
    element_weights: FloatArray
    valid: BoolMatrix
    satisfied: BoolMatrix
    score: npt.NDArray[np.int16]
    separate: tuple[str, ...]
    listed: BoolMatrix
    favourable: BoolMatrix
    element_valid: BoolMatrix
    any_valid: npt.NDArray[np.bool_]
    all_satisfied: npt.NDArray[np.bool_]
    packed: npt.NDArray[np.int16]

    @property
    def n(self) -> int:
        """Number of respondents."""
        return int(self.valid.shape[0])


def numeric_codes(column: pd.Series, name: str) -> FloatArray:
    """Return a column of answer codes as floats with NaN for missing; refuse text and fractions.

    Empty strings and NA are missing. Anything else must be an integer number (``"5"``, ``5``,
    ``5.0``); ``"abc"`` or ``3.5`` raise `AnalysisInputError` because guessing would change the index.

    References
    ----------
    docs/bad-input.md, row 12 (values that are not a code of their scale).
    """
    plain_numbers = pd.api.types.is_float_dtype(column.dtype) or (
        pd.api.types.is_integer_dtype(column.dtype)
        and not isinstance(column.dtype, pd.api.extensions.ExtensionDtype)
    )
    if plain_numbers:  # skip the parsing
        array = column.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        array = _parse_codes(column, name)
    fractional = np.isfinite(array) & (array != np.round(array))
    if fractional.any():
        raise AnalysisInputError(f"column {name!r}: code {array[fractional][0]!r} is not an integer")
    return array


def _parse_codes(column: pd.Series, name: str) -> FloatArray:
    series = column
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        stripped = series.astype("string").str.strip()
        series = stripped.mask(stripped == "")
    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna() & series.notna()
    if bad.any():
        first = series[bad].iloc[0]
        raise AnalysisInputError(f"column {name!r}: code {first!r} is not a number")
    return np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


@dataclass(frozen=True)
class _ClassTable:
    """The code -> class tables of several columns side by side, so that one look-up classifies a whole
    (n, m) matrix of codes as well as one column: column j's code c sits at ``base[j] + c - low[j]``, and
    the last slot (class 0) takes every code outside a column's table, NaN included."""

    low: npt.NDArray[np.float64]
    last: npt.NDArray[np.float64]
    base: npt.NDArray[np.intp]
    flat: npt.NDArray[np.uint8]

    @classmethod
    def of(cls, columns: tuple[Mapping[int, int], ...]) -> _ClassTable:
        """The table of each column's {code: class} (class 0 for any other value)."""
        low = [min(classes, default=0) for classes in columns]
        span = [max(classes) - lo + 1 if classes else 0 for classes, lo in zip(columns, low, strict=True)]
        base = np.concatenate([[0], np.cumsum(span)]).astype(np.intp)
        flat = np.zeros(int(base[-1]) + 1, dtype=np.uint8)
        for classes, lo, start in zip(columns, low, base, strict=False):
            for code, value in classes.items():
                flat[start + code - lo] = value
        return cls(np.array(low, dtype=np.float64), np.array(span, dtype=np.float64) - 1, base[:-1], flat)

    def classes(self, codes: FloatArray, column: int | slice = slice(None)) -> npt.NDArray[np.uint8]:
        """The class of each code: `codes` is column `column`'s (n,) or the columns' (n, m) matrix.

        Codes are integer-valued (`numeric_codes`); the offset is a float until it is known inside the
        column's table, so that NaN and far-off codes never index it."""
        offset = codes - self.low[column]
        inside = (offset >= 0) & (offset <= self.last[column])  # False for NaN
        return self.flat[np.where(inside, offset + self.base[column], len(self.flat) - 1).astype(np.intp)]


# By the definition object itself (kept alive here, so its id is not reused): hashing a definition walks
# every criterion's codes, a fifth of a web submission's sums.
_CLASS_TABLES: dict[int, tuple[IndexDefinition, tuple[_ClassTable, _ClassTable]]] = {}


def _class_tables(definition: IndexDefinition) -> tuple[_ClassTable, _ClassTable]:
    """The criteria's classes (1 valid, 2 valid and satisfied) and the separate items' (1 listed, 2 listed
    and favourable): the one reading of validity and satisfaction, built once per definition."""
    kept = _CLASS_TABLES.get(id(definition))
    if kept is not None and kept[0] is definition:
        return kept[1]
    if len(_CLASS_TABLES) >= 64:
        _CLASS_TABLES.clear()
    tables = _built_class_tables(definition)
    _CLASS_TABLES[id(definition)] = (definition, tables)
    return tables


def _built_class_tables(definition: IndexDefinition) -> tuple[_ClassTable, _ClassTable]:
    criteria = tuple({c: 1 + (c in criterion.satisfied_codes) for c in criterion.valid_codes}
                     for criterion in definition.criteria)
    separate = tuple({c: 1 + (c in item.favourable) for c in item.codes} for item in definition.separate)
    return _ClassTable.of(criteria), _ClassTable.of(separate)


def item_matrices(data: pd.DataFrame, definition: IndexDefinition) -> ItemMatrices:
    """Build the indicator matrices of `definition` from one row per respondent.

    Parameters
    ----------
    data : pandas.DataFrame
        One column per item holding the raw codes (integers, numeric strings, or empty for missing).
    definition : instruments.index.IndexDefinition
        Which items are criteria, their elements, and the codes that are valid and satisfied.

    Returns
    -------
    ItemMatrices

    Raises
    ------
    AnalysisInputError
        If an item column is missing or holds a non-integer code.

    References
    ----------
    Bộ Y tế, Quyết định 3869/QĐ-BYT (2019): "not applicable" answers are excluded from denominators.
    """
    missing = [name for name in definition.item_ids if name not in data.columns]
    if missing:
        raise AnalysisInputError(f"missing item column(s): {', '.join(missing)}")
    return code_matrices(lambda name: numeric_codes(data[name], name), len(data), definition)


def no_respondents(definition: IndexDefinition) -> ItemMatrices:
    """The item matrices of `definition` without a respondent: its layout and element structure.

    Parameters
    ----------
    definition : instruments.index.IndexDefinition

    Returns
    -------
    ItemMatrices
        Zero rows, the columns of `definition`; the same object for the same definition (its arrays
        are empty, so nothing can change them), since every table computed from sums asks for it.
    """
    return _no_respondents(definition)


@functools.lru_cache(maxsize=16)
def _no_respondents(definition: IndexDefinition) -> ItemMatrices:
    # about 1 ms (an empty frame of every item, read column by column): 6 times per unit page
    shared = item_matrices(pd.DataFrame(columns=definition.item_ids, dtype=np.float64), definition)
    for value in vars(shared).values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False  # shared between callers: none may change it
    return shared


_THREADED_ROWS = 10_000  # below this, starting threads costs more than it saves
# Up to this many rows, all columns are classified at once (a web submission's one row: 0.46 ms against
# 0.65 ms for the SIPAS form); above a few thousand a column at a time is faster (5,000 rows: 1.4 ms
# against 3.5 ms), the stacked copies no longer fitting the caches.
_STACKED_ROWS = 1024


def code_matrices(read: Callable[[str], FloatArray], n: int, definition: IndexDefinition) -> ItemMatrices:
    """`item_matrices` from a reader of each item's codes as floats (NaN = missing), one per respondent.

    The one reading of validity and satisfaction (`_class_tables`), for a table (`item_matrices`) or a
    single respondent's answers (a web submission, without building a table).
    """
    criteria, separate = _class_tables(definition)
    if n <= _STACKED_ROWS:
        # Every column in one look-up: a column at a time costs a dozen numpy calls per item, most of a
        # web submission's 0.3 ms here. F order as below, so that both give the same arrays.
        codes = _stacked(read, [c.item_id for c in definition.criteria], n)
        classes = criteria.classes(codes)
        valid, satisfied = np.asfortranarray(classes > 0), np.asfortranarray(classes == 2)
        score = np.asfortranarray(np.where(valid, codes, 0.0).astype(np.int16))
        listed_classes = separate.classes(_stacked(read, [s.item_id for s in definition.separate], n))
        listed, favourable = np.asfortranarray(listed_classes > 0), np.asfortranarray(listed_classes == 2)
    else:
        valid, satisfied, score, listed, favourable = _column_matrices(read, n, definition)
    elements = tuple(e.element_id for e in definition.elements)
    element_of = np.array([elements.index(c.element_id) for c in definition.criteria], dtype=np.intp)
    element_valid = np.zeros((n, len(elements)), dtype=bool, order="F")
    for e in range(len(elements)):
        element_valid[:, e] = valid[:, element_of == e].any(axis=1)
    any_valid: npt.NDArray[np.bool_] = np.asarray(valid.any(axis=1))
    all_satisfied: npt.NDArray[np.bool_] = np.asarray(any_valid & ~(valid & ~satisfied).any(axis=1))
    packed = np.concatenate(
        [valid.astype(np.int16) + satisfied, score, listed.astype(np.int16) + favourable,
         all_satisfied[:, None], any_valid[:, None], element_valid],
        axis=1,
        dtype=np.int16,
    )
    return ItemMatrices(
        criteria=tuple(c.item_id for c in definition.criteria),
        element_of=element_of,
        elements=elements,
        element_weights=np.array([e.weight for e in definition.elements], dtype=np.float64),
        valid=valid,
        satisfied=satisfied,
        score=score,
        separate=tuple(s.item_id for s in definition.separate),
        listed=listed,
        favourable=favourable,
        element_valid=element_valid,
        any_valid=any_valid,
        all_satisfied=all_satisfied,
        packed=packed,
    )


def _stacked(read: Callable[[str], FloatArray], item_ids: Sequence[str], n: int) -> FloatArray:
    """The codes of `item_ids`, one column each, as an (n, len(item_ids)) matrix."""
    if not item_ids:
        return np.zeros((n, 0))
    # one conversion of the columns, transposed (a view, F-ordered): column_stack converted each on its own
    return np.asarray([read(item_id) for item_id in item_ids], dtype=np.float64).T


def _column_matrices(read: Callable[[str], FloatArray], n: int, definition: IndexDefinition
                     ) -> tuple[BoolMatrix, BoolMatrix, npt.NDArray[np.int16], BoolMatrix, BoolMatrix]:
    """valid, satisfied, score, listed and favourable filled a column at a time (the criteria on two
    threads from `_THREADED_ROWS` rows): a table's matrices without a stacked copy of its codes."""
    criteria, separate = _class_tables(definition)
    k = len(definition.criteria)
    # Column-major: each criterion fills one contiguous column (a row-major column write strides
    # through the whole matrix; 0.5 s of a million-row run). Values are the same either way.
    valid = np.zeros((n, k), dtype=bool, order="F")
    satisfied = np.zeros((n, k), dtype=bool, order="F")
    score = np.zeros((n, k), dtype=np.int16, order="F")

    def read_criterion(j: int) -> None:
        codes = read(definition.criteria[j].item_id)
        classes = criteria.classes(codes, j)
        valid[:, j] = classes > 0
        satisfied[:, j] = classes == 2
        score[:, j] = np.where(valid[:, j], codes, 0.0)

    if n < _THREADED_ROWS:
        for j in range(k):
            read_criterion(j)
    else:  # columns are independent and numpy releases the GIL: two threads use both cores
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(read_criterion, range(k)))
    listed = np.zeros((n, len(definition.separate)), dtype=bool, order="F")
    favourable = np.zeros((n, len(definition.separate)), dtype=bool, order="F")
    for j, item in enumerate(definition.separate):
        classes = separate.classes(read(item.item_id), j)
        listed[:, j] = classes > 0
        favourable[:, j] = classes == 2
    return valid, satisfied, score, listed, favourable
