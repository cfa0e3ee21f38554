"""A period's table after a change in a few units (`table_update`): only the domains above those units
are computed again, and the table equals both a computation of the whole table and the analysis
package's computation from the response rows (to 1e-12, `assert_equal_estimates`)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from instruments.index import IndexDefinition
from survey.extensions import db
from survey.models import Counter, ServedCount, Unit
from survey.services.reporting import index_source, table_update
from survey.services.reporting.aggregate_rebuild import rebuild
from survey.services.reporting.index_source import (
    PeriodEstimates,
    Source,
    period_estimates,
    responses_estimates,
)
from survey.services.reporting.indices import MIN_N, instrument_for
from survey.services.reporting.period_tables import period_table, target_argument, targets_above
from survey.services.reporting.periods import Period
from survey.services.reporting.respondent_data import unit_parent_map
from survey.services.reporting.table_update import (
    TableInputs,
    domain_order,
    domains_to_update,
    narrowed,
    spliced,
)
from survey.services.staff.access import subtree_ids
from tests.survey.aggregate_helpers import (
    KEY,
    add_desk,
    assert_equal_estimates,
    demo_with_responses,
    domains_asked,
    submit,
)

NOVEMBER = Period.month(2026, 11)
QUARTER = Period.quarter(2026, 4)


@pytest.fixture
def capp(migrated_db: Path, tmp_path: Path) -> Flask:
    return demo_with_responses(migrated_db, tmp_path, 160, seed=5)


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The `domains` of every table computation (None: the whole table)."""
    return domains_asked(monkeypatch, index_source, "indices_from_unit_statistics")


def units_asked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The units whose statistics are computed (`analysis.unit_statistics.unit_statistics`) from now on."""
    computed: list[tuple[str, ...]] = []
    real = index_source.unit_statistics

    def recording(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        computed.append(found.units)
        return found

    monkeypatch.setattr(index_source, "unit_statistics", recording)
    return computed


def _estimates(session: Session, period: Period, weighted: bool,
               previous: PeriodEstimates | None = None) -> tuple[PeriodEstimates, PeriodEstimates]:
    """The table from the aggregates (starting from `previous` when given) and from the response rows."""
    root = session.scalar(sa.select(Unit).where(Unit.code == "HL"))
    assert root is not None
    ids, parents = subtree_ids(session, [root.id]), unit_parent_map(session, root.id)
    instrument = instrument_for(KEY)
    definition = IndexDefinition.from_instrument(instrument)
    common: dict[str, Any] = {"weighted": weighted, "targets": {"HL": 0.8, "HL-AB": 0.85, "total": 0.8},
                              "alpha": 0.05, "min_cell": 5, "min_n": MIN_N}
    ours = period_estimates(session, ids, parents, period, instrument, definition, previous=previous,
                            **common)
    rows = responses_estimates(session, ids, parents, period, instrument, definition, **common)
    assert ours.source is Source.AGGREGATES
    return ours, rows


def _first_counter_of(session: Session, code: str) -> Counter:
    counter = session.scalars(sa.select(Counter).join(Unit).where(Unit.code == code)
                              .order_by(Counter.id)).first()
    assert counter is not None, code
    return counter


def _ancestors(session: Session, unit_id: int) -> set[str]:
    found: set[str] = set()
    unit = session.get(Unit, unit_id)
    while unit is not None:
        found.add(unit.code)
        unit = unit.parent
    return found


@pytest.mark.parametrize(("period", "weighted"), [(NOVEMBER, True), (NOVEMBER, False), (QUARTER, True)])
def test_a_new_response_recomputes_only_the_domains_above_its_unit(capp: Flask, asked: list[Any],
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   period: Period, weighted: bool) -> None:
    with capp.app_context():
        first, _ = _estimates(db.session(), period, weighted)
        counter = _first_counter_of(db.session(), "HL-AB-1")
        submit(db.session(), counter, {"e1_info": 5, "e2_fees": 2, "overall": 4},
               datetime(2026, 11, 20, 3, tzinfo=UTC))
        db.session.commit()
        asked.clear()
        units_computed = units_asked(monkeypatch)
        updated, rows = _estimates(db.session(), period, weighted, previous=first)
        assert asked == [_ancestors(db.session(), counter.unit_id)]  # HL-AB-1, HL-AB, HL: not the whole tree
        assert units_computed == [("HL-AB-1",)]  # the other units' statistics are those computed before
        assert updated.responses == first.responses + 1
        assert_equal_estimates(updated, rows)
        whole, _ = _estimates(db.session(), period, weighted)
        assert asked[-1] is None
        assert_equal_estimates(updated, whole)
        assert list(updated.table.dtypes) == list(whole.table.dtypes)
        changed = set(updated.table.loc[(updated.table["est"] != first.table["est"])
                                        & updated.table["est"].notna(), "domain"])
        assert changed and changed <= _ancestors(db.session(), counter.unit_id)


@pytest.mark.parametrize("weighted", [True, False])
def test_a_units_first_response_recomputes_only_the_domains_above_it(capp: Flask, asked: list[Any],
                                                                    weighted: bool) -> None:
    """A desk's first response moves its domains in the table's order; the table is still the whole
    computation's, row for row, and without the response again it is the first table."""
    with capp.app_context():
        counter = add_desk(db.session(), "HL-AB-2", "HL-AB", 150)
        db.session.commit()
        first, _ = _estimates(db.session(), NOVEMBER, weighted)
        response = submit(db.session(), counter, {"e1_info": 5, "e2_fees": 4, "overall": 4},
                          datetime(2026, 11, 20, 3, tzinfo=UTC))
        db.session.commit()
        asked.clear()
        updated, rows = _estimates(db.session(), NOVEMBER, weighted, previous=first)
        assert asked == [{"HL-AB-2", "HL-AB", "HL"}]
        assert updated.weighted == first.weighted == weighted, first.weighting
        assert_equal_estimates(updated, rows)
        whole, _ = _estimates(db.session(), NOVEMBER, weighted)
        pd.testing.assert_frame_equal(updated.table, whole.table, check_exact=True)
        assert list(dict.fromkeys(updated.table["domain"])) != list(dict.fromkeys(first.table["domain"]))

        db.session.delete(response)  # and back: the desk without a response, its aggregates rebuilt
        rebuild(db.session(), None)
        db.session.commit()
        asked.clear()
        gone, _ = _estimates(db.session(), NOVEMBER, weighted, previous=updated)
        assert asked == [{"HL-AB-2", "HL-AB", "HL"}]
        pd.testing.assert_frame_equal(gone.table, first.table, check_exact=True)


