"""`flask alerts refresh`: alerts exist without anyone opening a page; a second run changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from survey.extensions import db
from survey.models import Alert, AlertKind
from tests.survey.conftest import audit_events, unit_id
from tests.survey.report_helpers import PERIOD, add_responses
from tests.survey.staff_helpers import Clock, running, staff_app
from tests.survey.test_alerts import FAR_BELOW_TARGET


@pytest.fixture
def japp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    # 00:30 on 1 November in Vietnam is still 31 October in UTC: the month just ended is October.
    clock = Clock(datetime(2026, 10, 31, 17, 30, tzinfo=UTC))
    yield from running(staff_app(migrated_db, tmp_path, CLOCK=clock))


def _alerts(app: Flask) -> list[tuple[object, ...]]:
    with app.app_context():
        rows = db.session.execute(sa.select(
            Alert.id, Alert.unit_id, Alert.instrument_id, Alert.kind, Alert.period_start, Alert.period_end,
            Alert.estimate, Alert.ci_low, Alert.ci_high, Alert.reference).order_by(Alert.id)).all()
        return [tuple(row) for row in rows]


def test_refresh_creates_alerts_once_and_is_idempotent(japp: Flask) -> None:
    add_responses(japp, "HL-TTHCC-1", FAR_BELOW_TARGET, day=10, harassment=False)
    runner = japp.test_cli_runner()
    first = runner.invoke(args=["alerts", "refresh"])  # no --period: the month just ended, local time
    assert first.exit_code == 0, first.output
    created = _alerts(japp)
    assert created, "the job alone must create the alerts"
    assert (unit_id("HL-TTHCC", japp), AlertKind.BELOW_TARGET) in {(row[1], row[3]) for row in created}
    assert {row[4].isoformat() for row in created} == {"2026-10-01"}  # type: ignore[attr-defined]
    assert f"alerts refresh 2026-10: 1 reports, {len(created)} alerts ({len(created)} new)" in first.output
    assert "2026-10 HL sipas-counter@2025.1: recomputed" in first.output

    second = runner.invoke(args=["alerts", "refresh", "--period", PERIOD])
    assert second.exit_code == 0, second.output
    assert _alerts(japp) == created
    assert f"{len(created)} alerts (0 new)" in second.output
    events = audit_events("alerts.refresh", japp)
    assert [(e.actor_id, e.object_id) for e in events] == [(None, "2026-10"), (None, "2026-10")]
    assert [json.loads(e.detail)["created"] for e in events] == [len(created), 0]  # stored as JSON text


def test_a_period_without_responses_creates_nothing(japp: Flask) -> None:
    add_responses(japp, "HL-TTHCC-1", FAR_BELOW_TARGET, day=10, harassment=False)
    result = japp.test_cli_runner().invoke(args=["alerts", "refresh", "--period", "2026-08"])
    assert result.exit_code == 0, result.output
    assert "alerts refresh 2026-08: 0 reports, 0 alerts (0 new)" in result.output
    assert _alerts(japp) == []


def test_a_bad_period_is_a_usage_error_naming_it(japp: Flask) -> None:
    result = japp.test_cli_runner().invoke(args=["alerts", "refresh", "--period", "2026-13"])
    assert result.exit_code == 2
    assert "'2026-13' is not a period: the month must lie between 01 and 12" in result.output
    assert audit_events("alerts.refresh", japp) == []


def test_a_failure_exits_non_zero_and_keeps_nothing(japp: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    add_responses(japp, "HL-TTHCC-1", FAR_BELOW_TARGET, day=10, harassment=False)

    def broken(*_args: object, **_kwargs: object) -> list[Alert]:
        raise RuntimeError("disk full")

    monkeypatch.setattr("survey.services.reporting.alerts.refresh_alerts", broken)
    result = japp.test_cli_runner().invoke(args=["alerts", "refresh", "--period", PERIOD])
    assert result.exit_code == 1
    assert "alerts refresh 2026-10 failed: disk full" in result.output
    assert _alerts(japp) == [] and audit_events("alerts.refresh", japp) == []
