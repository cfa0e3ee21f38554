"""The audit-log viewer: every recorded action is shown and labelled, filters, pages, CSV, scope."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from survey.blueprints.manage.audit_log import ACTION_LABELS
from survey.extensions import db
from survey.models import AuditEvent, Role
from survey.services.staff.audit_log import PER_PAGE
from tests.survey.conftest import audit_events, unit_id
from tests.survey.staff_helpers import running, signed_in, staff_app

SOURCE = Path(__file__).resolve().parents[2] / "survey"


def _recorded_actions() -> set[str]:
    """Every literal `action="..."` passed to the audit log anywhere in the application's source."""
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        found |= set(re.findall(r'\baction="([a-z_]+(?:\.[a-z_]+)?)"', path.read_text(encoding="utf-8")))
    # "attempted" actions only ever appear inside an access.denied event's detail, never as an event.
    return found - {"assignment.view", "dashboard.view", "unit.view", "audit.view"}


@pytest.fixture
def aapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    yield from running(staff_app(migrated_db, tmp_path))


def _add_events(app: Flask, unit_code: str | None, actions: list[str], *, start: datetime,
                step: timedelta = timedelta(minutes=1)) -> None:
    with app.app_context():
        unit = unit_id(unit_code, app) if unit_code else None
        for i, action in enumerate(actions):
            db.session.add(AuditEvent(at=start + i * step, action=action, object_type="test",
                                      object_id=str(i), unit_id=unit, detail='{"reason": "kiểm tra"}'))
        db.session.commit()


def test_every_recorded_action_has_a_label_and_appears_in_the_viewer(aapp: Flask) -> None:
    actions = sorted(_recorded_actions())
    assert len(actions) > 30 and "target.propose" in actions  # the scan found the real calls
    assert set(actions) <= set(ACTION_LABELS), set(actions) - set(ACTION_LABELS)
    _add_events(aapp, "HL-AB-1", actions, start=datetime(2026, 3, 1, 2, 0, tzinfo=UTC))
    admin = signed_in(aapp, "root", Role.ADMIN, totp=True)
    pages = [admin.get(f"/manage/audit/?unit={unit_id('HL-AB-1', aapp)}&lang=en&page={page}")
             .get_data(as_text=True) for page in range(1, len(actions) // PER_PAGE + 2)]  # more than a page
    shown = {action for html in pages for action in re.findall(r'<tr data-action="([^"]+)"', html)}
    assert shown == set(actions)
    html = "".join(pages)
    assert "target change proposed" in html and "reason: kiểm tra" in html


def test_real_target_actions_reach_the_viewer_with_who_and_why(aapp: Flask) -> None:
    ward = signed_in(aapp, "phuong", Role.MANAGER, ("HL-AB",))
    province = signed_in(aapp, "tinh", Role.MANAGER, ("HL",))
    ab = unit_id("HL-AB", aapp)
    ward.post(f"/manage/units/{ab}/targets", data={"instrument_id": "sipas-counter", "year": "2026",
                                                    "target": "50", "reason": "thiếu người"})
    [proposed] = audit_events("target.propose", aapp)
    proposal_id = int(proposed.object_id)
    province.post(f"/manage/target-proposals/{proposal_id}/reject", data={"reason": "không có căn cứ"})
    html = ward.get("/manage/audit/?action=target.&lang=vi").get_data(as_text=True)
    assert re.findall(r'<tr data-action="([^"]+)"', html) == ["target.reject", "target.propose"]
    assert "thiếu người" in html and "không có căn cứ" in html and "tinh" in html and "phuong" in html


def test_a_manager_reads_only_events_about_their_units(aapp: Flask) -> None:
    start = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    _add_events(aapp, "HL-AB-1", ["counter.rotate"], start=start)
    _add_events(aapp, "HL-HL-1", ["counter.revoke"], start=start)
    _add_events(aapp, None, ["user.create"], start=start)
    ward = signed_in(aapp, "phuong", Role.MANAGER, ("HL-AB",))
    html = ward.get("/manage/audit/").get_data(as_text=True)
    shown = set(re.findall(r'<tr data-action="([^"]+)"', html))
    assert "counter.rotate" in shown and "counter.revoke" not in shown and "user.create" not in shown
    assert "auth.login" not in shown  # sign-ins concern people, not units: admins only
    outside = ward.get(f"/manage/audit/?unit={unit_id('HL-HL-1', aapp)}")
    assert outside.status_code == 404
    assert [e.detail for e in audit_events("access.denied", aapp)] == ['{"attempted": "audit.view"}']
    text = ward.get("/manage/audit.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert {r[3] for r in rows[1:]} == {"counter.rotate"}
    researcher = signed_in(aapp, "nghien", Role.RESEARCHER, ("HL",))
    assert researcher.get("/manage/audit/").status_code == 403
    admin = signed_in(aapp, "root", Role.ADMIN, totp=True)
    page = admin.get("/manage/audit/").get_data(as_text=True)
    everything = set(re.findall(r'<tr data-action="([^"]+)"', page))
    assert {"counter.rotate", "counter.revoke", "user.create", "auth.login"} <= everything


def test_filters_pages_and_the_csv(aapp: Flask) -> None:
    # 60 events on 1-3 March (local days), 20 a day at 09:00-09:19 Vietnam time (02:00 UTC).
    for day in (1, 2, 3):
        _add_events(aapp, "HL-AB-1", ["counter.update"] * 20, start=datetime(2026, 3, day, 2, 0, tzinfo=UTC))
    admin = signed_in(aapp, "root", Role.ADMIN, totp=True)
    query = "action=counter.update&lang=en"
    first = admin.get(f"/manage/audit/?{query}").get_data(as_text=True)
    assert "60 events" in first and "page 1 of 2" in first and first.count('<tr data-action=') == 50
    second = admin.get(f"/manage/audit/?{query}&page=2").get_data(as_text=True)
    assert second.count('<tr data-action=') == 10
    one_day = admin.get(f"/manage/audit/?{query}&from=2026-03-02&to=2026-03-02").get_data(as_text=True)
    assert "20 events" in one_day
    assert "0 events" in admin.get(f"/manage/audit/?{query}&who=nobody").get_data(as_text=True)
    response = admin.get(f"/manage/audit.csv?{query}&from=2026-03-02&to=2026-03-03")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 41 and rows[0][0] == "Time (UTC)" and rows[1][0] == "2026-03-02T02:00:00+00:00"
    with aapp.app_context():
        exported = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "audit.export"))
        assert exported is not None and '"rows": 40' in exported.detail
