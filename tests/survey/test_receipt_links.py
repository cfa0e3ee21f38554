"""Per-dossier survey links minted through the API (survey/services/citizens/receipt_links.py): one
link per dossier, single use, expiring, bound to its counter; the response is marked receipt-verified."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from survey.extensions import db
from survey.models import Counter, Response, SpentReceipt
from survey.services.staff.api_clients import create_client
from tests.survey.staff_helpers import Clock, clock_of
from tests.survey.survey_helpers import (
    VALID,
    Served,
    checked,
    error_code_in,
    hidden_fields,
    serve_kitchen_sink,
)
from tests.survey.test_qr import decode_png

RECEIPT = "000.00.12.H12-241204-0001"
START = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def _served(migrated_db: Path, tmp_path: Path, **config: Any) -> tuple[Served, str]:
    served = serve_kitchen_sink(migrated_db, tmp_path, CLOCK=Clock(START), RECEIPT_KEYS={"2026": "k" * 64},
                                **config)
    with served.app.app_context():
        _client, token = create_client(db.session, "Một cửa điện tử", "HL-AB", actor=None, now=START)
        db.session.commit()
    return served, token


def _mint(served: Served, token: str, counter: str = "HL-AB-1/Q1", receipt: str = RECEIPT,
          body: Any = None) -> Any:
    return served.client.post("/api/v1/receipt-links", json=body or {"counter": counter, "receipt": receipt},
                              headers={"Authorization": f"Bearer {token}"})


def _path(minted: Any) -> str:
    return str(minted.get_json()["url"]).removeprefix("http://localhost")


def _open(client: FlaskClient, path: str) -> tuple[Any, str]:
    """Open the slip's link; return the redirect and the form page it leads to."""
    opened = client.get(path)
    assert opened.status_code == 303, opened.get_data(as_text=True)[:300]
    return opened, client.get(opened.headers["Location"]).get_data(as_text=True)


def _answer(client: FlaskClient, form_page: str, form_url: str) -> Any:
    action = re.search(r'<form method="post" action="([^"]+)"', form_page)
    assert action is not None
    return client.post(action.group(1).replace("&amp;", "&"), data={**hidden_fields(form_page), **VALID})


def _verified(served: Served) -> list[bool]:
    with served.app.app_context():
        return list(db.session.scalars(sa.select(Response.receipt_verified).order_by(Response.id)))


def test_mint_returns_the_url_its_expiry_and_the_qr_code(migrated_db: Path, tmp_path: Path) -> None:
    served, token = _served(migrated_db, tmp_path)
    minted = _mint(served, token)
    body = minted.get_json()
    assert minted.status_code == 201, body
    assert body["url"].startswith("http://localhost/r/") and RECEIPT not in body["url"]
    assert "0000012H122412040001" not in body["url"]
    assert datetime.fromisoformat(body["expires_at"]) == START + timedelta(days=30)
    assert body["qr_svg"].startswith("<svg") and body["counter"] == "HL-AB-1/Q1"
    png = base64.b64decode(body["qr_png"])
    assert png.startswith(b"\x89PNG")
    (tmp_path / "slip.png").write_bytes(png)
    assert decode_png(tmp_path / "slip.png") == body["url"]


def test_the_link_opens_its_counters_form_and_marks_the_response(migrated_db: Path, tmp_path: Path) -> None:
    served, token = _served(migrated_db, tmp_path, RECEIPT_COUNTERS=["HL-AB"])
    path = _path(_mint(served, token))
    citizen = served.app.test_client()
    opened, page = _open(citizen, path)
    assert opened.headers["Location"].startswith(served.url())  # the counter the link was minted for
    assert 'name="receipt"' not in page  # the link stands for the receipt number: nothing to type
    assert _answer(citizen, page, opened.headers["Location"]).status_code == 303
    assert _verified(served) == [True]
    # Used: the link says so before anyone answers again, in this browser or another.
    for browser in (citizen, served.app.test_client()):
        again = browser.get(path)
        assert again.status_code == 409 and "E-RECEIPT-USED" in again.get_data(as_text=True)
    # The browser's next form at the counter is an ordinary one again (it asks for a number).
    assert 'name="receipt"' in citizen.get(served.url() + "?new=1").get_data(as_text=True)


def test_the_link_is_single_use_across_browsers(migrated_db: Path, tmp_path: Path) -> None:
    served, token = _served(migrated_db, tmp_path)
    path = _path(_mint(served, token))
    first, second = served.app.test_client(), served.app.test_client()
    opened_first, page_first = _open(first, path)
    opened_second, page_second = _open(second, path)  # both opened before either answered
    assert _answer(first, page_first, opened_first.headers["Location"]).status_code == 303
    refused = _answer(second, page_second, opened_second.headers["Location"])
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409 and error_code_in(html) == {"E-RECEIPT-USED"}
    assert checked(html, "q_access", "4") and "Cán bộ nhiệt tình." in html  # the answers stay on the page
    assert _verified(served) == [True]