def test_new_served_counts_of_one_unit_recompute_the_domains_above_it(capp: Flask, asked: list[Any]) -> None:
    with capp.app_context():
        first, _ = _estimates(db.session(), NOVEMBER, True)
        assert first.weighted
        unit = db.session.scalar(sa.select(Unit).where(Unit.code == "HL-HL-1"))
        assert unit is not None
        frame = db.session.scalars(sa.select(ServedCount).where(
            ServedCount.unit_id == unit.id, ServedCount.period_start == date(2026, 11, 1))).one()
        frame.served += 400  # the unit's weights move, no other unit's do
        db.session.commit()
        asked.clear()
        updated, rows = _estimates(db.session(), NOVEMBER, True, previous=first)
        assert asked == [_ancestors(db.session(), unit.id)]
        assert_equal_estimates(updated, rows)
        assert not updated.table.equals(first.table)


def test_a_change_that_moves_no_cell_reuses_the_table(capp: Flask, asked: list[Any]) -> None:
    with capp.app_context():
        first, _ = _estimates(db.session(), NOVEMBER, True)
        counter = _first_counter_of(db.session(), "HL-AB-1")
        submit(db.session(), counter, {"e1_info": 1}, datetime(2026, 11, 21, 3, tzinfo=UTC),
               flags=("device",))
        db.session.commit()
        asked.clear()
        updated, rows = _estimates(db.session(), NOVEMBER, True, previous=first)
        assert asked == [] and updated.table is first.table  # a flagged response is not in any cell
        assert int(updated.excluded["n"].sum()) == int(first.excluded["n"].sum()) + 1
        assert_equal_estimates(updated, rows)


PARENTS: dict[str, str | None] = {"P": None, "A": "P", "A1": "A", "A2": "A", "B": "P"}


def _inputs(units: dict[str, int], parents: dict[str, str | None] | None = None, weighted: bool = True,
            targets: dict[str, float | None] | None = None) -> TableInputs:
    tree = PARENTS if parents is None else parents
    return TableInputs(units, tree, targets or dict.fromkeys(tree, 0.8), weighted)


def test_the_domains_to_update_are_the_changed_units_and_those_above_them() -> None:
    before = _inputs({"A1": 1, "A2": 2, "B": 3})
    assert domains_to_update(before, _inputs({"A1": 9, "A2": 2, "B": 3}), PARENTS) == {"A1", "A", "P"}
    assert domains_to_update(before, _inputs({"A1": 9, "A2": 2, "B": 8}), PARENTS) == {"A1", "A", "B", "P"}
    assert domains_to_update(before, before, PARENTS) == set()


