"""The server side of the offline kiosk: the nonce stock, and answers a tablet queued offline sent to
`/k/<token>/queued` (docs/kiosk.md, "Offline"; survey.services.citizens.kiosk_queue)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from survey import create_app
from survey.demo.tree import seed_demo_kiosk
from survey.extensions import db
from survey.models import Counter, KioskDevice, Response
from survey.services.citizens.form_nonce import issue_nonce, read_nonce
from survey.services.citizens.kiosk_queue import answered_at
from survey.services.organisation.kiosks import device_token
from tests.survey.conftest import TEST_SECRET, _config, counter_id
from tests.survey.staff_helpers import clock_of, running, staff_app
from tests.survey.survey_helpers import hidden_fields

KIOSK = "HL-AB-1/KIOSK"
JSON = {"Accept": "application/json"}
DAY = 24 * 3600
OFFLINE_SCRIPT = re.compile(r'<script src="/static/kiosk-offline\.[0-9a-f]{12}\.js" defer>')


@pytest.fixture
def kapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    yield from running(staff_app(migrated_db, tmp_path, KIOSK_NONCE_STOCK=5))


def tablet_path(app: Flask) -> str:
    with app.app_context():
        counter = db.session.get(Counter, counter_id(KIOSK, app))
        assert counter is not None
        device = seed_demo_kiosk(db.session, [counter])
        db.session.commit()
        return f"/k/{device_token(device, TEST_SECRET)}"


def stock(app: Flask, path: str) -> list[str]:
    response = app.test_client().get(f"/s{path}/nonces", headers=JSON)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["max_age"] == 7 * DAY
    return list(body["nonces"])


def rows(app: Flask) -> list[Response]:
    with app.app_context():
        found = list(db.session.scalars(sa.select(Response).order_by(Response.id)))
        for response in found:
            _ = response.answers
        db.session.expunge_all()
        return found


def send(app: Flask, path: str, nonce: str, overall: str | None = "4",
         **query: str) -> tuple[int, dict[str, str]]:
    """POST a queued answer as the tablet's worker does: with the browser cookie its forms got."""
    tablet = app.test_client()
    tablet.get(tablet.get(path).headers.get("Location", path))
    data = {"nonce": nonce} if overall is None else {"nonce": nonce, "overall": overall}
    response = tablet.post(f"/s{path}/queued", query_string={"lang": "vi", **query}, data=data, headers=JSON)
    return response.status_code, response.get_json()


def test_stock_holds_distinct_nonces_of_the_tablets_counter(kapp: Flask) -> None:
    nonces = stock(kapp, tablet_path(kapp))
    now = clock_of(kapp)()
    read = [read_nonce(n, TEST_SECRET, now, timedelta(hours=1)) for n in nonces]
    assert len(nonces) == 5 and all(r is not None for r in read)
    assert {r.counter_id for r in read if r} == {counter_id(KIOSK, kapp)}
    assert len({r.key for r in read if r}) == 5


def test_a_replayed_queued_answer_is_stored_once(kapp: Flask) -> None:
    path = tablet_path(kapp)
    nonce = stock(kapp, path)[0]
    assert send(kapp, path, nonce) == (200, {"status": "stored"})
    # The tablet lost the reply and syncs the same item again (or twice at once, after a restart).
    assert send(kapp, path, nonce) == (200, {"status": "already"})
    assert send(kapp, path, nonce, overall="1") == (200, {"status": "already"})
    [stored] = rows(kapp)
    assert stored.channel.value == "kiosk" and stored.counter_id == counter_id(KIOSK, kapp)
    assert [(a.item_id, a.code) for a in stored.answers] == [("overall", 4)]