def test_a_dossier_gets_one_link_and_its_number_cannot_be_typed_too(migrated_db: Path,
                                                                     tmp_path: Path) -> None:
    served, token = _served(migrated_db, tmp_path, RECEIPT_COUNTERS=["HL-AB-1/KIOSK"])
    assert _mint(served, token).status_code == 201
    again = _mint(served, token, receipt="00000 12h12 2412040001")  # the same number, written otherwise
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "E-RECEIPT-USED"
    typed = served.client.post(served.url("HL-AB-1/KIOSK"),
                               data={**served.open_form(served.url("HL-AB-1/KIOSK")), **VALID,
                                     "receipt": RECEIPT})
    assert typed.status_code == 409
    with served.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SpentReceipt)) == 1


def test_the_link_expires(migrated_db: Path, tmp_path: Path) -> None:
    served, token = _served(migrated_db, tmp_path)
    path = _path(_mint(served, token))
    clock_of(served.app).advance(days=29, hours=23)
    assert served.app.test_client().get(path).status_code == 303
    clock_of(served.app).advance(hours=1)
    expired = served.app.test_client().get(path)
    assert expired.status_code == 410 and "E-RECEIPT-LINK-EXPIRED" in expired.get_data(as_text=True)


def test_a_form_opened_just_before_expiry_is_still_verified(migrated_db: Path, tmp_path: Path) -> None:
    served, token = _served(migrated_db, tmp_path)
    path = _path(_mint(served, token))
    clock_of(served.app).advance(days=29, hours=23, minutes=59)
    citizen = served.app.test_client()
    opened, page = _open(citizen, path)
    clock_of(served.app).advance(minutes=5)  # sent after the link expired, within the form's lifetime
    assert _answer(citizen, page, opened.headers["Location"]).status_code == 303
    assert _verified(served) == [True]


def test_the_link_is_bound_to_its_counter(migrated_db: Path, tmp_path: Path) -> None:
    served, token = _served(migrated_db, tmp_path)
    path = _path(_mint(served, token))
    citizen = served.app.test_client()
    opened, page = _open(citizen, path)
    # The same browser answers at another counter first: an ordinary response, the link unspent.
    elsewhere = served.url("HL-AB-1/KIOSK")
    other_page = citizen.get(elsewhere + "?new=1").get_data(as_text=True)
    assert citizen.post(elsewhere, data={**hidden_fields(other_page), **VALID}).status_code == 303
    assert _answer(citizen, page, opened.headers["Location"]).status_code == 303
    assert _verified(served) == [False, True]


@pytest.mark.parametrize("tamper", [lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),
                                    lambda t: "x" * 300, lambda t: "abc"])
def test_a_forged_link_is_not_found(migrated_db: Path, tmp_path: Path, tamper: Any) -> None:
    served, token = _served(migrated_db, tmp_path)
    path = _path(_mint(served, token))
    forged = served.client.get("/r/" + tamper(path.removeprefix("/r/")))
    assert forged.status_code == 404 and "E-RECEIPT-LINK" in forged.get_data(as_text=True)


def test_the_api_refuses_what_it_cannot_serve(migrated_db: Path, tmp_path: Path) -> None:
    served, token = _served(migrated_db, tmp_path)

    def code(response: Any) -> tuple[int, str]:
        return response.status_code, response.get_json()["error"]["code"]

    assert code(_mint(served, "hl_wrong")) == (401, "E-AUTH")
    assert code(_mint(served, token, counter="HL-HL-1/Q1")) == (404, "E-NOT-FOUND")  # outside the subtree
    assert code(_mint(served, token, counter="HL-AB-1/NOPE")) == (404, "E-NOT-FOUND")
    assert code(_mint(served, token, receipt="12-34")) == (422, "E-RECEIPT-FORMAT")
    assert code(_mint(served, token, body={"counter": "HL-AB-1/Q1"})) == (400, "E-SCHEMA")
    number = {"counter": "HL-AB-1/Q1", "receipt": 12345678}
    assert code(_mint(served, token, body=number)) == (400, "E-SCHEMA")
    text = served.client.post("/api/v1/receipt-links", data="counter=HL-AB-1/Q1",
                              headers={"Authorization": f"Bearer {token}"})
    assert code(text) == (415, "E-CONTENT-TYPE")
    with served.app.app_context():
        counter = db.session.get(Counter, served.counters["HL-AB-1/Q1"])
        assert counter is not None
        counter.active = False
        db.session.commit()
    assert code(_mint(served, token)) == (410, "E-COUNTER-REVOKED")
    with served.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SpentReceipt)) == 0  # nothing spent
