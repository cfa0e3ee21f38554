"""The viewer's decision never hides a root of their scope unless the root is itself a small cell: the
rule picks a parent as a complement only when all its other terms are zeros, and then the parent equals
its one small child. Checked on random trees (seeded) against the primary condition written out."""

from __future__ import annotations

import math
import random
from types import SimpleNamespace
from typing import cast

import pandas as pd

from survey.services.reporting.index_report import IndexReport
from survey.services.reporting.small_cells import SMALL_CELL, hidden_units_by_period, protected_codes
from survey.services.reporting.viewer_cells import ViewerCells


def _tree(rng: random.Random) -> tuple[dict[str, int], dict[str, str | None]]:
    """A random unit tree (root "r"), each unit with 0-60 own responses (often 0 or small); counts
    are the subtree totals, as `compute_indices` reports them."""
    parents: dict[str, str | None] = {"r": None}
    for i in range(rng.randint(1, 12)):
        parents[f"u{i}"] = rng.choice(list(parents))
    own = {code: rng.choice([0, 0, 1, 2, 3, 4, rng.randint(5, 60)]) for code in parents}
    counts = dict.fromkeys(parents, 0)
    for code, n in own.items():
        node: str | None = code
        while node is not None:
            counts[node] += n
            node = parents[node]
    return counts, parents


def test_a_scope_root_is_hidden_only_when_it_is_itself_small() -> None:
    rng = random.Random(20261204)
    hidden_roots = 0
    for _ in range(500):
        counts, parents = _tree(rng)
        root_hidden = "r" in protected_codes(counts, parents)
        assert root_hidden == (0 < counts["r"] < SMALL_CELL), (counts, parents)
        hidden_roots += root_hidden
    assert hidden_roots > 0  # the draw did reach the small-root case


def test_viewer_cells_looks_units_up_per_period() -> None:
    cells = ViewerCells(frozenset({"a"}), {"2026-09": frozenset(), "2026-10": frozenset({"a"})})
    assert cells.hides("a") and not cells.hides("b")
    assert cells.hides_in("2026-10", "a") and not cells.hides_in("2026-09", "a")
    assert not cells.hides_in("2025-01", "a")  # a period outside the window: no decision, nothing hidden
    assert not ViewerCells().hides("a")


def _trend_report(counts: dict[str, dict[str, int]], parents: dict[str, str | None]) -> IndexReport:
    """What `hidden_units_by_period` reads of a report: its trend's counts, its tree and `derived`."""
    rows = [(label, code, n) for label, by_unit in counts.items() for code, n in by_unit.items()]
    trend = pd.DataFrame(rows, columns=["period", "domain", "n"])
    return cast(IndexReport, SimpleNamespace(trend=trend, parents=parents, derived={}))


def test_periods_whose_counts_did_not_change_keep_the_last_reports_decision() -> None:
    parents: dict[str, str | None] = {"P": None, "A": "P", "B": "P"}
    october, november = {"P": 13, "A": 3, "B": 10}, {"P": 20, "A": 10, "B": 10}
    last = _trend_report({"2026-10": october, "2026-11": november}, parents)
    # a decision no count gives, to see where it is kept
    last.derived["hidden_by_period"] = {"2026-10": frozenset({"kept"}), "2026-11": frozenset({"kept"})}
    after = {"P": 21, "A": 11, "B": 10}  # a new response in A, in November
    report = _trend_report({"2026-10": october, "2026-11": after}, parents)
    found = hidden_units_by_period(report, last)
    assert found == {"2026-10": frozenset({"kept"}), "2026-11": protected_codes(after, parents)}
    assert protected_codes(october, parents) == {"A", "B"}  # what October's decision is, computed
    other_tree = _trend_report({"2026-10": october}, {**parents, "B": "A"})
    assert hidden_units_by_period(other_tree, last) == {"2026-10": protected_codes(october, {**parents,
                                                                                            "B": "A"})}
    alone = _trend_report({"2026-10": october}, parents)
    assert hidden_units_by_period(alone) == {"2026-10": frozenset({"A", "B"})}
    # a unit without an estimate (no count) counts as none, as `row_count` reads it
    with_c = {**parents, "C": "P"}
    blank = _trend_report({"2026-10": {**october, "C": math.nan}}, with_c)  # type: ignore[dict-item]
    assert hidden_units_by_period(blank) == {"2026-10": protected_codes({**october, "C": 0}, with_c)}