def test_a_unit_with_its_first_or_no_more_cells_is_updated_with_the_units_above_it() -> None:
    before = _inputs({"A1": 1, "A2": 2, "B": 3})
    no_more, first = _inputs({"A1": 1, "A2": 2}), _inputs({"A1": 1, "A2": 2, "B": 3, "A": 4})
    assert domains_to_update(before, no_more, PARENTS) == {"B", "P"}  # B without responses now
    assert domains_to_update(before, first, PARENTS) == {"A", "P"}  # A's first response
    assert domains_to_update(_inputs({"A1": 1}), _inputs({"A1": 1, "A2": 5}), PARENTS) == {"A2", "A", "P"}


@pytest.mark.parametrize("after", [_inputs({"A1": 1, "A2": 2, "B": 3}, {**PARENTS, "A2": "P"}),  # moved
                                   _inputs({"A1": 1, "A2": 2, "B": 3}, weighted=False)])  # weighting off
def test_anything_else_recomputes_the_whole_table(after: TableInputs) -> None:
    assert domains_to_update(_inputs({"A1": 1, "A2": 2, "B": 3}), after, PARENTS) is None


def test_the_rows_move_to_the_order_of_the_new_units_block_by_block() -> None:
    # Two blocks (statistic types) of domains in the order of units {A1, B}: A1, A, P, B; then with A2's first
    # response the order of units {A1, A2, B}: A1, A, P, A2, B. A2 and its ancestors are recomputed.
    def table(order: list[str], stat_types: list[str], est: dict[str, float]) -> pd.DataFrame:
        rows = [(d, t, "overall", est[d]) for t in stat_types for d in order]
        return pd.DataFrame(rows, columns=["domain", "stat_type", "stat", "est"])

    tree = {"P": None, "A": "P", "A1": "A", "A2": "A", "B": "P"}
    order = domain_order({"A1", "B"}, {"A1", "A2", "B"}, tree)
    assert order == ("A1", "A", "P", "A2", "B", "total")
    assert domain_order({"A1", "B"}, {"B", "A1"}, tree) is None  # the same units: the same order
    before = table(["A1", "A", "P", "B", "A2"], ["element", "overall_index"],
                   {"A1": 0.1, "A": 0.2, "P": 0.3, "B": 0.4, "A2": math.nan})
    after = {"A1": 0.1, "A": 0.25, "P": 0.35, "B": 0.4, "A2": 0.5}
    fresh = table(["A", "P", "A2"], ["element", "overall_index"], after)
    found = spliced(before, fresh, {"A", "P", "A2"}, order)
    assert found is not None
    expected = table(["A1", "A", "P", "A2", "B"], ["element", "overall_index"], after)
    pd.testing.assert_frame_equal(found, expected)
    assert spliced(before, fresh.iloc[::-1].reset_index(drop=True), {"A", "P", "A2"}, order) is None
    shuffled = before.iloc[[0, 2, 1, 3, 4, 5, 6, 7, 8, 9]].reset_index(drop=True)  # not in the order's blocks
    assert spliced(shuffled, fresh, {"A", "P", "A2"}, order) is None
    assert spliced(before, fresh, {"A", "P", "A2"}, ("A1", "A", "P", "A2", "total")) is None  # B not listed


def _subtree(session: Session, code: str, period: Period) -> tuple[Unit, set[int], dict[str, str | None],
                                                                    float | dict[str, float]]:
    """The unit `code`, its subtree's ids and tree, and the targets argument its tables are keyed by."""
    unit = session.scalar(sa.select(Unit).where(Unit.code == code))
    assert unit is not None
    ids, parents = subtree_ids(session, [unit.id]), unit_parent_map(session, unit.id)
    _, targets = target_argument(session, unit, parents, instrument_for(KEY).id, period.first.year, 0.8)
    return unit, ids, parents, targets


def _subtree_table(session: Session, code: str, period: Period, *,
                   overall_only: bool = False, weighted: bool = True) -> PeriodEstimates:
    """`period_table` of the subtree under `code`, as a unit page asks for it."""
    unit, ids, parents, targets = _subtree(session, code, period)
    instrument = instrument_for(KEY)
    definition = IndexDefinition.from_instrument(instrument)
    return period_table(session, unit, ids, parents, period, instrument, definition, weighted, targets, 0.05,
                        5, overall_only=overall_only, above=targets_above(session, instrument, 0.8))


