"""Days and months are Vietnam's, whatever the server's clock says.

Vietnam is UTC+7 all year: from 17:00 to 24:00 UTC its date is already the next one. Each test puts the
app's clock in that window at a month's end, where a page counting in UTC dates would pick another
month or day (it did: a test failed only when CI ran after 17:00 UTC).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from survey.extensions import db
from survey.local_time import local_date, local_month, utc_bounds
from survey.models import InstrumentAssignment, Role
from tests.survey.staff_helpers import Clock, signed_in
from tests.survey.survey_helpers import serve_kitchen_sink

LAST_EVENING_UTC = datetime(2026, 1, 31, 16, 59, 59, tzinfo=UTC)  # 23:59:59 on 31 January in Vietnam
NEXT_MORNING_LOCAL = datetime(2026, 1, 31, 17, 0, tzinfo=UTC)  # 00:00 on 1 February in Vietnam


def test_the_local_day_turns_at_17_utc() -> None:
    assert local_date(LAST_EVENING_UTC) == date(2026, 1, 31)
    assert local_date(NEXT_MORNING_LOCAL) == date(2026, 2, 1)
    assert (local_month(LAST_EVENING_UTC), local_month(NEXT_MORNING_LOCAL)) == ("2026-01", "2026-02")
    assert utc_bounds(date(2026, 2, 1), date(2026, 2, 28)) == (
        datetime(2026, 1, 31, 17, tzinfo=UTC), datetime(2026, 2, 28, 17, tzinfo=UTC))


def test_manager_pages_default_to_the_local_month(migrated_db: Path, tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 1, 31, 18, 0, tzinfo=UTC))  # 01:00 on 1 February in Vietnam
    served = serve_kitchen_sink(migrated_db, tmp_path, CLOCK=clock)
    manager = signed_in(served.app, "quanly.anbinh", Role.MANAGER, ("HL-AB",))
    dashboard = manager.get("/manage/").get_data(as_text=True)
    assert '<option value="2026-01" selected>' in dashboard  # January has ended in Vietnam
    flags = manager.get("/manage/flags").get_data(as_text=True)
    assert 'name="period" value="2026-02"' in flags  # flags wait for review in the month now running


def test_a_citizen_answers_on_the_local_day(migrated_db: Path, tmp_path: Path) -> None:
    clock = Clock(LAST_EVENING_UTC)
    served = serve_kitchen_sink(migrated_db, tmp_path, CLOCK=clock)
    with served.app.app_context():
        db.session.execute(sa.update(InstrumentAssignment).values(closes_on=date(2026, 1, 31)))
        db.session.commit()
    url = served.url()
    assert served.client.get(url).status_code == 200  # the last minute of the assignment's last day
    clock.advance(seconds=1)  # 17:00 UTC on the 31st is already 1 February at the counter
    closed = served.client.get(url)
    assert closed.status_code == 404 and "E-NO-SURVEY" in closed.get_data(as_text=True)
