"""Shared fixtures: the committed reference data sets and their index definition."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from instruments.index import IndexDefinition, SeparateDefinition

DATA = Path(__file__).parent / "data"
R_DIR = Path(__file__).parent / "r"


def reference_definition() -> IndexDefinition:
    """q1-q2 in e1 (weight 1), q3-q5 in e2 (weight 2), two separately reported items."""
    base = IndexDefinition.from_mapping(
        [("q1", "e1"), ("q2", "e1"), ("q3", "e2"), ("q4", "e2"), ("q5", "e2")],
        element_weights={"e1": 1.0, "e2": 2.0},
    )
    return dataclasses.replace(
        base,
        separate=(
            SeparateDefinition("harass", "integrity", (1, 2, 3), frozenset({1})),
            SeparateDefinition("overall", "overall", (1, 2, 3, 4, 5), frozenset({4, 5})),
        ),
    )


@pytest.fixture(scope="session")
def definition() -> IndexDefinition:
    return reference_definition()


@pytest.fixture(scope="session")
def counters() -> pd.DataFrame:
    return pd.read_csv(DATA / "counters.csv")


@pytest.fixture(scope="session")
def counters_parents() -> dict[str, str]:
    table = pd.read_csv(DATA / "counters_parents.csv")
    return dict(zip(table["unit"], table["parent"], strict=True))


@pytest.fixture(scope="session")
def household() -> pd.DataFrame:
    return pd.read_csv(DATA / "household.csv")
