"""Opening hours (survey/services/organisation/opening_hours.py): the schedule's format, the hours in
force (counter over unit over ancestors), the `after_hours` flag in the submit path, and who may set
them (the unit above, audited)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_babel import force_locale

from survey.extensions import db
from survey.models import Counter, Role, Unit
from survey.services.organisation.opening_hours import parse_hours
from survey.services.organisation.units import UnitRefused
from tests.survey.conftest import RELAXED_RULES, audit_events, counter_id, make_app, unit_id
from tests.survey.staff_helpers import CHEAP_ARGON2, Clock, clock_of, signed_in
from tests.survey.survey_helpers import (
    FRESH_FORM,
    VALID,
    Served,
    hidden_fields,
    kitchen_sink_paths,
    serve_kitchen_sink_on,
)

# 2026-12-07 is a Monday. Vietnam is UTC+7 all year (no daylight saving): 01:00 UTC is 08:00 there.
MONDAY_0800_VN = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
OFFICE = "T2-T6 07:30-11:30, 13:30-17:00; T7 07:30-11:30"


@pytest.mark.parametrize(("typed", "canonical"), [
    (OFFICE, "mon-fri 07:30-11:30 13:30-17:00; sat 07:30-11:30"),
    ("mon-fri 7h30-11h30 13h30-17h00\nSat 07:30–11:30", "mon-fri 07:30-11:30 13:30-17:00; sat 07:30-11:30"),
    ("T2 08:00-12:00; T4 08:00-12:00; CN 00:00-24:00", "mon 08:00-12:00; wed 08:00-12:00; sun 00:00-24:00"),
    ("t3: 13:30-17:00, 07:30-11:30", "tue 07:30-11:30 13:30-17:00"),  # intervals put in order
    ("  ", None),
])
def test_a_schedule_is_read_as_people_write_it(typed: str, canonical: str | None) -> None:
    hours = parse_hours(typed)
    assert (hours.text() if hours else None) == canonical
    if hours is not None:
        assert parse_hours(hours.text("vi")) == hours  # the Vietnamese spelling reads back the same


def test_the_schedule_in_vietnamese_day_names() -> None:
    hours = parse_hours("mon-fri 07:30-11:30 13:30-17:00; sat 07:30-11:30; sun 08:00-11:00")
    assert hours is not None
    assert hours.text("vi") == "T2-T6 07:30-11:30 13:30-17:00; T7 07:30-11:30; CN 08:00-11:00"


@pytest.mark.parametrize(("typed", "words"), [
    ("T2-T6", "07:30-11:30"), ("T8 07:00-11:00", "T2-T6"), ("T6-T2 07:00-11:00", "T2-T6"),
    ("T2 11:00-07:00", "close after it opens"), ("T2 07:00-11:00 10:00-12:00", "overlap"),
    ("T2 25:00-26:00", "not a time of day"), ("T2 07:61-08:00", "not a time of day"),
    ("T2-T6 07:00-11:00; T6 13:00-17:00", "named twice"), ("T2 07:00-11:00 and more", "07:30-11:30"),
    ("T2 07:00-11:00; " * 30, "too long"),
])
def test_a_malformed_schedule_is_refused_naming_the_part(typed: str, words: str, app: Flask) -> None:
    with app.test_request_context(), force_locale("en"), pytest.raises(UnitRefused) as refused:
        parse_hours(typed)
    assert words in str(refused.value.message)


@pytest.mark.parametrize(("when", "grace", "open_"), [
    (MONDAY_0800_VN, 0, True),
    (MONDAY_0800_VN - timedelta(minutes=31), 30, False),  # 07:29, before opening: no grace before
    (MONDAY_0800_VN + timedelta(hours=3, minutes=30), 0, False),  # 11:30, the lunch break begins
    (MONDAY_0800_VN + timedelta(hours=3, minutes=59), 30, True),  # 11:59, within 30 min of closing
    (MONDAY_0800_VN + timedelta(hours=4), 30, False),  # 12:00
    (MONDAY_0800_VN + timedelta(days=5, hours=4), 30, False),  # Saturday 12:00
    (MONDAY_0800_VN + timedelta(days=6), 30, False),  # Sunday: closed
])
def test_open_in_vietnam_time_with_the_grace_after_closing(when: datetime, grace: int, open_: bool) -> None:
    hours = parse_hours(OFFICE)
    assert hours is not None and hours.is_open(when, timedelta(minutes=grace)) is open_


def test_the_grace_runs_past_midnight_and_past_sunday() -> None:
    hours = parse_hours("CN 20:00-23:50")
    assert hours is not None
    sunday_2350_vn = MONDAY_0800_VN - timedelta(hours=8, minutes=10)
    assert hours.is_open(sunday_2350_vn + timedelta(minutes=29), timedelta(minutes=30))  # Monday 00:19
    assert not hours.is_open(sunday_2350_vn + timedelta(minutes=30), timedelta(minutes=30))


# ---------------------------------------------------------------- the flag in the submit path


def _served(migrated_db: Path, tmp_path: Path, **rules: object) -> Served:
    app = make_app(migrated_db, tmp_path, INSTRUMENT_PATHS=kitchen_sink_paths(tmp_path),
                   CLOCK=Clock(MONDAY_0800_VN), SUBMISSION_RULES={**RELAXED_RULES, **rules}, **CHEAP_ARGON2)
    return serve_kitchen_sink_on(app)


def _set_hours(app: Flask, *, unit: str | None = None, counter: str | None = None, hours: str | None) -> None:
    with app.app_context():
        if unit is not None:
            row = db.session.get(Unit, unit_id(unit))
            assert row is not None
            row.opening_hours = hours
        if counter is not None:
            counter_row = db.session.get(Counter, counter_id(counter))
            assert counter_row is not None
            counter_row.opening_hours = hours
        db.session.commit()


def _send_at(served: Served, when: datetime) -> None:
    clock_of(served.app).now = when
    client = served.app.test_client()
    form = hidden_fields(client.get(served.url(), query_string=FRESH_FORM).get_data(as_text=True))
    assert client.post(served.url(), data={**form, **VALID}).status_code == 303  # never refused


def _statuses(served: Served) -> list[tuple[str, str | None]]:
    return [(r.status.value, r.status_reason) for r in served.stored()]


def test_answers_outside_the_hours_are_stored_flagged(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path)
    _set_hours(served.app, unit="HL", hours="mon-fri 07:30-11:30 13:30-17:00")  # inherited down the tree
    for when in (MONDAY_0800_VN, MONDAY_0800_VN + timedelta(hours=3, minutes=59),
                 MONDAY_0800_VN + timedelta(hours=4, minutes=1), MONDAY_0800_VN + timedelta(hours=14)):
        _send_at(served, when)
    assert _statuses(served) == [("valid", None), ("valid", None), ("flagged", "after_hours"),
                                 ("flagged", "after_hours")]


def test_the_grace_is_a_rule_per_counter(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, after_hours_grace_minutes=90)
    _set_hours(served.app, unit="HL-AB-1", hours="mon 07:30-11:30")
    _send_at(served, MONDAY_0800_VN + timedelta(hours=4, minutes=59))  # 12:59: within 90 min
    _send_at(served, MONDAY_0800_VN + timedelta(hours=5))  # 13:00
    assert _statuses(served) == [("valid", None), ("flagged", "after_hours")]


def test_a_counters_own_hours_override_its_units(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path)
    _set_hours(served.app, unit="HL-AB-1", hours="mon-fri 07:30-11:30")
    _set_hours(served.app, counter="HL-AB-1/Q1", hours="mon-sun 06:00-22:00")  # an evening counter
    _send_at(served, MONDAY_0800_VN + timedelta(hours=12))  # 20:00
    _send_at(served, MONDAY_0800_VN + timedelta(days=6))  # Sunday 08:00
    assert _statuses(served) == [("valid", None), ("valid", None)]


def test_without_hours_anywhere_nothing_is_flagged_for_the_time(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path)
    _send_at(served, MONDAY_0800_VN + timedelta(hours=17))  # 01:00 at night
    assert _statuses(served) == [("valid", None)]


def test_a_hand_edited_schedule_that_no_longer_parses_never_costs_an_answer(migrated_db: Path,
                                                                          tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path)
    _set_hours(served.app, unit="HL-AB-1", hours="mon 17:00-07:00")  # written into the database by hand
    _send_at(served, MONDAY_0800_VN)
    assert _statuses(served) == [("valid", None)]


def test_the_flags_page_names_the_reason(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path)
    _set_hours(served.app, unit="HL-AB", hours="mon-fri 07:30-17:00")
    _send_at(served, MONDAY_0800_VN + timedelta(hours=12))
    manager = signed_in(served.app, "mai", Role.MANAGER, ("HL-AB",))
    page = manager.get("/manage/flags?period=2026-12").get_data(as_text=True)
    assert "gửi ngoài giờ làm việc" in page
    english = manager.get("/manage/flags?period=2026-12&lang=en").get_data(as_text=True)
    assert "sent outside the opening hours" in english


# ---------------------------------------------------------------- who sets them


@pytest.fixture
def hours_app(migrated_db: Path, tmp_path: Path) -> Flask:
    return _served(migrated_db, tmp_path).app


def _stored_hours(app: Flask, unit: str) -> str | None:
    with app.app_context():
        return db.session.scalar(sa.select(Unit.opening_hours).where(Unit.code == unit))


def test_the_manager_above_sets_a_units_hours_audited(hours_app: Flask) -> None:
    above = signed_in(hours_app, "an", Role.MANAGER, ("HL-AB",))
    unit = unit_id("HL-AB-1", hours_app)
    saved = above.post(f"/manage/units/{unit}/hours", data={"hours": OFFICE})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("#hours")
    assert _stored_hours(hours_app, "HL-AB-1") == "mon-fri 07:30-11:30 13:30-17:00; sat 07:30-11:30"
    page = above.get(f"/manage/units/{unit}/edit").get_data(as_text=True)
    assert "T2-T6 07:30-11:30 13:30-17:00; T7 07:30-11:30" in page  # shown in Vietnamese day names
    [event] = audit_events("unit.hours", hours_app)
    assert event.object_id == str(unit) and "07:30-11:30" in event.detail
    cleared = above.post(f"/manage/units/{unit}/hours", data={"hours": ""})
    assert cleared.status_code == 302 and _stored_hours(hours_app, "HL-AB-1") is None
    assert len(audit_events("unit.hours", hours_app)) == 2


def test_a_units_own_manager_may_not_change_its_hours(hours_app: Flask) -> None:
    own = signed_in(hours_app, "binh", Role.MANAGER, ("HL-AB-1",))
    unit = unit_id("HL-AB-1", hours_app)
    refused = own.post(f"/manage/units/{unit}/hours", data={"hours": "mon-sun 00:00-24:00"})
    assert refused.status_code == 403 and "E-HOURS-PARENT" in refused.get_data(as_text=True)
    assert _stored_hours(hours_app, "HL-AB-1") is None
    assert [e.object_id for e in audit_events("hours.denied", hours_app)] == [str(unit)]
    page = own.get(f"/manage/units/{unit}/edit").get_data(as_text=True)
    assert f'action="/manage/units/{unit}/hours"' not in page  # no form, only the hours and who sets them
    assert "Giờ làm việc do quản lý của đơn vị cấp trên đặt" in page
    counter = counter_id("HL-AB-1/Q1", hours_app)
    assert own.post(f"/manage/counters/{counter}/hours", data={"hours": "T2 06:00-22:00"}).status_code == 403


def test_a_malformed_schedule_comes_back_with_the_reason_and_nothing_saved(hours_app: Flask) -> None:
    above = signed_in(hours_app, "an", Role.MANAGER, ("HL-AB",))
    unit = unit_id("HL-AB-1", hours_app)
    refused = above.post(f"/manage/units/{unit}/hours", data={"hours": "T2 17:00-07:30"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "T2 17:00-07:30" in html
    assert "phải đóng cửa sau giờ mở cửa" in html
    assert _stored_hours(hours_app, "HL-AB-1") is None and audit_events("unit.hours", hours_app) == []


def test_a_counters_override_is_set_by_the_manager_above_its_unit(hours_app: Flask) -> None:
    above = signed_in(hours_app, "an", Role.MANAGER, ("HL-AB",))
    counter = counter_id("HL-AB-1/Q1", hours_app)
    saved = above.post(f"/manage/counters/{counter}/hours", data={"hours": "T2-CN 06:00-22:00"})
    assert saved.status_code == 302
    with hours_app.app_context():
        assert db.session.get(Counter, counter).opening_hours == "mon-sun 06:00-22:00"  # type: ignore[union-attr]
    [event] = audit_events("counter.hours", hours_app)
    assert event.object_id == str(counter)
    page = above.get(f"/manage/counters/{counter}").get_data(as_text=True)
    assert "T2-CN 06:00-22:00" in page and "T2-CN 06:00-22:00</textarea>" in page
    unit_page = above.get(f"/manage/units/{unit_id('HL-AB-1', hours_app)}/edit").get_data(as_text=True)
    assert "T2-CN 06:00-22:00" not in unit_page  # the override is the counter's only
    outsider = signed_in(hours_app, "chi", Role.MANAGER, ("HL-HL",))
    assert outsider.post(f"/manage/counters/{counter}/hours", data={"hours": ""}).status_code == 404