def _direct(session: Session, code: str, period: Period,
            stat_types: tuple[str, ...] | None, weighted: bool = True) -> PeriodEstimates:
    """The same table computed from the aggregates without starting from any other."""
    _, ids, parents, targets = _subtree(session, code, period)
    instrument = instrument_for(KEY)
    definition = IndexDefinition.from_instrument(instrument)
    return period_estimates(session, ids, parents, period, instrument, definition, weighted=weighted,
                            targets=targets, alpha=0.05, min_cell=5, min_n=MIN_N, stat_types=stat_types)


def _assert_same_estimates(found: PeriodEstimates, direct: PeriodEstimates) -> None:
    """Everything a page reads of a period's table, as computed directly."""
    pd.testing.assert_frame_equal(found.table, direct.table, check_exact=True)
    assert (found.responses, found.weighted, found.weighting, found.source, found.inputs) \
        == (direct.responses, direct.weighted, direct.weighting, direct.source, direct.inputs)
    pd.testing.assert_frame_equal(found.excluded, direct.excluded)
    pd.testing.assert_frame_equal(found.collapsed, direct.collapsed)


def _weighings(monkeypatch: pytest.MonkeyPatch) -> list[frozenset[int]]:
    """The subtrees whose aggregate rows are read (`index_source._aggregate_rows`) from now on."""
    read: list[frozenset[int]] = []
    real = index_source._aggregate_rows

    def recording(session: Session, ids: Any, *args: Any) -> Any:
        read.append(frozenset(ids))
        return real(session, ids, *args)

    monkeypatch.setattr(index_source, "_aggregate_rows", recording)
    return read


@pytest.mark.parametrize(("period", "weighted"), [(NOVEMBER, True), (NOVEMBER, False), (QUARTER, True)])
def test_after_a_response_a_subtree_reads_the_table_above_computed_on_the_same_data(
        capp: Flask, asked: list[Any], monkeypatch: pytest.MonkeyPatch, period: Period,
        weighted: bool) -> None:
    """A unit page after a new response: the viewer's decision has just computed the province's table;
    the unit's own table (older than the response) is not updated but taken from it, without reading or
    weighing an aggregate row, and is the table computed directly."""
    with capp.app_context():
        for code in ("HL", "HL-AB"):
            _subtree_table(db.session(), code, period, weighted=weighted)
        submit(db.session(), _first_counter_of(db.session(), "HL-AB-1"), {"e1_info": 1, "overall": 2},
               datetime(2026, 11, 22, 3, tzinfo=UTC))
        db.session.commit()
        _subtree_table(db.session(), "HL", period, weighted=weighted)
        asked.clear()
        read = _weighings(monkeypatch)
        found = _subtree_table(db.session(), "HL-AB", period, weighted=weighted)
        assert asked == [] and read == []
        _assert_same_estimates(found, _direct(db.session(), "HL-AB", period, None, weighted))
        assert found.weighted == weighted


def test_a_subtree_of_a_table_that_could_not_be_weighted_is_computed(capp: Flask, asked: list[Any]) -> None:
    """A unit outside the subtree without a frame leaves the province's table unweighted; the subtree's
    own cells can be weighted, so its table is not the province's rows."""
    with capp.app_context():
        unit = db.session.scalar(sa.select(Unit).where(Unit.code == "HL-HL-1"))
        assert unit is not None
        db.session.execute(sa.delete(ServedCount).where(ServedCount.unit_id == unit.id))
        db.session.commit()
        province = _subtree_table(db.session(), "HL", NOVEMBER)
        assert not province.weighted
        asked.clear()
        found = _subtree_table(db.session(), "HL-AB", NOVEMBER)
        assert asked == [None] and found.weighted
        _assert_same_estimates(found, _direct(db.session(), "HL-AB", NOVEMBER, None))


@pytest.mark.parametrize("overall_only", [False, True])
def test_a_subtree_reads_its_rows_from_the_table_of_the_tree_above(capp: Flask, asked: list[Any],
                                                                   overall_only: bool) -> None:
    with capp.app_context():
        session = db.session()
        _subtree_table(session, "HL", NOVEMBER, overall_only=overall_only)  # the province's, as its page does
        asked.clear()
        narrowed_table = _subtree_table(session, "HL-AB", NOVEMBER, overall_only=overall_only)
        assert asked == []  # nothing computed: the rows come from the province's table
        direct = _direct(session, "HL-AB", NOVEMBER, ("overall_index",) if overall_only else None)
        pd.testing.assert_frame_equal(narrowed_table.table, direct.table)
        assert set(narrowed_table.table["domain"]) == {"HL-AB", "HL-AB-1"}
        assert narrowed_table.table.loc[narrowed_table.table["domain"] == "HL-AB", "parent"].eq("total").all()
        assert (narrowed_table.responses, narrowed_table.weighting) == (direct.responses, direct.weighting)


