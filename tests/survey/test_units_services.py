"""Unit and counter services: scope enforced inside the services, every change audited."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.exceptions import NotFound

from survey.errors import SurveyError
from survey.extensions import db
from survey.models import Counter, Unit, UnitKind
from survey.services.organisation import units as svc
from tests.survey.conftest import audit_actions, unit_id
from tests.survey.manage_helpers import NOW, in_request, user


def test_manager_creates_a_service_point_in_scope_and_it_is_audited(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        data = svc.UnitData(code="HL-AB-2", kind=UnitKind.SERVICE_POINT, name_vi="Điểm tiếp nhận 2",
                            parent_id=unit_id("HL-AB"), valid_from=date(2026, 1, 1))
        unit = svc.create_unit(db.session, user(ids, "anbinh"), data, now=NOW)
        db.session.commit()
        assert unit.parent is not None and unit.parent.code == "HL-AB"
        assert audit_actions("unit.") == [("unit.create", str(unit.id), {
            "code": "HL-AB-2", "kind": "service_point", "parent_id": unit_id("HL-AB"),
            "successor_id": None, "valid_from": "2026-01-01", "valid_to": None})]


def test_manager_cannot_create_under_another_subtree(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        data = svc.UnitData(code="HL-HL-9", kind=UnitKind.SERVICE_POINT, name_vi="X",
                            parent_id=unit_id("HL-HL"))
        with pytest.raises(NotFound):
            svc.create_unit(db.session, user(ids, "anbinh"), data, now=NOW)
        db.session.rollback()
        assert db.session.scalar(sa.select(Unit).where(Unit.code == "HL-HL-9")) is None
        denied = audit_actions("access.denied")
        assert denied == [("access.denied", str(unit_id("HL-HL")), {"attempted": "unit.create"})]


def test_only_an_admin_creates_a_root(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        data = svc.UnitData(code="HN", kind=UnitKind.PROVINCE, name_vi="Thành phố Hà Nội")
        with pytest.raises(svc.UnitRefused):
            svc.create_unit(db.session, user(ids, "province"), data, now=NOW)
        unit = svc.create_unit(db.session, user(ids, "admin"), data, now=NOW)
        assert unit.parent_id is None


def test_researcher_may_not_manage(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        data = svc.UnitData(code="HL-X", kind=UnitKind.COMMUNE, name_vi="X", parent_id=unit_id("HL"))
        with pytest.raises(SurveyError) as refused:
            svc.create_unit(db.session, user(ids, "researcher"), data, now=NOW)
        assert refused.value.status == 403


@pytest.mark.parametrize(("kind", "parent"), [
    (UnitKind.COMMUNE, "HL-AB"),  # commune under commune
    (UnitKind.PROVINCE, "HL"),  # province is a root
    (UnitKind.SERVICE_POINT, "HL"),  # service points sit under an agency, a commune or a district
    (UnitKind.AGENCY, "HL-AB"),
])
def test_kinds_must_nest(app: Flask, ids: dict[str, int], kind: UnitKind, parent: str) -> None:
    with app.app_context(), in_request(app):
        data = svc.UnitData(code="NEW", kind=kind, name_vi="X", parent_id=unit_id(parent))
        with pytest.raises(svc.UnitRefused, match="cannot be placed under"):
            svc.create_unit(db.session, user(ids, "admin"), data, now=NOW)


@pytest.mark.parametrize(("code", "name", "message"), [
    ("HL-AB", "X", "already used"),
    ("bad code", "X", "not valid"),
    ("", "X", "not valid"),
    ("OK-1", "  ", "required"),
    ("OK-2", "Tên\x00", "control characters"),
])
def test_bad_unit_input_is_refused(app: Flask, ids: dict[str, int], code: str, name: str,
                                   message: str) -> None:
    with app.app_context(), in_request(app):
        data = svc.UnitData(code=code, kind=UnitKind.SERVICE_POINT, name_vi=name, parent_id=unit_id("HL-AB"))
        with pytest.raises(svc.UnitRefused, match=message):
            svc.create_unit(db.session, user(ids, "admin"), data, now=NOW)


def test_a_unit_cannot_move_under_its_own_descendant(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        commune = db.session.get(Unit, unit_id("HL-AB"))
        assert commune is not None
        data = svc.UnitData(code="HL-AB", kind=UnitKind.COMMUNE, name_vi="Phường An Bình",
                            parent_id=unit_id("HL-AB-1"))
        with pytest.raises(svc.UnitRefused):
            svc.update_unit(db.session, user(ids, "province"), commune.id, data, now=NOW)


def test_changing_a_kind_must_still_fit_its_children(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        data = svc.UnitData(code="HL-AB", kind=UnitKind.SERVICE_POINT, name_vi="X", parent_id=unit_id("HL"))
        with pytest.raises(svc.UnitRefused):
            svc.update_unit(db.session, user(ids, "province"), unit_id("HL-AB"), data, now=NOW)


def test_update_records_before_and_after(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        data = svc.UnitData(code="HL-AB", kind=UnitKind.COMMUNE, name_vi="Phường An Bình mới",
                            name_en="New An Binh", parent_id=unit_id("HL"), valid_from=date(2025, 7, 1))
        svc.update_unit(db.session, user(ids, "anbinh"), unit_id("HL-AB"), data, now=NOW)
        db.session.commit()
        [(action, _id, detail)] = audit_actions("unit.")
        assert action == "unit.update" and detail["before"]["code"] == "HL-AB"


def test_close_keeps_the_unit_and_names_its_successor(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        svc.close_unit(db.session, user(ids, "province"), unit_id("HL-HL"), valid_to=date(2026, 6, 30),
                       successor_id=unit_id("HL-AB"), now=NOW)
        db.session.commit()
        closed = db.session.get(Unit, unit_id("HL-HL"))
        assert closed is not None and closed.valid_to == date(2026, 6, 30)
        assert closed.successor_id == unit_id("HL-AB")
        assert [a for a, _, _ in audit_actions("unit.")] == ["unit.close"]
        with pytest.raises(svc.UnitRefused):
            svc.close_unit(db.session, user(ids, "province"), unit_id("HL-AB"), valid_to=date(2026, 6, 30),
                           successor_id=unit_id("HL-AB"), now=NOW)


def test_a_manager_cannot_name_a_successor_outside_scope(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app), pytest.raises(NotFound):
        svc.close_unit(db.session, user(ids, "anbinh"), unit_id("HL-AB-1"), valid_to=date(2026, 6, 30),
                       successor_id=unit_id("HL-HL-1"), now=NOW)


def test_tree_shows_only_visible_subtrees_in_depth_first_order(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        rows = svc.unit_tree(db.session, user(ids, "anbinh"), NOW)
        assert [(r.unit.code, r.depth, r.counters) for r in rows] == [("HL-AB", 0, 0), ("HL-AB-1", 1, 2)]
        everything = svc.unit_tree(db.session, user(ids, "admin"), NOW)
        assert [(r.unit.code, r.depth) for r in everything] == [
            ("HL", 0), ("HL-AB", 1), ("HL-AB-1", 2), ("HL-HL", 1), ("HL-HL-1", 2), ("HL-TTHCC", 1),
            ("HL-TTHCC-1", 2)]


def test_counter_life_cycle_is_audited(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        manager = user(ids, "anbinh")
        counter = svc.create_counter(db.session, manager, unit_id("HL-AB-1"),
                                     svc.CounterData("Q2", "Quầy 2", "Counter 2", "dat-dai"), now=NOW)
        svc.update_counter(db.session, manager, counter.id,
                           svc.CounterData("Q2", "Quầy 2 – Đất đai", "", "dat-dai", active=False), now=NOW)
        svc.rotate_counter_key(db.session, manager, counter.id, now=NOW)
        svc.revoke_counter(db.session, manager, counter.id, now=NOW)
        db.session.commit()
        assert counter.key_version == 2 and counter.revoked_at is not None and not counter.active
        assert [a for a, _, _ in audit_actions("counter.")] == [
            "counter.create", "counter.update", "counter.rotate", "counter.revoke"]
        with pytest.raises(svc.UnitRefused, match="already has a counter"):
            svc.create_counter(db.session, manager, unit_id("HL-AB-1"), svc.CounterData("Q1", "X"), now=NOW)
        with pytest.raises(svc.UnitRefused, match="procedure field"):
            svc.create_counter(db.session, manager, unit_id("HL-AB-1"),
                               svc.CounterData("Q9", "X", procedure_field="Đất đai"), now=NOW)


def test_another_units_counter_is_404_and_audited(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        foreign = db.session.scalar(sa.select(Counter).where(Counter.unit_id == unit_id("HL-HL-1")))
        assert foreign is not None
        with pytest.raises(NotFound):
            svc.update_counter(db.session, user(ids, "anbinh"), foreign.id, svc.CounterData("Q1", "Hacked"),
                               now=NOW)
        with pytest.raises(NotFound):
            svc.rotate_counter_key(db.session, user(ids, "anbinh"), foreign.id, now=NOW)
        db.session.rollback()
        assert db.session.get(Counter, foreign.id).name_vi == "Quầy Một cửa"  # type: ignore[union-attr]
        assert audit_actions("access.denied") == [
            ("access.denied", str(foreign.id), {"attempted": "counter.update"}),
            ("access.denied", str(foreign.id), {"attempted": "counter.rotate"})]


def test_counters_only_at_service_points(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app), pytest.raises(svc.UnitRefused, match="service points"):
        svc.create_counter(db.session, user(ids, "anbinh"), unit_id("HL-AB"), svc.CounterData("Q1", "Quầy"),
                           now=NOW)
