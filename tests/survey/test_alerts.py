"""Alerts: a unit wholly below target gets one; acknowledging keeps a trail and an audit entry."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from survey.extensions import db
from survey.models import Alert, AlertKind, AlertNote, Role
from tests.survey.conftest import audit_events, unit_id
from tests.survey.report_helpers import PERIOD, add_responses
from tests.survey.staff_helpers import signed_in, staff_app

FAR_BELOW_TARGET = [1, 2, 3, 2, 1, 2, 3, 1, 2, 2, 1, 3] * 2  # far below 90 %


def test_below_target_alert_created_and_acknowledged_with_a_trail(migrated_db: Path, tmp_path: Path) -> None:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-TTHCC-1", FAR_BELOW_TARGET, day=10, harassment=False)
    client = signed_in(app, "admin", Role.ADMIN, totp=True)
    assert client.get(f"/manage/alerts?period={PERIOD}").status_code == 200
    centre = unit_id("HL-TTHCC", app)  # the centre; its one service point repeats its figures
    with app.app_context():
        alert = db.session.scalar(
            sa.select(Alert).where(Alert.unit_id == centre, Alert.kind == AlertKind.BELOW_TARGET)
        )
        assert alert is not None and alert.ci_high < alert.reference
        alert_id = alert.id
    client.get(f"/manage/alerts?period={PERIOD}")  # viewing again updates, never duplicates
    for text, ack in (("Đã họp với bộ phận một cửa", "1"), ("Theo dõi tháng sau", "")):
        response = client.post(f"/manage/alerts/{alert_id}/notes", data={"comment": text, "acknowledge": ack})
        assert response.status_code == 302
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Alert)
                .where(Alert.unit_id == centre, Alert.kind == AlertKind.BELOW_TARGET)
            )
            == 1
        )
        notes = list(
            db.session.scalars(
                sa.select(AlertNote).where(AlertNote.alert_id == alert_id).order_by(AlertNote.id)
            )
        )
        assert [n.acknowledges for n in notes] == [True, False]
        assert db.session.get(Alert, alert_id).acknowledged_at is not None  # type: ignore[union-attr]
    assert len(audit_events("alert.acknowledge", app)) == 1 and len(audit_events("alert.note", app)) == 1


def test_manager_cannot_note_another_units_alert(migrated_db: Path, tmp_path: Path) -> None:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-TTHCC-1", FAR_BELOW_TARGET, day=10, harassment=False)
    client = signed_in(app, "admin", Role.ADMIN, totp=True)
    client.get(f"/manage/alerts?period={PERIOD}")
    with app.app_context():
        alert_id = db.session.scalar(sa.select(Alert.id))
    other = signed_in(app, "ab", Role.MANAGER, ("HL-AB",), totp=True)
    assert other.post(f"/manage/alerts/{alert_id}/notes", data={"comment": "x"}).status_code == 404
    assert audit_events("access.denied", app)


def test_significant_drop_against_the_previous_month_raises_an_alert(
    migrated_db: Path, tmp_path: Path
) -> None:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-AB-1", [5, 4, 5, 5, 4, 5] * 5, day=10, month=9, harassment=False)
    add_responses(app, "HL-AB-1", [2, 4, 1, 2, 3, 2] * 5, day=10, month=10, harassment=False)
    client = signed_in(app, "admin", Role.ADMIN, totp=True)
    assert client.get(f"/manage/?period={PERIOD}").status_code == 200
    with app.app_context():
        drops = list(db.session.scalars(sa.select(Alert).where(Alert.kind == AlertKind.SIGNIFICANT_DROP)))
        units = {a.unit_id for a in drops}
        assert unit_id("HL-AB", app) in units
        assert unit_id("HL-AB-1", app) not in units  # the ward's only service point: same figures
        drop = next(a for a in drops if a.unit_id == unit_id("HL-AB", app))
        assert drop.estimate < drop.reference - 0.3 and drop.ci_low <= drop.estimate <= drop.ci_high
        quiet = list(db.session.scalars(sa.select(Alert).where(Alert.unit_id == unit_id("HL-TTHCC-1", app))))
        assert quiet == []  # no responses there: no alert of any kind
