"""The reading of validity and satisfaction: one look-up for a small table, a column at a time for a
larger one (on two threads for a large one); all give the same matrices, and the values written out here
by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import analysis.data
from analysis.data import ItemMatrices, item_matrices
from instruments.index import Criterion, ElementDefinition, IndexDefinition, SeparateDefinition
from instruments.registry import get_instrument

from .conftest import reference_definition

FIELDS = [field.name for field in dataclasses.fields(ItemMatrices)]

# Two criteria on different scales (1-5 satisfied at 4-5; 2-4 satisfied at 4 alone), one with no valid
# code at all, and a separate item listed at 1-3 and favourable at 1.
ODD = IndexDefinition(
    key="odd", formula="test",
    elements=(ElementDefinition("e1", ("a", "b")), ElementDefinition("e2", ("none",))),
    criteria=(Criterion("a", "e1", frozenset({1, 2, 3, 4, 5}), frozenset({4, 5}), 0),
              Criterion("b", "e1", frozenset({2, 3, 4}), frozenset({4})),
              Criterion("none", "e2", frozenset(), frozenset())),
    separate=(SeparateDefinition("s", "integrity", (1, 2, 3), frozenset({1})),))
ROWS = pd.DataFrame({
    "a": [5, 4, 3, 1, 0, None, 6, -1, 99999],
    "b": [2, 4, 1, 5, 3, 4, None, 0, -99999],
    "none": [1, 2, 3, 4, 5, 0, None, 1, 1],
    "s": [1, 2, 3, 4, 0, None, 1, 3, -5],
})
# Written out from the definitions above, not computed: the valid, satisfied and score of a and b, and
# the listed and favourable of s, row by row.
VALID = [[1, 1], [1, 1], [1, 0], [1, 0], [0, 1], [0, 1], [0, 0], [0, 0], [0, 0]]
SATISFIED = [[1, 0], [1, 1], [0, 0], [0, 0], [0, 0], [0, 1], [0, 0], [0, 0], [0, 0]]
SCORE = [[5, 2], [4, 4], [3, 0], [1, 0], [0, 3], [0, 4], [0, 0], [0, 0], [0, 0]]
LISTED = [1, 1, 1, 0, 0, 0, 1, 1, 0]
FAVOURABLE = [1, 0, 0, 0, 0, 0, 1, 0, 0]


PATHS = ["stacked", "columns", "threads"]


def _take_path(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Send every table of this test down `path`, whatever its size."""
    if path in ("columns", "threads"):
        monkeypatch.setattr(analysis.data, "_STACKED_ROWS", 0)
    if path == "threads":
        monkeypatch.setattr(analysis.data, "_THREADED_ROWS", 0)


@pytest.mark.parametrize("path", PATHS)
def test_codes_are_read_as_written_out_by_hand(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _take_path(path, monkeypatch)
    items = item_matrices(ROWS, ODD)
    np.testing.assert_array_equal(items.valid[:, :2], np.array(VALID, dtype=bool))
    np.testing.assert_array_equal(items.satisfied[:, :2], np.array(SATISFIED, dtype=bool))
    np.testing.assert_array_equal(items.score[:, :2], np.array(SCORE, dtype=np.int16))
    assert not items.valid[:, 2].any() and not items.satisfied[:, 2].any() and not items.score[:, 2].any()
    np.testing.assert_array_equal(items.listed[:, 0], np.array(LISTED, dtype=bool))
    np.testing.assert_array_equal(items.favourable[:, 0], np.array(FAVOURABLE, dtype=bool))
    np.testing.assert_array_equal(items.element_valid, np.array(
        [[1, 0], [1, 0], [1, 0], [1, 0], [1, 0], [1, 0], [0, 0], [0, 0], [0, 0]], dtype=bool))
    np.testing.assert_array_equal(items.all_satisfied, [False, True, False, False, False, True, False, False,
                                                        False])


def _random_table(definition: IndexDefinition, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns = {}
    for item_id in definition.item_ids:
        codes = rng.integers(-2, 12, size=n).astype(np.float64)
        codes[rng.random(n) < 0.15] = np.nan
        columns[item_id] = codes
    return pd.DataFrame(columns)


@pytest.mark.parametrize("definition", [
    reference_definition(), ODD,
    IndexDefinition.from_instrument(get_instrument("sipas-counter", "2025.1"))], ids=lambda d: d.key)
@pytest.mark.parametrize("path", PATHS[1:])
def test_one_look_up_and_a_column_at_a_time_give_the_same_matrices(definition: IndexDefinition, path: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for n, seed in ((1, 1), (2, 2), (500, 3)):
        table = _random_table(definition, n, seed)
        stacked = item_matrices(table, definition)
        _take_path(path, monkeypatch)
        columns = item_matrices(table, definition)
        monkeypatch.undo()
        for name in FIELDS:
            ours, theirs = getattr(stacked, name), getattr(columns, name)
            if isinstance(ours, np.ndarray):
                assert ours.dtype == theirs.dtype, name
                assert ours.flags.f_contiguous == theirs.flags.f_contiguous, name
                np.testing.assert_array_equal(ours, theirs, err_msg=name)
            else:
                assert ours == theirs, name
