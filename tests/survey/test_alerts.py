"""Alerts: a unit wholly below target gets one; acknowledging keeps a trail and an audit entry."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from survey.extensions import db
from survey.models import Alert, AlertKind, AlertNote, Role
from tests.survey.conftest import audit_events, unit_id
from tests.survey.report_helpers import PERIOD, add_responses, run_alerts_job
from tests.survey.staff_helpers import signed_in, staff_app

FAR_BELOW_TARGET = [1, 2, 3, 2, 1, 2, 3, 1, 2, 2, 1, 3] * 2  # far below 90 %


def test_below_target_alert_created_and_acknowledged_with_a_trail(migrated_db: Path, tmp_path: Path) -> None:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-TTHCC-1", FAR_BELOW_TARGET, day=10, harassment=False)
    client = signed_in(app, "admin", Role.ADMIN, totp=True)
    assert client.get(f"/manage/alerts?period={PERIOD}").status_code == 200
    with app.app_context():  # a page view creates no alert: the job does
        assert db.session.scalar(sa.select(sa.func.count(Alert.id))) == 0
    run_alerts_job(app)
    centre = unit_id("HL-TTHCC", app)  # the centre; its one service point repeats its figures
    with app.app_context():
        alert = db.session.scalar(
            sa.select(Alert).where(Alert.unit_id == centre, Alert.kind == AlertKind.BELOW_TARGET)
        )
        assert alert is not None and alert.ci_high < alert.reference
        alert_id = alert.id
    listed = client.get(f"/manage/alerts?period={PERIOD}").get_data(as_text=True)
    assert f"/manage/alerts/{alert_id}/notes" in listed
    run_alerts_job(app)  # running again updates, never duplicates
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
    run_alerts_job(app)
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
    run_alerts_job(app)
    with app.app_context():
        drops = list(db.session.scalars(sa.select(Alert).where(Alert.kind == AlertKind.SIGNIFICANT_DROP)))
        units = {a.unit_id for a in drops}
        assert unit_id("HL-AB", app) in units
        assert unit_id("HL-AB-1", app) not in units  # the ward's only service point: same figures
        drop = next(a for a in drops if a.unit_id == unit_id("HL-AB", app))
        assert drop.estimate < drop.reference - 0.3 and drop.ci_low <= drop.estimate <= drop.ci_high
        quiet = list(db.session.scalars(sa.select(Alert).where(Alert.unit_id == unit_id("HL-TTHCC-1", app))))
        assert quiet == []  # no responses there: no alert of any kind


def test_viewing_the_dashboard_unit_and_alerts_pages_writes_nothing(migrated_db: Path,
                                                                    tmp_path: Path) -> None:
    """The pages only read: alerts are the job's, so a GET executes no INSERT, UPDATE or DELETE and leaves
    every table's row count as it was (signing in, which does write, happens before)."""
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-AB-1", [5, 4, 5, 5, 4, 5] * 5, day=10, month=9, harassment=False)
    add_responses(app, "HL-AB-1", [2, 4, 1, 2, 3, 2] * 5, day=10, month=10, harassment=False)
    add_responses(app, "HL-TTHCC-1", FAR_BELOW_TARGET, day=10, harassment=False)
    client = signed_in(app, "tinh", Role.MANAGER, ("HL",), totp=True)
    with app.app_context():
        tables = sorted(sa.inspect(db.engine).get_table_names())
        engine = db.engine

    def counts() -> dict[str, int]:
        with app.app_context():
            return {t: db.session.scalar(sa.text(f'SELECT count(*) FROM "{t}"')) or 0 for t in tables}

    writes: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    before = counts()
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        for url in (f"/manage/?period={PERIOD}", f"/manage/units/{unit_id('HL-AB', app)}?period={PERIOD}",
                    f"/manage/alerts?period={PERIOD}"):
            assert client.get(url).status_code == 200, url
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert writes == []
    assert counts() == before
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Alert.id))) == 0
