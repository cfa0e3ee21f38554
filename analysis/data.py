"""Raw answer codes -> validity, satisfaction and score matrices for an index definition.

One pass over the respondent table turns the item columns into small dense arrays that every later
step reuses: `valid` (the answer is a scale level), `satisfied` (the level counts as satisfied) and the
codes themselves (for the mean score). Not-applicable and missing answers are simply not valid, so they
drop out of every denominator instead of counting as zeros.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
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


def _code_classes(codes: FloatArray, classes: Mapping[int, int]) -> npt.NDArray[np.uint8]:
    """Map integer-valued codes (NaN for missing) to small class numbers (0 for any other value).

    One table look-up per column instead of a set-membership test per class.
    """
    if not classes:
        return np.zeros(codes.shape, dtype=np.uint8)
    low, high = min(classes), max(classes)
    table = np.zeros(high - low + 2, dtype=np.uint8)  # last slot: outside the table
    for code, value in classes.items():
        table[code - low] = value
    offset = codes - low
    inside = (offset >= 0) & (offset <= high - low)  # False for NaN
    return table[np.where(inside, offset, high - low + 1).astype(np.intp)]


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


def code_matrices(read: Callable[[str], FloatArray], n: int, definition: IndexDefinition) -> ItemMatrices:
    """`item_matrices` from a reader of each item's codes as floats (NaN = missing), one per respondent.

    The one reading of validity and satisfaction, for a table (`item_matrices`) or a single
    respondent's answers (a web submission, without building a table).
    """
    k = len(definition.criteria)
    # Column-major: each criterion fills one contiguous column (a row-major column write strides
    # through the whole matrix; 0.5 s of a million-row run). Values are the same either way.
    valid = np.zeros((n, k), dtype=bool, order="F")
    satisfied = np.zeros((n, k), dtype=bool, order="F")
    score = np.zeros((n, k), dtype=np.int16, order="F")

    def read_criterion(j: int) -> None:
        criterion = definition.criteria[j]
        codes = read(criterion.item_id)
        cls = _code_classes(
            codes, {c: 1 + (c in criterion.satisfied_codes) for c in criterion.valid_codes}
        )
        valid[:, j] = cls > 0
        satisfied[:, j] = cls == 2
        score[:, j] = np.where(valid[:, j], codes, 0.0)

    if n < _THREADED_ROWS:
        for j in range(k):
            read_criterion(j)
    else:  # columns are independent and numpy releases the GIL: two threads use both cores
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(read_criterion, range(k)))
    elements = tuple(e.element_id for e in definition.elements)
    element_of = np.array([elements.index(c.element_id) for c in definition.criteria], dtype=np.intp)
    separate = tuple(s.item_id for s in definition.separate)
    listed = np.zeros((n, len(separate)), dtype=bool, order="F")
    favourable = np.zeros((n, len(separate)), dtype=bool, order="F")
    for j, item in enumerate(definition.separate):
        codes = read(item.item_id)
        cls = _code_classes(codes, {c: 1 + (c in item.favourable) for c in item.codes})
        listed[:, j] = cls > 0
        favourable[:, j] = cls == 2
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
        separate=separate,
        listed=listed,
        favourable=favourable,
        element_valid=element_valid,
        any_valid=any_valid,
        all_satisfied=all_satisfied,
        packed=packed,
    )
