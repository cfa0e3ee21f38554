"""Instrument assignments: the instrument check, overlaps, inheritance down the tree and audit (targets:
test_targets.py)."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask

from survey.extensions import db
from survey.models import Unit
from survey.services.organisation import unit_plans as plans
from survey.services.organisation.units import UnitRefused
from tests.survey.conftest import audit_actions, unit_id
from tests.survey.manage_helpers import NOW, in_request, user


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
        later = plans.current_assignment(db.session, point, date(2026, 7, 1))
        assert later is not None
        assert (later.instrument_id, later.unit_id) == ("sipas-counter", unit_id("HL-AB"))
        own = plans.add_assignment(db.session, manager, unit_id("HL-AB-1"), "quick-rating@2025.1",
                                   opens_on=date(2026, 7, 1), closes_on=None, now=NOW)
        assert plans.current_assignment(db.session, point, date(2026, 7, 1)) == own  # the nearest unit wins
        before = plans.current_assignment(db.session, point, date(2026, 6, 30))  # ... only once it opens
        assert before is not None and before.unit_id == unit_id("HL-AB")
        db.session.commit()
        assert [a for a, _, _ in audit_actions("assignment.")] == [
            "assignment.create", "assignment.close", "assignment.create", "assignment.create"]
