"""Instrument assignments and targets: parsing, inheritance down the tree, scope and audit."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from werkzeug.exceptions import NotFound

from survey.extensions import db
from survey.models import Unit
from survey.services.organisation import unit_plans as plans
from survey.services.organisation.units import UnitRefused
from tests.survey.conftest import audit_actions, unit_id
from tests.survey.manage_helpers import NOW, in_request, user


@pytest.mark.parametrize(("text", "share"), [
    ("80", 0.80), ("80%", 0.80), ("80 %", 0.80), ("0.8", 0.80), ("85,5", 0.855), ("100", 1.0),
    ("1", 1.0), ("0.95", 0.95), ("92.5%", 0.925),
])
def test_targets_are_read_as_people_type_them(app: Flask, text: str, share: float) -> None:
    with in_request(app):
        assert plans.parse_target(text) == pytest.approx(share)


@pytest.mark.parametrize("text", ["0", "0%", "101", "120%", "-80", "abc", "", "80%%", "8O", "1e2"])
def test_targets_outside_0_1_or_unreadable_are_refused(app: Flask, text: str) -> None:
    with in_request(app), pytest.raises(UnitRefused):
        plans.parse_target(text)


def test_targets_inherit_down_the_tree_and_say_where_from(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        service_point = db.session.get(Unit, unit_id("HL-AB-1"))
        assert service_point is not None
        inherited = plans.effective_target(db.session, service_point, "sipas-counter", 2026, 0.8)
        assert (inherited.value, inherited.source.code if inherited.source else None, inherited.own) == (
            0.90, "HL", False)  # the demo sets 90 % on the province
        default = plans.effective_target(db.session, service_point, "sipas-counter", 2027, 0.8)
        assert (default.value, default.source) == (0.8, None)

        plans.set_target(db.session, user(ids, "anbinh"), unit_id("HL-AB"), "sipas-counter", 2026, "85%",
                         now=NOW)
        overridden = plans.effective_target(db.session, service_point, "sipas-counter", 2026, 0.8)
        assert (overridden.value, overridden.source.code if overridden.source else None) == (0.85, "HL-AB")

        plans.clear_target(db.session, user(ids, "anbinh"), unit_id("HL-AB"), "sipas-counter", 2026, now=NOW)
        db.session.commit()
        again = plans.effective_target(db.session, service_point, "sipas-counter", 2026, 0.8)
        assert again.value == 0.90
        assert [(a, d.get("target"), d.get("before")) for a, _, d in audit_actions("target.")] == [
            ("target.set", 0.85, None), ("target.clear", None, 0.85)]


def test_a_manager_cannot_set_a_target_outside_scope(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app), pytest.raises(NotFound):
        plans.set_target(db.session, user(ids, "anbinh"), unit_id("HL"), "sipas-counter", 2026, "95", now=NOW)


def test_assignments_check_the_instrument_and_refuse_overlaps(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        manager = user(ids, "anbinh")
        with pytest.raises(UnitRefused, match="Unknown instrument"):
            plans.add_assignment(db.session, manager, unit_id("HL-AB"), "sipas-counter@1999.1",
                                 opens_on=date(2026, 1, 1), closes_on=None, now=NOW)
        first = plans.add_assignment(db.session, manager, unit_id("HL-AB"), "quick-rating@2025.1",
                                     opens_on=date(2026, 1, 1), closes_on=None, now=NOW)
        with pytest.raises(UnitRefused, match="overlaps"):
            plans.add_assignment(db.session, manager, unit_id("HL-AB"), "sipas-counter@2025.1",
                                 opens_on=date(2026, 6, 1), closes_on=None, now=NOW)
        plans.close_assignment(db.session, manager, unit_id("HL-AB"), first.id, closes_on=date(2026, 5, 31),
                               now=NOW)
        plans.add_assignment(db.session, manager, unit_id("HL-AB"), "sipas-counter@2025.1",
                             opens_on=date(2026, 6, 1), closes_on=None, now=NOW)
        point = db.session.get(Unit, unit_id("HL-AB-1"))
        assert point is not None
        current = plans.current_assignment(db.session, point, date(2026, 3, 1))
        assert current is not None and (current.instrument_id, current.unit_id) == ("quick-rating",
                                                                                    unit_id("HL-AB"))
        db.session.commit()
        assert [a for a, _, _ in audit_actions("assignment.")] == [
            "assignment.create", "assignment.close", "assignment.create"]