def test_queued_answers_outlive_the_form_nonce_but_not_the_queue_window(kapp: Flask) -> None:
    path = tablet_path(kapp)
    early, late = stock(kapp, path)[:2]
    clock = clock_of(kapp)
    clock.advance(days=2)  # a long outage: far beyond FORM_NONCE_MAX_AGE (6 h)
    live = kapp.test_client()
    form_url = live.get(path).headers["Location"]
    refused_live = live.post(form_url.split("?")[0] + "?mode=kiosk", data={"nonce": early, "overall": "4"})
    assert refused_live.status_code == 400 and "E-NONCE-EXPIRED" in refused_live.get_data(as_text=True)
    assert rows(kapp) == []
    assert send(kapp, path, early) == (200, {"status": "stored"})
    clock.advance(days=5, seconds=1)  # 7 days and a second after the stock was issued
    assert send(kapp, path, late) == (400, {"status": "refused", "code": "E-NONCE"})
    assert len(rows(kapp)) == 1


def test_only_a_registered_tablet_of_the_same_counter_may_queue(kapp: Flask) -> None:
    path = tablet_path(kapp)
    nonce = stock(kapp, path)[0]
    other = issue_nonce(TEST_SECRET, counter_id("HL-AB-1/Q1", kapp), "sipas-counter@2025.1", clock_of(kapp)())
    assert send(kapp, path, other)[0] == 400
    assert send(kapp, "/k/WzEsNF0.forged", nonce)[0] == 404
    with kapp.app_context():
        device = db.session.scalar(sa.select(KioskDevice))
        assert device is not None
        device.revoked_at = datetime.now(UTC)
        db.session.commit()
    assert send(kapp, path, nonce)[0] == 410
    assert kapp.test_client().get(f"/s{path}/nonces", headers=JSON).status_code == 410
    assert rows(kapp) == []


def test_an_invalid_queued_answer_is_refused_for_good(kapp: Flask) -> None:
    path = tablet_path(kapp)
    nonce = stock(kapp, path)[0]
    assert send(kapp, path, nonce, overall="9") == (422, {"status": "refused", "code": "E-VALUE"})
    assert send(kapp, path, nonce, overall=None) == (422, {"status": "refused", "code": "E-REQUIRED"})
    assert rows(kapp) == []


def test_a_synced_backlog_keeps_its_answer_times_and_is_not_a_burst(migrated_db: Path,
                                                                   tmp_path: Path) -> None:
    # The real limits and flags (not the tests' relaxed ones): 4 answers a minute flag a burst.
    for app in running(staff_app(migrated_db, tmp_path, SUBMISSION_RULES={}, KIOSK_NONCE_STOCK=6)):
        path = tablet_path(app)
        nonces = stock(app, path)
        issued = clock_of(app)()
        clock_of(app).advance(hours=3)
        for minute, nonce in enumerate(nonces):  # answered 10 minutes apart, synced in one go
            answered_ms = int((issued + timedelta(minutes=10 * minute + 5)).timestamp() * 1000)
            assert send(app, path, nonce, answered_at=str(answered_ms))[0] == 200
        stored = rows(app)
        assert [(r.status.value, r.status_reason) for r in stored] == [("valid", None)] * 6
        assert [r.submitted_at.replace(tzinfo=UTC) - issued for r in stored] == [
            timedelta(minutes=10 * m + 5) for m in range(6)]


def test_answer_time_is_believed_only_between_issue_and_arrival() -> None:
    issued = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    nonce = read_nonce(issue_nonce(TEST_SECRET, 1, "sipas-counter@2025.1", issued), TEST_SECRET, issued,
                       timedelta(hours=1))
    assert nonce is not None
    arrived = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)

    def ms(moment: datetime) -> str:
        return str(int(moment.timestamp() * 1000))

    assert answered_at(ms(datetime(2026, 12, 2, 10, 30, tzinfo=UTC)), nonce, arrived) == datetime(
        2026, 12, 2, 10, 30, tzinfo=UTC)
    assert answered_at(ms(datetime(2026, 11, 1, tzinfo=UTC)), nonce, arrived) == issued
    assert answered_at(ms(datetime(2027, 1, 1, tzinfo=UTC)), nonce, arrived) == arrived
    assert answered_at("soon", nonce, arrived) == arrived
    assert answered_at(None, nonce, arrived) == arrived
    assert answered_at("9" * 40, nonce, arrived) == arrived


