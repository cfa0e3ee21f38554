"""`load_counter_line`: a counter's unit and its ancestors in one query, so that the citizen's GET and
POST walk up the tree without a query per level."""

from __future__ import annotations

from datetime import date

from flask import Flask
from sqlalchemy import event

from survey.extensions import db
from survey.models import Counter, Unit
from survey.services.organisation.assignments import ancestors_and_self, load_counter_line
from tests.survey.conftest import counter_id, unit_id

DAY = date(2030, 3, 15)


def test_the_line_is_the_unit_and_its_ancestors_and_the_walk_up_needs_no_query(
        app: Flask, demo: dict[str, int]) -> None:
    with app.app_context():
        counter = db.session.get(Counter, counter_id("HL-AB-1/Q1"))
        assert counter is not None
        statements: list[str] = []
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        line = load_counter_line(db.session(), counter.id, counter.unit_id, DAY).units
        assert len(statements) == 1
        assert sorted(unit.code for unit in line) == ["HL", "HL-AB", "HL-AB-1"]
        assert [unit.code for unit in ancestors_and_self(counter.unit)] == ["HL-AB-1", "HL-AB", "HL"]
        assert len(statements) == 1


def test_a_cycle_in_the_tree_ends_the_line(app: Flask, demo: dict[str, int]) -> None:
    with app.app_context():
        province = db.session.get(Unit, unit_id("HL"))
        assert province is not None
        province.parent_id = unit_id("HL-AB")  # a data error: the ward is now the province's parent
        db.session.flush()
        line = load_counter_line(db.session(), counter_id("HL-AB-1/Q1"), unit_id("HL-AB-1"), DAY).units
        assert sorted(unit.code for unit in line) == ["HL", "HL-AB", "HL-AB-1"]
        db.session.rollback()
