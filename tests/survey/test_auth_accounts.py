"""The admin's account pages: every action works, ends the right sessions, and is audited."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from survey.extensions import db
from survey.models import Role, User
from tests.survey.conftest import audit_events, unit_id
from tests.survey.staff_helpers import (
    PASSWORD,
    Staff,
    add_staff,
    running,
    sign_in,
    staff_app,
)


@pytest.fixture
def sapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    yield from running(staff_app(migrated_db, tmp_path))


@pytest.fixture
def admin(sapp: Flask) -> tuple[FlaskClient, Staff]:
    staff = add_staff(sapp, "root", Role.ADMIN, totp=True)
    client = sapp.test_client()
    sign_in(client, sapp, staff)
    return client, staff


def _one_time_password(html: str) -> str:
    found = re.search(r'<code class="one-time">([^<]+)</code>', html)
    assert found is not None, html
    return found.group(1)


def test_list_shows_roles_and_scopes(sapp: Flask, admin: tuple[FlaskClient, Staff]) -> None:
    add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",))
    client, _ = admin
    page = client.get("/manage/accounts/").get_data(as_text=True)
    assert "mai" in page and "HL-AB" in page and "root" in page


def test_create_shows_the_password_once_and_audits(sapp: Flask, admin: tuple[FlaskClient, Staff]) -> None:
    client, boss = admin
    response = client.post("/manage/accounts/new", data={
        "username": " Lan.Tran ", "display_name": "Trần Thị Lan", "role": "researcher",
        "units": [str(unit_id("HL-HL", sapp))]})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = _one_time_password(response.get_data(as_text=True))
    lan = Staff(0, "lan.tran", None)
    sign_in(sapp.test_client(), sapp, lan, password=password)
    event = audit_events("user.create", sapp)[-1]
    assert event.actor_id == boss.id and password not in event.detail
    assert json.loads(event.detail) == {"role": "researcher", "scopes": [unit_id("HL-HL", sapp)]}


def test_create_refuses_a_manager_without_units_and_a_taken_name(
        sapp: Flask, admin: tuple[FlaskClient, Staff]) -> None:
    client, _ = admin
    no_scope = client.post("/manage/accounts/new", data={"username": "lan", "role": "manager"})
    assert no_scope.status_code == 200 and 'class="one-time"' not in no_scope.get_data(as_text=True)
    taken = client.post("/manage/accounts/new", data={"username": "ROOT", "role": "admin"})
    assert 'class="one-time"' not in taken.get_data(as_text=True)
    assert len(audit_events("user.create", sapp)) == 1  # root's own, made by the fixture


def test_changing_scopes_ends_that_users_sessions(sapp: Flask, admin: tuple[FlaskClient, Staff]) -> None:
    client, _ = admin
    mai = add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",))
    mai_client = sapp.test_client()
    sign_in(mai_client, sapp, mai)
    form = client.get(f"/manage/accounts/{mai.id}").get_data(as_text=True)
    assert re.findall(r'<option selected value="(\d+)"', form) == [str(unit_id("HL-AB", sapp))]
    response = client.post(f"/manage/accounts/{mai.id}", data={
        "role": "manager", "units": [str(unit_id("HL-HL", sapp))], "display_name": "Mai"})
    assert response.status_code == 302
    assert mai_client.get("/auth/account").status_code == 302
    detail = json.loads(audit_events("user.set_role", sapp)[-1].detail)
    assert detail["before"]["scopes"] == [unit_id("HL-AB", sapp)]
    assert detail["after"]["scopes"] == [unit_id("HL-HL", sapp)]


def test_deactivate_and_reactivate(sapp: Flask, admin: tuple[FlaskClient, Staff]) -> None:
    client, boss = admin
    mai = add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",))
    mai_client = sapp.test_client()
    sign_in(mai_client, sapp, mai)
    assert client.post(f"/manage/accounts/{mai.id}/active").status_code == 302
    assert mai_client.get("/auth/account").status_code == 302
    assert mai_client.post("/auth/login", data={"username": "mai", "password": PASSWORD}).status_code == 200
    client.post(f"/manage/accounts/{mai.id}/active")
    sign_in(mai_client, sapp, mai)
    client.post(f"/manage/accounts/{boss.id}/active")  # refused: would lock the admin out
    with sapp.app_context():
        assert db.session.get(User, boss.id).active  # type: ignore[union-attr]
    assert [e.action for e in audit_events(app=sapp) if e.action.startswith("user.")
            and e.action != "user.create"] == ["user.deactivate", "user.activate"]


def test_reset_password_and_two_factor(sapp: Flask, admin: tuple[FlaskClient, Staff]) -> None:
    client, _ = admin
    mai = add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",), totp=True)
    response = client.post(f"/manage/accounts/{mai.id}/reset-password")
    password = _one_time_password(response.get_data(as_text=True))
    sign_in(sapp.test_client(), sapp, mai, password=password)
    assert client.post(f"/manage/accounts/{mai.id}/reset-2fa").status_code == 302
    with sapp.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "mai"))
        assert user is not None and not user.totp_enabled and user.totp_secret is None
    fresh = sapp.test_client()
    after = fresh.post("/auth/login", data={"username": "mai", "password": password})
    assert after.status_code == 302 and after.headers["Location"] == "/manage/"  # manager: no 2FA forced
    assert {"user.reset_password", "user.totp_reset"} <= {e.action for e in audit_events(app=sapp)}


def test_unknown_account_id_is_404(admin: tuple[FlaskClient, Staff]) -> None:
    client, _ = admin
    assert client.get("/manage/accounts/99999").status_code == 404
    assert client.post("/manage/accounts/99999/reset-password").status_code == 404


def test_an_admin_cannot_change_their_own_role(sapp: Flask, admin: tuple[FlaskClient, Staff]) -> None:
    client, boss = admin
    response = client.post(f"/manage/accounts/{boss.id}", data={
        "role": "manager", "units": [str(unit_id("HL", sapp))]})
    assert response.status_code == 200
    with sapp.app_context():
        assert db.session.get(User, boss.id).role == Role.ADMIN  # type: ignore[union-attr]
    assert client.get("/manage/accounts/").status_code == 200