def test_the_service_worker_is_served_from_the_root(kapp: Flask) -> None:
    response = kapp.test_client().get("/kiosk-sw.js")
    body = response.get_data()
    response.close()
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert b'addEventListener("fetch"' in body


def test_only_a_registered_tablets_pages_load_the_offline_script(kapp: Flask) -> None:
    path = tablet_path(kapp)
    tablet = kapp.test_client()
    form_url = tablet.get(path).headers["Location"]
    form = tablet.get(form_url).get_data(as_text=True)
    assert "nonce" in hidden_fields(form) and f'data-queue="/s{path}/queued"' in form
    assert OFFLINE_SCRIPT.search(form)
    thanks = tablet.get(form_url.split("?")[0] + "/thanks?mode=kiosk").get_data(as_text=True)
    assert f'data-queue="/s{path}/queued"' in thanks and OFFLINE_SCRIPT.search(thanks)
    # A phone, and a tablet opened by a plain ?mode=kiosk link, never download it.
    phone = kapp.test_client().get(form_url.split("?")[0] + "?new=1").get_data(as_text=True)
    plain = kapp.test_client().get(form_url.split("?")[0] + "?mode=kiosk&new=1").get_data(as_text=True)
    assert "kiosk-offline" not in phone and "kiosk-offline" not in plain
    assert re.search(r"/static/kiosk\.[0-9a-f]{12}\.js", plain)


ERROR_STYLES = re.compile(r'<link rel="stylesheet" href="/static/survey-errors\.[0-9a-f]{12}\.css">')


def test_a_registered_tablets_form_carries_the_servers_error_summary_for_offline(kapp: Flask) -> None:
    """Offline the tablet checks the form itself (kiosk-offline.js) and shows the server's summary: its
    entries and style sheet come with the page, in its language; a phone's clean form stays without."""
    tablet = kapp.test_client()
    form_url = tablet.get(tablet_path(kapp)).headers["Location"]
    form = tablet.get(form_url).get_data(as_text=True)
    head = form.split("</head>")[0]
    assert ERROR_STYLES.search(head)  # in the head: the worker keeps what the page links
    template = re.search(r'<template id="kiosk-offline-errors">(.*?)</template>', form, re.S)
    assert template is not None
    assert re.findall(r'<li data-item="(\w+)" data-error-code="([A-Z-]+)"><a href="#item-\1">Nhìn chung, ',
                      template.group(1)) == [("overall", "E-REQUIRED")]
    assert "Xin vui lòng trả lời câu hỏi này." in template.group(1)
    assert 'id="err-overall" data-error-code="E-REQUIRED"' in template.group(1)
    phone = kapp.test_client().get(form_url.split("?")[0] + "?new=1").get_data(as_text=True)
    assert not ERROR_STYLES.search(phone) and "kiosk-offline-errors" not in phone


def test_ten_concurrent_syncs_of_one_queued_answer_store_exactly_one(kapp: Flask) -> None:
    """A tablet restarted mid-sync, or two tabs: the same item sent ten times at one instant, through
    two app instances on one database file."""
    path = tablet_path(kapp)
    nonce = stock(kapp, path)[0]
    same_file = Path(kapp.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    twin = create_app(_config(same_file))
    clients = [(kapp if i % 2 else twin).test_client() for i in range(10)]
    barrier = threading.Barrier(len(clients))

    def sync(client: FlaskClient) -> str:
        barrier.wait()
        response = client.post(f"/s{path}/queued", data={"nonce": nonce, "overall": "3"}, headers=JSON)
        assert response.status_code == 200, response.get_data(as_text=True)
        return str(response.get_json()["status"])

    with ThreadPoolExecutor(len(clients)) as pool:
        statuses = sorted(pool.map(sync, clients))
    with twin.app_context():
        db.engine.dispose()
    assert statuses == ["already"] * 9 + ["stored"]
    assert [[(a.item_id, a.code) for a in r.answers] for r in rows(kapp)] == [[("overall", 3)]]
