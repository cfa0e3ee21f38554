"""A citizen's form opens its counter's line (the counter, its units, the assignments open that day)
from a copy kept per process, stamped with the counters' and the units' revisions: read once while
nothing changes, and a counter revoked, a unit renamed or an instrument assigned is seen at the very next
request, whoever wrote it (`survey.services.organisation.counter_lines`)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from survey.auth import local_today
from survey.extensions import db
from survey.models import Counter, CounterRevision, InstrumentAssignment
from survey.services.organisation import counter_lines
from survey.services.organisation.assignments import CounterLine, load_counter_line
from survey.services.qr.qr_tokens import issue_token, token_secret
from tests.survey.conftest import counter_id, unit_id

COUNTER = "HL-AB-1/Q1"
OTHER = "HL-TTHCC-1/Q1"
QUICK_RATING = "name=rating"  # its one scale item (attribute values need no quotes)


def _revision() -> int:
    found = db.session.scalar(sa.select(CounterRevision.revision))
    assert found is not None
    return int(found)


def revision_follows_every_write(app: Flask) -> None:
    """Every insert, update and delete of counters and of instrument assignments moves the revision,
    through the ORM or in SQL. Shared with tests/survey/test_postgresql.py."""
    with app.app_context():
        seen = [_revision()]
        db.session.add(Counter(unit_id=unit_id("HL-AB-1"), code="QNEW", name_vi="Quầy mới"))
        db.session.commit()
        seen.append(_revision())
        db.session.execute(sa.text("UPDATE counters SET name_en = 'New' WHERE code = 'QNEW'"))
        db.session.commit()
        seen.append(_revision())
        db.session.execute(sa.text("DELETE FROM counters WHERE code = 'QNEW'"))
        db.session.commit()
        seen.append(_revision())
        db.session.add(InstrumentAssignment(unit_id=unit_id("HL-AB"), instrument_id="quick-rating",
                                            instrument_version="2025.1", opens_on=date(2030, 1, 1)))
        db.session.commit()
        seen.append(_revision())
        db.session.execute(sa.text("UPDATE instrument_assignments SET closes_on = opens_on "
                                   "WHERE instrument_id = 'quick-rating'"))
        db.session.commit()
        seen.append(_revision())
        db.session.execute(sa.text("DELETE FROM instrument_assignments WHERE instrument_id = 'quick-rating'"))
        db.session.commit()
        seen.append(_revision())
        assert seen == sorted(set(seen)), seen  # strictly increasing: every write moved it
        db.session.rollback()


def test_the_revision_follows_every_write_to_counters_and_assignments(app: Flask,
                                                                      demo: dict[str, int]) -> None:
    revision_follows_every_write(app)


def _url(app: Flask, key: str = COUNTER) -> str:
    with app.app_context():
        counter = db.session.get(Counter, counter_id(key))
        assert counter is not None
        return f"/s/{issue_token(counter, token_secret(app.config))}?new=1&lang=en"


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The counters whose line was read from the database."""
    read: list[int] = []

    def counted(session: sa.orm.Session, counter: int, unit: int, day: date) -> CounterLine:
        read.append(counter)
        return load_counter_line(session, counter, unit, day)

    monkeypatch.setattr(counter_lines, "load_counter_line", counted)
    return read


def _today(app: Flask) -> date:
    with app.app_context():
        return local_today()


def _execute(app: Flask, statement: str, **values: object) -> None:
    with app.app_context():
        db.session.execute(sa.text(statement), values)
        db.session.commit()


def test_a_line_is_read_once_while_nothing_changes(app: Flask, demo: dict[str, int], client: FlaskClient,
                                                   reads: list[int]) -> None:
    url, other = _url(app), _url(app, OTHER)
    for _ in range(3):
        assert client.get(url).status_code == 200
    assert client.get(other).status_code == 200
    assert reads == [counter_id(COUNTER, app), counter_id(OTHER, app)]
    _execute(app, "UPDATE responses SET language = language")  # not the line's: still kept
    assert client.get(url).status_code == 200
    assert len(reads) == 2


def test_a_counter_revoked_or_rotated_in_sql_is_refused_at_the_next_request(
        app: Flask, demo: dict[str, int], client: FlaskClient, reads: list[int]) -> None:
    url = _url(app)
    assert client.get(url).status_code == 200
    _execute(app, "UPDATE counters SET active = :no WHERE id = :id", no=False, id=counter_id(COUNTER, app))
    page = client.get(url)
    assert page.status_code == 410 and "E-QR-EXPIRED" in page.get_data(as_text=True)
    _execute(app, "UPDATE counters SET active = :yes WHERE id = :id", yes=True, id=counter_id(COUNTER, app))
    assert client.get(url).status_code == 200
    _execute(app, "UPDATE counters SET key_version = key_version + 1 WHERE id = :id",
             id=counter_id(COUNTER, app))
    assert client.get(url).status_code == 410
    assert len(reads) == 4


def test_a_unit_renamed_or_an_instrument_assigned_is_seen_at_the_next_request(
        app: Flask, demo: dict[str, int], client: FlaskClient, reads: list[int]) -> None:
    url = _url(app)
    first = client.get(url).get_data(as_text=True)
    assert QUICK_RATING not in first  # the demo's SIPAS form
    _execute(app, "UPDATE units SET name_en = 'Renamed ward' WHERE code = 'HL-AB'")
    _execute(app, "UPDATE units SET name_en = 'Renamed point' WHERE code = 'HL-AB-1'")
    assert "Renamed point" in client.get(url).get_data(as_text=True)
    _execute(app, "INSERT INTO instrument_assignments (unit_id, instrument_id, instrument_version, opens_on) "
             "VALUES (:unit, 'quick-rating', '2025.1', :day)", unit=unit_id("HL-AB", app),
             day=_today(app) - timedelta(days=1))
    assert QUICK_RATING in client.get(url).get_data(as_text=True)
    _execute(app, "DELETE FROM instrument_assignments")
    page = client.get(url)
    assert page.status_code == 404 and "E-NO-SURVEY" in page.get_data(as_text=True)
    assert len(reads) == 4


def test_a_session_that_has_written_reads_the_line_itself(app: Flask, demo: dict[str, int],
                                                          reads: list[int]) -> None:
    """A write not yet committed moves the revision inside its transaction alone; a line read there and
    kept under it would be handed, after a rollback, to whatever other change takes that revision. A
    session that has only read takes the kept line."""
    key, day = (counter_id(COUNTER, app), unit_id("HL-AB-1", app)), _today(app)
    with app.app_context():
        counter = db.session.get(Counter, key[0])
        assert counter is not None
        counter.name_en = "Not committed"
        db.session.flush()
        line = counter_lines.kept_counter_line(db.session(), *key, day)
        assert line.counter is not None and line.counter.name_en == "Not committed"
        db.session.rollback()
    # another counter's change, committed, takes the revision the rolled-back write had moved it to
    _execute(app, "UPDATE counters SET name_en = 'Other' WHERE id = :id", id=counter_id(OTHER, app))
    with app.app_context():
        kept = counter_lines.kept_counter_line(db.session(), *key, day)
        assert kept.counter is not None and kept.counter.name_en != "Not committed"
        assert kept.counter.unit.parent is not None  # the line up loaded: read without a session
    with app.app_context():
        assert counter_lines.kept_counter_line(db.session(), *key, day) is kept
        db.session.scalars(sa.select(Counter)).all()  # a transaction begun by reads alone
        assert db.session().in_transaction()
        assert counter_lines.kept_counter_line(db.session(), *key, day) is kept
    assert len(reads) == 2
