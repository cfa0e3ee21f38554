"""Small-cell rule: no published 0 < n < 5, and no hidden sensitive cell determined by the published
sums. Recoverability is checked independently by linear algebra (a cell is determined iff its unit
vector lies in the row space of the relations restricted to the unknown cells), not by the rule's
own relation-by-relation test."""

from __future__ import annotations

import random

import numpy as np
import pytest

from analysis.small_cells import Relation, suppress_small_cells


def determined(values: dict[str, int], relations: list[Relation[str]], unknown: set[str]) -> set[str]:
    """Unknown cells whose value follows from the published cells through the relations."""
    order = sorted(unknown)
    if not order:
        return set()
    rows = []
    for relation in relations:
        row = np.zeros(len(order))
        for cell, sign in ((relation.total, 1.0), *((m, -1.0) for m in relation.members)):
            if cell in unknown:
                row[order.index(cell)] += sign
        if row.any():
            rows.append(row)
    if not rows:
        return set()
    matrix = np.array(rows)
    rank = np.linalg.matrix_rank(matrix)
    found = set()
    for i, cell in enumerate(order):
        unit = np.zeros(len(order))
        unit[i] = 1.0
        if np.linalg.matrix_rank(np.vstack([matrix, unit])) == rank:
            found.add(cell)
    return found


def tree_table(seed: int) -> tuple[dict[str, int], list[Relation[str]], set[str]]:
    """A province -> communes -> service points table with own-response remainders."""
    rng = random.Random(seed)
    values: dict[str, int] = {}
    relations: list[Relation[str]] = []
    hidden: set[str] = set()
    communes = []
    for c in range(rng.randint(2, 5)):
        commune = f"C{c}"
        points = [f"C{c}.P{p}" for p in range(rng.randint(1, 4))]
        for point in points:
            values[point] = rng.choice([0, 1, 2, 3, 4, 6, 9, 15, 40])
        own = f"C{c}.own"
        values[own] = rng.choice([0, 0, 0, 2, 7])
        hidden.add(own)
        values[commune] = sum(values[p] for p in points) + values[own]
        relations.append(Relation(commune, (*points, own)))
        communes.append(commune)
    values["own"] = rng.choice([0, 3, 12])
    hidden.add("own")
    values["HL"] = sum(values[c] for c in communes) + values["own"]
    relations.append(Relation("HL", (*communes, "own")))
    return values, relations, hidden


@pytest.mark.parametrize("seed", range(60))
def test_no_small_published_cell_and_no_sensitive_cell_recoverable(seed: int) -> None:
    values, relations, hidden = tree_table(seed)
    result = suppress_small_cells(values, relations, hidden=hidden)
    published = {c: v for c, v in values.items() if c not in hidden and c not in result.suppressed}
    assert not [c for c, v in published.items() if 0 < v < 5]
    # A reader knows the published counts and that a hidden zero is zero.
    unknown = {c for c in values if c not in published and not (c in hidden and values[c] == 0)}
    sensitive = {c for c in unknown if 0 < values[c] < 5} | (result.complementary & unknown)
    assert not determined(values, relations, unknown) & sensitive


def test_hand_example() -> None:
    # Commune 20 = points 3 + 7 + 10 (+ own 0). The 3 is primary; alone it would be 20 - 7 - 10, so the
    # smallest other positive point (7) is hidden too. The province publishes 20 + 30 = 50 unchanged.
    values = {"HL": 50, "C": 20, "D": 30, "C1": 3, "C2": 7, "C3": 10, "C.own": 0, "own": 0}
    relations = [Relation("C", ("C1", "C2", "C3", "C.own")), Relation("HL", ("C", "D", "own"))]
    result = suppress_small_cells(values, relations, hidden={"C.own", "own"})
    assert result.primary == {"C1"} and result.complementary == {"C2"}


def test_a_lone_small_child_takes_its_parent_and_a_sibling_of_the_parent() -> None:
    # Commune C has one point with 3 responses: C = 3 too, so C is hidden; then HL = C + D reveals C
    # unless D is hidden as well.
    values = {"HL": 20, "C": 3, "D": 17, "C1": 3, "C.own": 0, "own": 0}
    relations = [Relation("C", ("C1", "C.own")), Relation("HL", ("C", "D", "own"))]
    result = suppress_small_cells(values, relations, hidden={"C.own", "own"})
    assert result.suppressed == {"C1", "C", "D"}


def test_unprotectable_relation_and_bad_input_are_errors() -> None:
    with pytest.raises(ValueError, match="does not add up"):
        suppress_small_cells({"T": 5, "a": 2}, [Relation("T", ("a",))])
    with pytest.raises(ValueError, match="threshold"):
        suppress_small_cells({}, [], threshold=0)
