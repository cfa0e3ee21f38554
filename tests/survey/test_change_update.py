"""The change against the previous month after a new response (`period_change`): only the domains above
the response's unit are computed again, and the change table is the one a computation from scratch
gives, to the last bit, and the one computed from the response rows (to 1e-12)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from flask import Flask

from survey.extensions import db
from survey.models import Counter, IndexAggregate, ServedCount, Unit
from survey.services.reporting import period_change
from survey.services.reporting.indices import compute_unit_indices
from survey.services.reporting.periods import Period
from survey.services.reporting.table_update import TableInputs
from tests.survey.aggregate_helpers import KEY, add_desk, demo_with_responses, domains_asked, submit

NOVEMBER = Period.month(2026, 11)
FIGURES = ["est1", "est0", "ci_lo1", "ci_hi1", "diff", "se", "df", "lo", "hi", "p_value"]


@pytest.fixture
def capp(migrated_db: Path, tmp_path: Path) -> Flask:
    return demo_with_responses(migrated_db, tmp_path, 160, seed=5)


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The `domains` of every joint change computed from cell sums (None: every domain)."""
    return domains_asked(monkeypatch, period_change, "change_from_unit_statistics")


def _changes(weighted: bool) -> pd.DataFrame:
    root = db.session.scalar(sa.select(Unit).where(Unit.code == "HL"))
    assert root is not None
    return compute_unit_indices(db.session(), root, KEY, NOVEMBER, weighted=weighted).changes


def _scratch(weighted: bool) -> pd.DataFrame:
    """The change table computed with nothing to start from."""
    period_change._CHANGES._entries.clear()
    return _changes(weighted)


def _counter(code: str) -> Counter:
    found = db.session.scalars(sa.select(Counter).join(Unit).where(Unit.code == code)
                               .order_by(Counter.id)).first()
    assert found is not None, code
    return found


def _above(unit_id: int) -> set[str]:
    found, unit = set(), db.session.get(Unit, unit_id)
    while unit is not None:
        found.add(unit.code)
        unit = unit.parent
    return found


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("month", [11, 10])
def test_a_new_response_recomputes_the_change_of_the_domains_above_its_unit_only(
        capp: Flask, asked: list[Any], weighted: bool, month: int) -> None:
    """A response in either month (the current one or the one it is compared with) moves the same
    domains."""
    with capp.app_context():
        first = _changes(weighted)
        assert asked == [None]
        counter = _counter("HL-AB-1")
        submit(db.session(), counter, {"e1_info": 1, "e2_fees": 1, "overall": 1},
               datetime(2026, month, 20, 3, tzinfo=UTC))
        db.session.commit()
        asked.clear()
        updated = _changes(weighted)
        assert asked == [_above(counter.unit_id) | {"total"}]  # HL-AB-1, HL-AB, HL and the total
        moved = updated.index[(updated["diff"] != first["diff"]) & updated["diff"].notna()]
        assert set(moved) and set(moved) <= _above(counter.unit_id)
        whole = _scratch(weighted)
        assert asked[-1] is None
        pd.testing.assert_frame_equal(updated, whole, check_exact=True)
        db.session.execute(sa.delete(IndexAggregate))  # the same change from the response rows
        db.session.commit()
        rows = _scratch(weighted)
    assert list(rows.index) == list(updated.index)
    for column in ("direction", "significant"):
        assert updated[column].tolist() == rows[column].tolist(), column
    for column in FIGURES:
        np.testing.assert_allclose(updated[column].astype(float), rows[column].astype(float), rtol=0,
                                   atol=1e-12, err_msg=column)


@pytest.mark.parametrize("weighted", [True, False])
def test_a_units_first_response_recomputes_the_change_of_the_domains_above_it(capp: Flask, asked: list[Any],
                                                                             weighted: bool) -> None:
    """A desk answering for the first time (in neither month before) moves its domains in the change's
    order: the table is still the one computed from scratch, to the last bit."""
    with capp.app_context():
        counter = add_desk(db.session(), "HL-AB-2", "HL-AB", 150)
        db.session.commit()
        first = _changes(weighted)
        submit(db.session(), counter, {"e1_info": 2, "e2_fees": 5, "overall": 3},
               datetime(2026, 11, 20, 3, tzinfo=UTC))
        db.session.commit()
        asked.clear()
        updated = _changes(weighted)
        assert asked == [{"HL-AB-2", "HL-AB", "HL", "total"}], asked
        assert list(updated.index) != list(first.index)  # the desk's rows moved up among units with answers
        pd.testing.assert_frame_equal(updated, _scratch(weighted), check_exact=True)


def test_a_flagged_response_computes_no_change(capp: Flask, asked: list[Any]) -> None:
    with capp.app_context():
        first = _changes(True)
        submit(db.session(), _counter("HL-AB-1"), {"e1_info": 1}, datetime(2026, 11, 21, 3, tzinfo=UTC),
               flags=("device",))
        db.session.commit()
        asked.clear()
        updated = _changes(True)
        assert asked == []  # a flagged response is in no cell: the joint change is the last one
        pd.testing.assert_frame_equal(updated, first, check_exact=True)


