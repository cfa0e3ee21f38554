"""Property tests: whatever the file holds, validation returns errors and never crashes."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from instruments.errors import InstrumentError
from instruments.loader import check_mapping, read_yaml

from .conftest import KITCHEN_SINK

BASE: dict[str, Any] = yaml.safe_load(KITCHEN_SINK.read_text(encoding="utf-8"))


def _paths(node: object, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


PATHS = _paths(BASE)[1:]  # every place in the kitchen sink but the root

values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PATHS), values), min_size=1, max_size=3))
def test_any_substitution_gives_errors_not_crashes(changes: list[tuple[tuple[Any, ...], object]]) -> None:
    data = copy.deepcopy(BASE)
    for path, value in changes:
        node: Any = data
        try:
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed this place
    instrument, errors = check_mapping(data)
    assert all(isinstance(error, InstrumentError) and isinstance(error.path, str) for error in errors)
    assert (instrument is None) == bool(errors)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_reads_or_reports(text: str) -> None:
    data, errors = read_yaml(text)
    assert errors == [] or data is None
    assert all(error.code in {"yaml_syntax", "duplicate_key"} for error in errors)
