"""`open_survey` reads the counter, its unit's line and the assignments open that day in one statement
(`load_counter_line`): the same counter, the same refusals and the same instrument as reading them one
by one (`resolve_token`, `assignment_for`)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask
from sqlalchemy import event

from survey.errors import SurveyError
from survey.extensions import db
from survey.models import Counter, InstrumentAssignment, Unit
from survey.services.citizens.surveys import open_survey
from survey.services.organisation import counter_lines
from survey.services.organisation.assignments import assignment_for
from survey.services.qr.qr_tokens import issue_token, token_secret
from tests.survey.conftest import counter_id, unit_id

DAY = date(2030, 3, 15)  # after the demo's assignments opened (2025-07-01); they never close


def _assign(unit_code: str, instrument_id: str, version: str, opens_on: date,
            closes_on: date | None = None) -> None:
    unit = db.session.get(Unit, unit_id(unit_code))
    db.session.add(InstrumentAssignment(unit=unit, instrument_id=instrument_id, instrument_version=version,
                                        opens_on=opens_on, closes_on=closes_on))


def _opened_key(app: Flask, counter: Counter, day: date) -> tuple[str, int]:
    """The instrument `open_survey` finds for `counter`'s QR code on `day`, and the statements it sent
    besides the revisions' stamp (`counter_lines`), with no line kept yet."""
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    token = issue_token(counter, token_secret(app.config))
    db.session.expire_all()  # nothing already in the session: every row is read again
    counter_lines._LINES._entries.clear()  # nor in the process
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        opened = open_survey(db.session(), token, app.config, day)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert "counter_revision" in statements[0]  # the stamp
    return opened.registered.key, len(statements) - 1


def test_the_nearest_open_assignment_in_one_statement(app: Flask, demo: dict[str, int]) -> None:
    with app.app_context():
        # The demo assigns sipas-counter at the province (HL). Along HL > HL-AB > HL-AB-1:
        _assign("HL-AB", "quick-rating", "2025.1", DAY - timedelta(days=10))  # the ward's first
        _assign("HL-AB", "outpatient", "2025.1", DAY - timedelta(days=5))  # the ward's latest opening
        _assign("HL-AB-1", "school-parents", "2026.1", DAY - timedelta(days=30), DAY - timedelta(days=1))
        _assign("HL-AB-1", "outpatient", "2026.1", DAY + timedelta(days=1))  # not open yet on DAY
        db.session.commit()
        counter = db.session.get(Counter, counter_id("HL-AB-1/Q1"))
        assert counter is not None
        # By hand: on DAY the service point's own are closed or not yet open, so the ward's latest
        # opening wins; two days before, the service point's own (nearest) was still open; on the
        # day after, its second one; in the province's other commune, the demo's own assignment.
        assert _opened_key(app, counter, DAY) == ("outpatient@2025.1", 1)
        assert _opened_key(app, counter, DAY - timedelta(days=2)) == ("school-parents@2026.1", 1)
        assert _opened_key(app, counter, DAY + timedelta(days=1)) == ("outpatient@2026.1", 1)
        assert _opened_key(app, counter, DAY - timedelta(days=40))[0] == "sipas-counter@2025.1"
        # Every demo counter, on each of those days: the instrument `assignment_for` gives.
        for key in demo:
            other = db.session.get(Counter, counter_id(key))
            assert other is not None
            for day in (DAY - timedelta(days=40), DAY - timedelta(days=7), DAY, DAY + timedelta(days=1)):
                expected = assignment_for(db.session(), other.unit, day)
                assert expected is not None
                assert _opened_key(app, other, day) == (
                    f"{expected.instrument_id}@{expected.instrument_version}", 1), (key, day)


def test_a_counter_moved_to_another_unit_or_retired_is_refused_as_before(
        app: Flask, demo: dict[str, int]) -> None:
    with app.app_context():
        counter = db.session.get(Counter, counter_id("HL-AB-1/Q1"))
        assert counter is not None
        token = issue_token(counter, token_secret(app.config))  # printed while the counter was at HL-AB-1
        counter.unit_id = unit_id("HL-AB")  # its ward: still in the same line
        db.session.commit()
        with pytest.raises(SurveyError) as moved:
            open_survey(db.session(), token, app.config, DAY)
        assert (moved.value.status, moved.value.code) == (404, "E-QR-INVALID")
        counter.unit_id = unit_id("HL-AB-1")
        counter.active = False
        db.session.commit()
        with pytest.raises(SurveyError) as inactive:
            open_survey(db.session(), token, app.config, DAY)
        assert (inactive.value.status, inactive.value.code) == (410, "E-QR-EXPIRED")
        counter.active = True
        db.session.commit()
        assert open_survey(db.session(), token, app.config, DAY).counter.id == counter.id