def test_a_subtree_whose_units_changed_since_the_table_above_is_computed(capp: Flask,
                                                                        asked: list[Any]) -> None:
    with capp.app_context():
        session = db.session()
        _subtree_table(session, "HL", NOVEMBER)
        submit(session, _first_counter_of(session, "HL-AB-1"), {"e1_info": 1},
               datetime(2026, 11, 22, 3, tzinfo=UTC))
        db.session.commit()
        asked.clear()
        computed = _subtree_table(db.session(), "HL-AB", NOVEMBER)
        assert asked == [None]  # the province's table is older than HL-AB-1's new response
        pd.testing.assert_frame_equal(computed.table, _direct(db.session(), "HL-AB", NOVEMBER, None).table)
        asked.clear()
        alone = _subtree_table(db.session(), "HL-HL", NOVEMBER)  # a unit the response did not touch
        assert asked == []
        pd.testing.assert_frame_equal(alone.table, _direct(db.session(), "HL-HL", NOVEMBER, None).table)


SUBTREE: dict[str, str | None] = {"A": None, "A1": "A", "A2": "A"}


@pytest.mark.parametrize("above", [
    _inputs({"A1": 1, "A2": 2, "B": 3}, targets={**dict.fromkeys(PARENTS, 0.8), "A1": 0.9}),  # another target
    _inputs({"A1": 1, "A2": 2, "B": 3}, {**PARENTS, "A3": "A"}),  # a child the subtree does not have
    _inputs({"A1": 1, "A2": 7, "B": 3}),  # other cells
    _inputs({"A1": 1, "B": 3}),  # a unit without cells there
    _inputs({"A1": 1, "A2": 2, "B": 3}, weighted=False),
])
def test_a_subtree_is_not_read_from_a_table_whose_inputs_differ(above: TableInputs) -> None:
    larger = pd.DataFrame({"domain": ["P", "A", "A1", "A2", "B"], "parent": ["total", "P", "A", "A", "P"]})
    subtree = _inputs({"A1": 1, "A2": 2}, SUBTREE)
    assert narrowed(larger, _inputs({"A1": 1, "A2": 2, "B": 3}), subtree) is not None  # the same inputs
    assert narrowed(larger, above, subtree) is None


def test_a_text_column_is_replaced_in_place_of_its_rows_on_every_text_type() -> None:
    """`spliced` replaces a text column's rows in Arrow when pandas keeps it there, else as objects: the
    same column either way, with its type."""
    at = np.array([1, 3, 4])
    for dtype in ("str", "string", object):
        column = pd.Series(["a", "b", "c", "d", "e", "f"], dtype=dtype, name="verdict")
        fresh = pd.Series(["B", "D", "E"], dtype=dtype)
        found = table_update._replaced(column, at, fresh)
        expected = pd.Series(["a", "B", "c", "D", "E", "f"], dtype=dtype, name="verdict")
        pd.testing.assert_series_equal(found, expected)
        assert table_update._replaced(column, at, column.iloc[at]) is column  # unchanged: not copied


def test_a_stale_table_of_the_unit_above_gives_way_to_a_current_one_further_up(
        capp: Flask, asked: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A desk under a ward under the province: after a response only the province's table is computed
    again; the ward's, older, is passed over, and the desk's rows come from the province's."""
    with capp.app_context():
        for code in ("HL", "HL-AB", "HL-AB-1"):
            _subtree_table(db.session(), code, NOVEMBER)
        submit(db.session(), _first_counter_of(db.session(), "HL-AB-1"), {"e1_info": 4, "overall": 5},
               datetime(2026, 11, 23, 3, tzinfo=UTC))
        db.session.commit()
        _subtree_table(db.session(), "HL", NOVEMBER)
        asked.clear()
        read = _weighings(monkeypatch)
        found = _subtree_table(db.session(), "HL-AB-1", NOVEMBER)
        assert asked == [] and read == []
        _assert_same_estimates(found, _direct(db.session(), "HL-AB-1", NOVEMBER, None))