PARENTS: dict[str, str | None] = {"P": None, "A": "P", "A1": "A", "B": "P"}


def _inputs(units: dict[str, int], parents: dict[str, str | None] = PARENTS) -> TableInputs:
    return TableInputs(units, parents, {}, True)


@pytest.mark.parametrize(("now", "before", "parents", "redone"), [
    ({"A1": 1, "B": 2}, {"A1": 3, "B": 4}, PARENTS, set()),  # nothing moved: the last joint change
    ({"A1": 9, "B": 2}, {"A1": 3, "B": 4}, PARENTS, {"A1", "A", "P", "total"}),
    ({"A1": 1, "B": 2}, {"A1": 3, "B": 9}, PARENTS, {"B", "P", "total"}),  # the previous month moved
    ({"A1": 1, "B": 2, "A": 5}, {"A1": 3, "B": 4}, PARENTS, {"A", "P", "total"}),  # a unit's first answer
    ({"A1": 1}, {"A1": 3, "B": 4}, PARENTS, {"B", "P", "total"}),  # a unit without a response this month
    ({"A1": 1}, {"A1": 3}, PARENTS, {"B", "P", "total"}),  # a unit without a response in either month
    ({"A1": 1, "B": 2}, {"A1": 3, "B": 4}, {**PARENTS, "B": "A"}, None),  # a unit moved in the tree
])
def test_what_is_computed_again(now: dict[str, int], before: dict[str, int], parents: dict[str, str | None],
                                redone: set[str] | None) -> None:
    """Another tree gives other sums: the whole change is computed then; else only the domains above a
    unit that moved, appeared or went in either month, the rows in the order of the units now."""
    last_joint = pd.DataFrame({"domain": ["A1", "A", "P", "B", "total"], "stat_type": "overall_index",
                               "stat": "overall", "diff": [0.1, 0.2, 0.3, 0.4, 0.5]})
    last = period_change.ComputedChange(pd.DataFrame(), last_joint,
                                        (_inputs({"A1": 1, "B": 2}), _inputs({"A1": 3, "B": 4})))
    calls: list[Any] = []

    def joint_of(domains: Any) -> pd.DataFrame:
        calls.append(domains)
        rows = last_joint if domains is None else last_joint[last_joint["domain"].isin(domains)]
        return rows.assign(diff=rows["diff"] + 1).reset_index(drop=True)

    found = period_change._updated(last, (_inputs(now, parents), _inputs(before, parents)), parents, joint_of)
    assert calls == ([] if redone == set() else [redone])
    diff, last_diff = found.set_index("domain")["diff"], last_joint.set_index("domain")["diff"]
    moved = {domain for domain in last_diff.index if diff[domain] != last_diff[domain]}
    assert moved == (set(last_joint["domain"]) if redone is None else redone)
    units = set(now) | set(before)
    order = ["A", "P", "A1", "B", "total"] if "A" in units else ["A1", "A", "P", "B", "total"]
    assert found["domain"].tolist() == (order if redone else last_joint["domain"].tolist())


def _unit_changes(code: str, weighted: bool) -> pd.DataFrame:
    unit = db.session.scalar(sa.select(Unit).where(Unit.code == code))
    assert unit is not None
    return compute_unit_indices(db.session(), unit, KEY, NOVEMBER, weighted=weighted).changes


@pytest.mark.parametrize("weighted", [True, False])
def test_after_a_response_a_subtree_reads_its_change_from_the_one_above(capp: Flask, asked: list[Any],
                                                                       weighted: bool) -> None:
    """A unit page after a new response: the province's change, just computed for the viewer's small-cell
    decision, holds the unit's domains; nothing is computed for them, and the table is the one computed
    for the unit alone from scratch, to the last bit."""
    with capp.app_context():
        for code in ("HL", "HL-AB"):
            _unit_changes(code, weighted)
        submit(db.session(), _counter("HL-AB-1"), {"e1_info": 1, "e2_fees": 2, "overall": 1},
               datetime(2026, 11, 20, 3, tzinfo=UTC))
        db.session.commit()
        _unit_changes("HL", weighted)
        asked.clear()
        found = _unit_changes("HL-AB", weighted)
        assert asked == []
        assert set(found.index) == {"HL-AB", "HL-AB-1"}
        period_change._CHANGES._entries.clear()
        pd.testing.assert_frame_equal(found, _unit_changes("HL-AB", weighted), check_exact=True)
        assert asked == [None]


def test_a_subtree_of_a_change_that_could_not_be_weighted_computes_its_own(capp: Flask,
                                                                         asked: list[Any]) -> None:
    with capp.app_context():
        unit = db.session.scalar(sa.select(Unit).where(Unit.code == "HL-HL-1"))
        assert unit is not None
        db.session.execute(sa.delete(ServedCount).where(ServedCount.unit_id == unit.id))
        db.session.commit()
        _unit_changes("HL", True)
        asked.clear()
        found = _unit_changes("HL-AB", True)
        assert asked == [None]  # the province's months are unweighted; the unit's own are weighted
        period_change._CHANGES._entries.clear()
        pd.testing.assert_frame_equal(found, _unit_changes("HL-AB", True), check_exact=True)
