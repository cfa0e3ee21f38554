"""Unit scopes in the service layer: subtrees, visibility, 404 + audit for other units' ids, roles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.exceptions import NotFound

from survey.errors import SurveyError
from survey.extensions import db
from survey.models import AuditEvent, Counter, Role, Unit, User
from survey.services.staff import access, audit
from tests.survey.conftest import audit_events, unit_id
from tests.survey.staff_helpers import add_staff, running, staff_app

NOW = datetime(2026, 3, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def sapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    yield from running(staff_app(migrated_db, tmp_path))


def _codes(app: Flask, ids: set[int]) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(sa.select(Unit.code).where(Unit.id.in_(ids))))


def test_subtree_is_the_unit_and_everything_below(sapp: Flask) -> None:
    with sapp.app_context():
        ab = unit_id("HL-AB", sapp)
        assert _codes(sapp, access.subtree_ids(db.session, [ab])) == {"HL-AB", "HL-AB-1"}
        whole = access.subtree_ids(db.session, [unit_id("HL", sapp)])
        assert whole == set(db.session.scalars(sa.select(Unit.id)))
        assert access.subtree_ids(db.session, []) == set()
        # Overlapping roots are merged, not duplicated.
        both = access.subtree_ids(db.session, [unit_id("HL", sapp), ab])
        assert both == whole


def test_subtree_terminates_on_a_corrupt_cycle(sapp: Flask) -> None:
    with sapp.app_context():
        top, child = unit_id("HL-HL", sapp), unit_id("HL-HL-1", sapp)
        db.session.execute(sa.update(Unit).where(Unit.id == top).values(parent_id=child))
        assert access.subtree_ids(db.session, [top]) == {top, child}
        db.session.rollback()


def test_visible_units_by_role(sapp: Flask) -> None:
    admin = add_staff(sapp, "root", Role.ADMIN)
    manager = add_staff(sapp, "mai", Role.MANAGER, ("HL-AB", "HL-HL-1"))
    researcher = add_staff(sapp, "nghien", Role.RESEARCHER, ("HL-TTHCC",))
    with sapp.app_context():
        every = set(db.session.scalars(sa.select(Unit.id)))
        assert access.visible_unit_ids(db.session, db.session.get(User, admin.id)) == every
        mine = access.visible_unit_ids(db.session, db.session.get(User, manager.id))
        assert _codes(sapp, mine) == {"HL-AB", "HL-AB-1", "HL-HL-1"}
        theirs = access.visible_unit_ids(db.session, db.session.get(User, researcher.id))
        assert _codes(sapp, theirs) == {"HL-TTHCC", "HL-TTHCC-1"}
        gone = db.session.get(User, manager.id)
        gone.active = False
        assert access.visible_unit_ids(db.session, gone) == set()


def test_unit_outside_scope_is_404_and_the_denial_survives_the_failed_request(sapp: Flask) -> None:
    manager = add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",))
    inside, outside = unit_id("HL-AB-1", sapp), unit_id("HL-HL-1", sapp)
    with sapp.app_context():
        user = db.session.get(User, manager.id)
        assert access.unit_or_404(db.session, user, inside, now=NOW).code == "HL-AB-1"
        with pytest.raises(NotFound):
            access.unit_or_404(db.session, user, outside, now=NOW, action="export")
        with pytest.raises(NotFound):
            access.unit_or_404(db.session, user, 987654, now=NOW)
        db.session.rollback()  # what a failing request does: the view's own work is gone...
    denied = audit_events("access.denied", sapp)  # ...but the denials were committed on their own
    assert [(e.actor_id, e.object_type, e.object_id, e.unit_id) for e in denied] == [
        (manager.id, "unit", str(outside), outside), (manager.id, "unit", "987654", None)]
    assert json.loads(denied[0].detail) == {"attempted": "export"}
    assert denied[0].at == NOW


def test_counter_of_another_unit_is_404_and_audited(sapp: Flask) -> None:
    manager = add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",))
    with sapp.app_context():
        user = db.session.get(User, manager.id)
        counters = {c.unit.code: c.id for c in db.session.scalars(sa.select(Counter))}
        assert access.counter_or_404(db.session, user, counters["HL-AB-1"], now=NOW).unit.code == "HL-AB-1"
        with pytest.raises(NotFound):
            access.counter_or_404(db.session, user, counters["HL-HL-1"], now=NOW)
    assert [e.object_type for e in audit_events("access.denied", sapp)] == ["counter"]


def test_require_role_refuses_with_403_and_audits(sapp: Flask) -> None:
    researcher = add_staff(sapp, "nghien", Role.RESEARCHER, ("HL",))
    with sapp.app_context():
        user = db.session.get(User, researcher.id)
        access.require_role(user, Role.RESEARCHER, Role.ADMIN)  # allowed: no exception
        with pytest.raises(SurveyError) as refused:
            access.require_role(user, Role.ADMIN, Role.MANAGER, now=NOW)
        assert (refused.value.status, refused.value.code) == (403, "E-FORBIDDEN")
        db.session.rollback()
    denied = audit_events("role.denied", sapp)
    assert len(denied) == 1 and denied[0].actor_id == researcher.id
    assert json.loads(denied[0].detail) == {"required": ["admin", "manager"], "role": "researcher"}


@pytest.mark.parametrize(("role", "manage"), [
    (Role.ADMIN, True), (Role.MANAGER, True), (Role.RESEARCHER, False)])
def test_capabilities(role: Role, manage: bool) -> None:
    user = User(username="x", password_hash="-", role=role, active=True)
    assert access.can_manage(user) is manage
    user.active = False
    assert access.can_manage(user) is False


def test_audit_record_flushes_json_detail_and_never_commits(sapp: Flask) -> None:
    with sapp.app_context():
        event = audit.record(db.session, actor=None, action="counter.rotate", object_type="counter",
                             object_id=7, unit_id=unit_id("HL-AB-1", sapp),
                             detail={"version": 2, "note": "Quầy 1"}, now=NOW)
        assert event.id is not None and event.object_id == "7"
        assert json.loads(event.detail) == {"note": "Quầy 1", "version": 2}
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0
