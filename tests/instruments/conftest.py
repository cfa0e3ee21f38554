"""Shared fixtures: the kitchen-sink instrument, as a file and as a decoded mapping."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from instruments.errors import InstrumentError

FIXTURES = Path(__file__).with_name("fixtures")
KITCHEN_SINK = FIXTURES / "kitchen-sink.yaml"
_KITCHEN_SINK_DATA: dict[str, Any] = yaml.safe_load(KITCHEN_SINK.read_text(encoding="utf-8"))


@pytest.fixture
def kitchen_sink() -> dict[str, Any]:
    """A fresh deep copy of the kitchen-sink mapping, free to mutate."""
    return copy.deepcopy(_KITCHEN_SINK_DATA)


def pairs(errors: list[InstrumentError]) -> list[tuple[str, str]]:
    """(path, code) of each error, in reported order."""
    return [(error.path, error.code) for error in errors]
