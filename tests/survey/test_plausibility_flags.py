"""Plausibility flags raised when a form is stored, and the managers' review of flagged responses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale

from survey.extensions import db
from survey.local_time import local_date
from survey.models import Answer, Channel, Response, ResponseStatus, Role
from survey.services.citizens.limits import parse_rules
from survey.services.citizens.plausibility import _repeats, reason_labels
from survey.services.citizens.surveys import find_instrument
from survey.services.reporting.respondent_data import load_respondents
from tests.survey.conftest import RELAXED_RULES, audit_events, make_app, unit_id
from tests.survey.staff_helpers import CHEAP_ARGON2, Clock, clock_of, signed_in
from tests.survey.survey_helpers import (
    FRESH_FORM,
    KITCHEN_COUNTER,
    VALID,
    Served,
    hidden_fields,
    kitchen_sink_paths,
    serve_kitchen_sink_on,
)


def _served(migrated_db: Path, tmp_path: Path, config: dict[str, Any] | None = None, **rules: Any) -> Served:
    app = make_app(migrated_db, tmp_path, INSTRUMENT_PATHS=kitchen_sink_paths(tmp_path), CLOCK=Clock(),
                   SUBMISSION_RULES={**RELAXED_RULES, **rules}, **CHEAP_ARGON2, **(config or {}))
    return serve_kitchen_sink_on(app)


def _send(served: Served, client: FlaskClient | None = None, address: str = "127.0.0.1",
          answers: dict[str, str] | None = None, wait: float = 0) -> None:
    client = client or served.app.test_client()  # a new browser unless told otherwise
    url, environ = served.url(), {"REMOTE_ADDR": address}
    page = client.get(url, query_string=FRESH_FORM, environ_base=environ)
    form = hidden_fields(page.get_data(as_text=True))
    clock_of(served.app).advance(seconds=wait)
    response = client.post(url, data={**form, **(answers or VALID)}, environ_base=environ)
    assert response.status_code == 303, response.get_data(as_text=True)[:300]


def _statuses(served: Served) -> list[tuple[str, str | None]]:
    return [(r.status.value, r.status_reason) for r in served.stored()]


def test_a_burst_at_one_counter_is_flagged_for_a_minute(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, burst_per_minute=2)
    for i in range(3):
        _send(served, address=f"198.51.100.{i}", wait=1)
    clock_of(served.app).advance(seconds=61)
    _send(served, address="198.51.100.9")
    assert _statuses(served) == [("valid", None), ("valid", None), ("flagged", "burst"), ("valid", None)]


def test_many_from_one_address_are_flagged_before_they_are_refused(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, address_flag_from=3)
    for _ in range(3):
        _send(served, address="203.0.113.4")  # three browsers behind one address
    _send(served, address="203.0.113.5")
    assert [s for s, _ in _statuses(served)] == ["valid", "valid", "flagged", "valid"]
    assert _statuses(served)[2] == ("flagged", "client_burst")


def test_a_client_without_the_cookie_is_flagged_sooner(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, cookieless_flag_from=2)
    script = served.app.test_client(use_cookies=False)
    _send(served, script)
    _send(served, script)
    assert _statuses(served) == [("valid", None), ("flagged", "client_burst")]


def test_a_second_response_from_one_browser_is_flagged(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, browser_flag_from=2)
    _send(served, served.client)
    _send(served, served.client)
    _send(served)  # another browser, same address
    assert _statuses(served) == [("valid", None), ("flagged", "device"), ("valid", None)]


def test_faster_than_the_minimum_is_flagged_not_refused(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, {"MIN_FILL_SECONDS_BY_INSTRUMENT": {"kitchen-sink": 30}})
    _send(served, wait=29)
    _send(served, wait=30)
    assert _statuses(served) == [("flagged", "too_fast"), ("valid", None)]


def test_identical_answers_in_a_row_are_flagged(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, repeat_run=3)
    other = {**VALID, "q_wait": "1"}
    for i, answers in enumerate((VALID, VALID, VALID, other, VALID)):
        _send(served, address=f"198.51.100.{i}", answers=answers, wait=5)
    assert [s for s, _ in _statuses(served)] == ["valid", "valid", "flagged", "valid", "valid"]
    assert _statuses(served)[2][1] == "repeated"


def test_short_identical_ratings_are_not_flagged_as_repeats(migrated_db: Path, tmp_path: Path) -> None:
    """A three-button rating repeats naturally; only vectors with enough answers count."""
    served = _served(migrated_db, tmp_path, repeat_run=2, repeat_min_answers=7)  # VALID has 6 coded answers
    for i in range(3):
        _send(served, address=f"198.51.100.{i}")
    assert {s for s, _ in _statuses(served)} == {"valid"}


def test_several_reasons_are_kept_and_worded_together(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, {"MIN_FILL_SECONDS_BY_INSTRUMENT": {"kitchen-sink": 30}},
                     browser_flag_from=2)
    _send(served, served.client, wait=30)
    _send(served, served.client)
    assert _statuses(served)[1] == ("flagged", "device,too_fast")
    with served.app.test_request_context(), force_locale("en"):
        assert reason_labels("device,too_fast") == ["several responses from the same browser",
                                                    "sent faster than the questions can be read"]
        assert reason_labels("typed by staff") == ["typed by staff"]


def _two_flagged(migrated_db: Path, tmp_path: Path) -> tuple[Served, list[int]]:
    served = _served(migrated_db, tmp_path, browser_flag_from=2)
    for _ in range(3):
        _send(served, served.client)
    return served, [r.id for r in served.stored() if r.status is ResponseStatus.FLAGGED]


def _load(app: Flask) -> Any:
    with app.app_context():
        paths = app.config["INSTRUMENT_PATHS"]
        instrument = find_instrument("kitchen-sink", "2025.1", paths).instrument
        today = local_date(clock_of(app).now)
        point = unit_id("HL-AB-1", app)
        return load_respondents(db.session, [point], today.replace(day=1), today, instrument)


def test_managers_reinstate_or_confirm_with_an_audit_trail(migrated_db: Path, tmp_path: Path) -> None:
    served, (first, second) = _two_flagged(migrated_db, tmp_path)
    assert len(_load(served.app).frame) == 1  # flagged responses are left out of the data by default
    manager = signed_in(served.app, "quanly.anbinh", Role.MANAGER, ("HL-AB",))
    page = manager.get("/manage/flags").get_data(as_text=True)
    assert page.count("nhiều phiếu từ cùng một trình duyệt") == 2  # the reason, in Vietnamese
    assert page.count("<code>kitchen-sink@2025.1</code>") == 2  # and the index a reinstatement enters
    # The dashboard's rows count the flagged responses of the index they sit beside (SIPAS by default):
    # these answered the test questionnaire, which no dashboard reports, so the queue alone lists them.
    month = f"/manage/?period={clock_of(served.app).now:%Y-%m}"
    assert "phiếu bị gắn cờ" not in manager.get(month).get_data(as_text=True)
    assert manager.post(f"/manage/flags/{first}", data={"decision": "reinstate", "note": "khách quen"}
                        ).status_code == 303
    assert manager.post(f"/manage/flags/{second}", data={"decision": "confirm"}).status_code == 303
    again = manager.post(f"/manage/flags/{second}", data={"decision": "reinstate"}, follow_redirects=True)
    assert "Phiếu này đã được xem xét trước đó." in again.get_data(as_text=True)
    statuses = {r.id: (r.status.value, r.status_reason) for r in served.stored()}
    assert statuses[first] == ("valid", "device") and statuses[second] == ("excluded", "device")
    events = [(e.action, e.object_id, json.loads(e.detail)) for e in audit_events("response.", served.app)]
    assert events == [("response.reinstate", str(first), {"note": "khách quen", "reason": "device"}),
                      ("response.confirm", str(second), {"note": "", "reason": "device"})]
    loaded = _load(served.app)
    assert len(loaded.frame) == 2 and loaded.excluded_total == 1  # reinstated counts again
    assert "phiếu bị gắn cờ" not in manager.get(month).get_data(as_text=True)


def test_a_manager_cannot_review_another_units_responses(migrated_db: Path, tmp_path: Path) -> None:
    served, (first, _) = _two_flagged(migrated_db, tmp_path)
    outsider = signed_in(served.app, "quanly.hoalac", Role.MANAGER, ("HL-HL",))
    assert "nhiều phiếu từ cùng một trình duyệt" not in outsider.get("/manage/flags").get_data(as_text=True)
    assert outsider.post(f"/manage/flags/{first}", data={"decision": "reinstate"}).status_code == 404
    assert served.stored()[1].status is ResponseStatus.FLAGGED
    assert [e.action for e in audit_events("access.denied", served.app)] == ["access.denied"]


@pytest.mark.parametrize("decision", ["", "delete", "valid"])
def test_an_unknown_decision_is_a_400(migrated_db: Path, tmp_path: Path, decision: str) -> None:
    served, (first, _) = _two_flagged(migrated_db, tmp_path)
    manager = signed_in(served.app, "quanly.anbinh", Role.MANAGER, ("HL-AB",))
    assert manager.post(f"/manage/flags/{first}", data={"decision": decision}).status_code == 400
    with served.app.app_context():
        assert db.session.get(Response, first).status is ResponseStatus.FLAGGED  # type: ignore[union-attr]


def test_refusals_are_listed_for_managers(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, cookieless_limit="1 per hour")
    script = served.app.test_client(use_cookies=False)
    url = served.url()
    for _ in range(3):
        form = hidden_fields(script.get(url, query_string=FRESH_FORM).get_data(as_text=True))
        script.post(url, data={**form, **VALID})
    manager = signed_in(served.app, "quanly.anbinh", Role.MANAGER, ("HL-AB",))
    page = manager.get("/manage/flags").get_data(as_text=True)
    assert "một địa chỉ mạng, không có cookie trình duyệt</td><td class=\"num\">2</td>" in page
    with served.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 1


REPEAT_NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def _add_response(counter: int, minutes_ago: int, answers: dict[str, tuple[int, ...]]) -> None:
    """A valid kitchen-sink response at `counter`, `minutes_ago` before REPEAT_NOW, with these answers."""
    response = Response(instrument_id="kitchen-sink", instrument_version="2025.1", instrument_hash="0" * 64,
                        unit_id=unit_id("HL-AB-1"), counter_id=counter, channel=Channel.QR, language="vi",
                        status=ResponseStatus.VALID, submitted_at=REPEAT_NOW - timedelta(minutes=minutes_ago),
                        idempotency_key=f"k{minutes_ago}")
    db.session.add(response)
    db.session.flush()
    db.session.add_all(Answer(response_id=response.id, item_id=item, code=code)
                       for item, codes in answers.items() for code in codes)
    db.session.flush()


def _repeated(counter: int, answers: dict[str, tuple[int, ...]], run: int) -> bool:
    rules = parse_rules({**RELAXED_RULES, "repeat_run": run, "repeat_min_answers": 1})
    return _repeats(db.session(), counter, answers, REPEAT_NOW, rules)


def test_a_response_without_coded_answers_breaks_a_run_of_repeats(migrated_db: Path, tmp_path: Path) -> None:
    """The last responses and their answers come in one outer join: one with no coded answer is
    still one of the last `repeat_run - 1` (an empty vector), so it breaks the run."""
    served = _served(migrated_db, tmp_path)
    mine = {"q_access": (4,), "q_staff": (5,)}
    counter = served.counters[KITCHEN_COUNTER]
    with served.app.app_context():
        _add_response(counter, 3, mine)
        assert not _repeated(counter, mine, 3)  # one before: too few for a run of 3
        _add_response(counter, 2, mine)
        assert _repeated(counter, mine, 3)
        _add_response(counter, 1, {})  # the latest has no coded answer (texts only)
        assert not _repeated(counter, mine, 3)
        db.session.rollback()


def test_a_run_is_broken_by_the_latest_response_or_by_an_older_one(migrated_db: Path, tmp_path: Path) -> None:
    """The latest response is compared first and the run read only when it matches: an older response
    that differs still breaks the run, and a run as long as asked is still found."""
    served = _served(migrated_db, tmp_path)
    mine, other = {"q_access": (4,), "q_staff": (5,)}, {"q_access": (4,), "q_staff": (4,)}
    counter = served.counters[KITCHEN_COUNTER]
    with served.app.app_context():
        for minutes_ago, answers in ((4, other), (3, mine), (2, mine), (1, mine)):
            _add_response(counter, minutes_ago, answers)
        # By hand: the last three are `mine`, the fourth from the end is `other`.
        assert [_repeated(counter, mine, run) for run in (2, 3, 4, 5, 6)] == [True, True, True, False, False]
        # only the fourth from the end is `other`: the latest breaks every run of it
        assert [_repeated(counter, other, run) for run in (2, 3, 4, 5)] == [False, False, False, False]
        db.session.rollback()
