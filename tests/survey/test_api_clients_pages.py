"""The admin's API-client pages: a token issued on the page works on /api/v1/frames, is shown once and
stored only as its hash; revoking asks first, then the token is refused; both are audited."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from survey.extensions import db
from survey.models import ApiClient, AuditEvent, Role
from tests.survey.conftest import audit_events, unit_id
from tests.survey.staff_helpers import running, signed_in, staff_app

BODY = {"period": "2026-03", "counts": [{"unit_code": "HL-AB-1", "served": 120}]}
TOKEN = re.compile(r'<code class="one-time">(hl_[A-Za-z0-9_-]{43})</code>')


@pytest.fixture
def capp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    yield from running(staff_app(migrated_db, tmp_path))


@pytest.fixture
def admin(capp: Flask) -> FlaskClient:
    return signed_in(capp, "root", Role.ADMIN, totp=True)


def _post_frames(client: FlaskClient, token: str) -> int:
    return client.post("/api/v1/frames", json=BODY, headers={"Authorization": f"Bearer {token}"}).status_code


def _issue(admin: FlaskClient, app: Flask, name: str = "Cổng DVC An Bình", unit: str = "HL-AB") -> str:
    response = admin.post("/manage/api-clients/", data={"name": name, "unit": str(unit_id(unit, app))})
    assert response.status_code == 200, response.get_data(as_text=True)[-800:]
    assert response.headers["Cache-Control"] == "no-store"
    found = TOKEN.search(response.get_data(as_text=True))
    assert found is not None
    return found.group(1)


def test_a_token_issued_on_the_page_works_is_shown_once_and_stored_as_a_hash(capp: Flask,
                                                                              admin: FlaskClient) -> None:
    token = _issue(admin, capp)
    assert _post_frames(capp.test_client(), token) == 201
    listing = admin.get("/manage/api-clients/").get_data(as_text=True)
    assert "Cổng DVC An Bình" in listing and "Phường An Bình" in listing
    assert token not in listing and token[3:15] not in listing  # never shown again
    with capp.app_context():
        client = db.session.scalars(sa.select(ApiClient)).one()
        assert client.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert client.last_used_at is not None
        stored = json.dumps([e.detail for e in db.session.scalars(sa.select(AuditEvent))])
        assert token not in stored and token[3:15] not in stored
    [created] = audit_events("api_client.create", capp)
    assert created.actor_id is not None and created.unit_id == unit_id("HL-AB", capp)
    assert json.loads(created.detail) == {"name": "Cổng DVC An Bình"}


def test_revoking_asks_first_then_the_token_is_refused(capp: Flask, admin: FlaskClient) -> None:
    token = _issue(admin, capp)
    with capp.app_context():
        client_id = db.session.scalars(sa.select(ApiClient.id)).one()
    confirm = admin.get(f"/manage/api-clients/{client_id}/revoke")
    assert confirm.status_code == 200
    page = confirm.get_data(as_text=True)
    assert "Thu hồi “Cổng DVC An Bình”?" in page and "Có, thu hồi mã truy cập" in page
    assert _post_frames(capp.test_client(), token) == 201  # looking at the question revokes nothing
    assert audit_events("api_client.revoke", capp) == []

    done = admin.post(f"/manage/api-clients/{client_id}/revoke")
    assert done.status_code == 302 and done.headers["Location"].endswith("/manage/api-clients/")
    assert _post_frames(capp.test_client(), token) == 401
    assert "đã thu hồi" in admin.get("/manage/api-clients/").get_data(as_text=True)
    [revoked] = audit_events("api_client.revoke", capp)
    assert revoked.object_id == str(client_id) and revoked.actor_id is not None
    # Again: nothing more happens, and it is said.
    assert admin.post(f"/manage/api-clients/{client_id}/revoke").status_code == 302
    assert len(audit_events("api_client.revoke", capp)) == 1


def test_a_missing_name_is_a_422_in_vietnamese_and_issues_nothing(capp: Flask, admin: FlaskClient) -> None:
    response = admin.post("/manage/api-clients/", data={"name": "   ", "unit": str(unit_id("HL-AB", capp))})
    assert response.status_code == 422
    assert "Hãy ghi tên hệ thống sẽ dùng mã truy cập này." in response.get_data(as_text=True)
    assert TOKEN.search(response.get_data(as_text=True)) is None
    with capp.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiClient)) == 0


def test_an_unknown_unit_or_client_is_a_404(capp: Flask, admin: FlaskClient) -> None:
    assert admin.post("/manage/api-clients/", data={"name": "x", "unit": "999999"}).status_code == 404
    assert admin.get("/manage/api-clients/999999/revoke").status_code == 404
    with capp.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiClient)) == 0


def test_a_manager_cannot_issue_tokens(capp: Flask) -> None:
    manager = signed_in(capp, "ab", Role.MANAGER, ("HL-AB",))
    response = manager.post("/manage/api-clients/", data={"name": "x", "unit": str(unit_id("HL-AB", capp))})
    assert response.status_code == 403
    with capp.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiClient)) == 0
    assert "/manage/api-clients/" not in manager.get("/manage/").get_data(as_text=True)  # not in the menu
