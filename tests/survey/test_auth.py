"""Staff sign-in: sessions that really end, timeouts, two-factor, safe redirects, password storage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask

from survey.auth import is_safe_next
from survey.extensions import db
from survey.models import Role, StaffSession, User
from survey.services.staff import passwords
from tests.survey.conftest import audit_events
from tests.survey.staff_helpers import (
    PASSWORD,
    add_staff,
    clock_of,
    code_for,
    running,
    sign_in,
    staff_app,
)

PAGE = "/auth/account"  # any page behind staff_required


@pytest.fixture
def sapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    yield from running(staff_app(migrated_db, tmp_path))


def test_anonymous_is_sent_to_sign_in_with_next(sapp: Flask) -> None:
    response = sapp.test_client().get("/manage/accounts/?x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/manage/accounts/?x%3D1"


def test_sign_in_then_sign_out_ends_the_session(sapp: Flask) -> None:
    staff = add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",))
    client = sapp.test_client()
    sign_in(client, sapp, staff)
    assert client.get(PAGE).status_code == 200
    assert client.post("/auth/logout").headers["Location"] == "/auth/login"
    assert "Đã đăng xuất." in client.get("/auth/login").get_data(as_text=True)  # said, once
    assert "Đã đăng xuất." not in client.get("/auth/login").get_data(as_text=True)
    assert client.get(PAGE).status_code == 302
    with sapp.app_context():
        row = db.session.scalar(sa.select(StaffSession))
        assert row is not None and row.revoked_at is not None
    assert [e.action for e in audit_events(app=sapp)][-2:] == ["auth.login", "auth.logout"]


def test_a_copied_cookie_dies_with_the_logout(sapp: Flask) -> None:
    staff = add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",))
    victim = sapp.test_client()
    sign_in(victim, sapp, staff)
    cookie = victim.get_cookie("session")
    assert cookie is not None
    thief = sapp.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get(PAGE).status_code == 200  # the copy works while the session lives...
    victim.post("/auth/logout")
    assert thief.get(PAGE).status_code == 302  # ...and not a moment after


def test_admin_can_revoke_every_session_of_a_user(sapp: Flask) -> None:
    staff = add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",))
    admin = add_staff(sapp, "root", Role.ADMIN, totp=True)
    phone, laptop, admin_client = sapp.test_client(), sapp.test_client(), sapp.test_client()
    sign_in(phone, sapp, staff)
    sign_in(laptop, sapp, staff)
    sign_in(admin_client, sapp, admin)
    assert admin_client.post(f"/manage/accounts/{staff.id}/revoke-sessions").status_code == 302
    assert phone.get(PAGE).status_code == 302 and laptop.get(PAGE).status_code == 302
    assert admin_client.get(PAGE).status_code == 200
    event = audit_events("user.revoke_sessions", sapp)[-1]
    assert (event.actor_id, event.object_id, event.detail) == (admin.id, str(staff.id), '{"sessions": 2}')


def test_idle_timeout_and_activity_keeps_the_session(sapp: Flask) -> None:
    staff = add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",))
    client, clock = sapp.test_client(), clock_of(sapp)
    sign_in(client, sapp, staff)
    for _ in range(4):  # 4 × 29 min = 116 min of steady work: never idle for 30 min
        clock.advance(minutes=29)
        assert client.get(PAGE).status_code == 200
    clock.advance(minutes=30, seconds=1)
    assert client.get(PAGE).status_code == 302


def test_last_seen_is_written_at_most_once_a_minute(sapp: Flask) -> None:
    staff = add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",))
    client, clock = sapp.test_client(), clock_of(sapp)
    sign_in(client, sapp, staff)
    start = clock.now

    def last_seen() -> object:
        with sapp.app_context():
            return db.session.scalar(sa.select(StaffSession.last_seen_at))

    clock.advance(seconds=59)
    client.get(PAGE)
    assert last_seen() == start
    clock.advance(seconds=2)
    client.get(PAGE)
    assert last_seen() == clock.now


def test_absolute_timeout_even_when_active(sapp: Flask) -> None:
    staff = add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",))
    client, clock = sapp.test_client(), clock_of(sapp)
    sign_in(client, sapp, staff)
    for _ in range(24):  # active every 29 min 59 s, up to 11 h 59 min 36 s after sign-in
        clock.advance(minutes=29, seconds=59)
        assert client.get(PAGE).status_code == 200
    clock.advance(minutes=1)  # 12 h 0 min 36 s: over, however active
    assert client.get(PAGE).status_code == 302


def test_deactivated_account_loses_its_session(sapp: Flask) -> None:
    staff = add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",))
    client = sapp.test_client()
    sign_in(client, sapp, staff)
    with sapp.app_context():
        db.session.get(User, staff.id).active = False
        db.session.commit()
    assert client.get(PAGE).status_code == 302
    response = client.post("/auth/login", data={"username": "mai", "password": PASSWORD})
    assert response.status_code == 200 and "/auth/" not in response.headers.get("Location", "")


def test_wrong_password_and_unknown_user_look_the_same(sapp: Flask) -> None:
    add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",))
    client = sapp.test_client()
    wrong = client.post("/auth/login", data={"username": "mai", "password": "not the password"})
    unknown = client.post("/auth/login", data={"username": "nobody", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 200
    assert "Sai tên đăng nhập hoặc mật khẩu" in wrong.get_data(as_text=True)
    same_name = wrong.get_data(as_text=True).replace('value="mai"', 'value="nobody"')
    assert same_name == unknown.get_data(as_text=True)
    failed = audit_events("auth.login_failed", sapp)
    assert len(failed) == 2 and "nobody" not in " ".join(e.detail + e.object_id for e in failed)


def test_admin_must_enrol_totp_before_any_page(sapp: Flask) -> None:
    add_staff(sapp, "root", Role.ADMIN)
    client, app = sapp.test_client(), sapp
    response = client.post("/auth/login?next=/manage/accounts/",
                           data={"username": "root", "password": PASSWORD})
    assert response.headers["Location"] == "/auth/2fa/enrol?next=/manage/accounts/"
    assert client.get("/manage/accounts/").headers["Location"].startswith("/auth/2fa/enrol")
    page = client.get("/auth/2fa/enrol").get_data(as_text=True)
    assert "<svg" in page
    with client.session_transaction() as cookie_session:
        secret = cookie_session["totp_pending_secret"]
    assert secret.replace(" ", "") in page.replace(" ", "")
    wrong = client.post("/auth/2fa/enrol", data={"code": "000000" if code_for(secret, app) != "000000"
                                                 else "111111"})
    assert wrong.status_code == 200
    response = client.post("/auth/2fa/enrol?next=/manage/accounts/", data={"code": code_for(secret, app)})
    assert response.headers["Location"] == "/manage/accounts/"
    assert client.get("/manage/accounts/").status_code == 200
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "root"))
        assert user is not None and user.totp_enabled and user.totp_secret == secret
    assert audit_events("user.totp_enable", sapp)


def test_enrolled_user_needs_the_code_after_the_password(sapp: Flask) -> None:
    staff = add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",), totp=True)
    assert staff.totp_secret is not None
    client, clock = sapp.test_client(), clock_of(sapp)
    response = client.post("/auth/login", data={"username": "mai", "password": PASSWORD})
    assert response.headers["Location"] == "/auth/2fa"
    assert client.get(PAGE).headers["Location"].startswith("/auth/2fa")  # password alone opens nothing
    stale = pyotp.TOTP(staff.totp_secret).at(clock.now, counter_offset=-3)  # 90 s old
    assert client.post("/auth/2fa", data={"code": stale}).status_code == 200
    previous_step = pyotp.TOTP(staff.totp_secret).at(clock.now, counter_offset=-1)  # valid_window=1
    spaced = previous_step[:3] + " " + previous_step[3:]
    assert client.post("/auth/2fa", data={"code": spaced}).status_code == 302
    assert client.get(PAGE).status_code == 200
    assert [e.action for e in audit_events(app=sapp) if e.action.startswith("auth.second")] == [
        "auth.second_factor_failed", "auth.second_factor"]


def test_admin_totp_can_be_switched_off_for_a_demo(migrated_db: Path, tmp_path: Path) -> None:
    app = staff_app(migrated_db, tmp_path, REQUIRE_ADMIN_TOTP=False)
    admin = add_staff(app, "root", Role.ADMIN)
    client = app.test_client()
    sign_in(client, app, admin)
    assert client.get("/manage/accounts/").status_code == 200


@pytest.mark.parametrize(("target", "safe"), [
    ("/manage/units/3?tab=a", True), ("/", True), ("//evil.example/x", False),
    ("/\\evil.example", False), ("https://evil.example/", False), ("javascript:alert(1)", False),
    ("/manage/\r\nSet-Cookie:x", False), ("", False), (None, False), ("manage", False)])
def test_safe_next(target: str | None, safe: bool) -> None:
    assert is_safe_next(target) is safe


def test_unsafe_next_is_ignored_after_sign_in(sapp: Flask) -> None:
    add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",))
    response = sapp.test_client().post("/auth/login?next=//evil.example/",
                                       data={"username": "mai", "password": PASSWORD})
    assert response.status_code == 302 and "evil" not in response.headers["Location"]


def test_password_is_argon2id_and_rehashed_when_the_cost_rises(migrated_db: Path, tmp_path: Path) -> None:
    app = staff_app(migrated_db, tmp_path)
    staff = add_staff(app, "mai", Role.MANAGER, ("HL-AB",))
    with app.app_context():
        old = db.session.get(User, staff.id).password_hash
    assert old.startswith("$argon2id$") and "m=1024,t=1" in old and PASSWORD not in old
    app.config["ARGON2_TIME_COST"] = 2
    sign_in(app.test_client(), app, staff)
    with app.app_context():
        new = db.session.get(User, staff.id).password_hash
    assert new != old and "m=1024,t=2" in new
    assert passwords.verify_password(app.config, new, PASSWORD).ok


def test_change_password_keeps_this_session_and_ends_the_others(sapp: Flask) -> None:
    staff = add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",))
    here, elsewhere = sapp.test_client(), sapp.test_client()
    sign_in(here, sapp, staff)
    sign_in(elsewhere, sapp, staff)
    new = "a much longer passphrase"
    refused = here.post("/auth/password", data={"current": "wrong one!!", "new": new, "confirm": new})
    assert refused.status_code == 200
    short = here.post("/auth/password", data={"current": PASSWORD, "new": "short", "confirm": "short"})
    assert short.status_code == 200
    done = here.post("/auth/password", data={"current": PASSWORD, "new": new, "confirm": new})
    assert done.status_code == 302
    assert here.get(PAGE).status_code == 200 and elsewhere.get(PAGE).status_code == 302
    here.post("/auth/logout")
    sign_in(here, sapp, staff, password=new)
    assert [e.action for e in audit_events(app=sapp) if e.action.startswith("user.password")] == [
        "user.password_change_failed", "user.password_change"]


def test_logout_needs_post(sapp: Flask) -> None:
    assert sapp.test_client().get("/auth/logout").status_code == 405


def test_a_cookie_copied_before_the_code_never_gets_the_full_session(sapp: Flask) -> None:
    staff = add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",), totp=True)
    assert staff.totp_secret is not None
    victim = sapp.test_client()
    victim.post("/auth/login", data={"username": "mai", "password": PASSWORD})
    cookie = victim.get_cookie("session")
    assert cookie is not None
    thief = sapp.test_client()
    thief.set_cookie("session", cookie.value)
    assert victim.post("/auth/2fa", data={"code": code_for(staff.totp_secret, sapp)}).status_code == 302
    assert victim.get(PAGE).status_code == 200
    assert thief.get(PAGE).headers["Location"].startswith("/auth/login")  # the half session was retired


def test_guessing_the_current_password_from_a_session_is_limited(migrated_db: Path, tmp_path: Path) -> None:
    app = staff_app(migrated_db, tmp_path, LOGIN_LIMIT_PER_ACCOUNT="2 per 1 hour")
    staff = add_staff(app, "mai", Role.MANAGER, ("HL-AB",))
    client = app.test_client()
    sign_in(client, app, staff)
    guess = {"current": "guess number one", "new": "a much longer passphrase",
             "confirm": "a much longer passphrase"}
    assert [client.post("/auth/password", data=guess).status_code for _ in range(3)] == [200, 200, 429]


def test_a_totp_code_is_accepted_only_once(sapp: Flask) -> None:
    staff = add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",), totp=True)
    assert staff.totp_secret is not None
    client, clock = sapp.test_client(), clock_of(sapp)
    code = code_for(staff.totp_secret, sapp)
    client.post("/auth/login", data={"username": "mai", "password": PASSWORD})
    assert client.post("/auth/2fa", data={"code": code}).status_code == 302
    client.post("/auth/logout")
    clock.advance(seconds=5)  # still inside the code's validity window
    client.post("/auth/login", data={"username": "mai", "password": PASSWORD})
    assert client.post("/auth/2fa", data={"code": code}).status_code == 200  # replay refused
    # An older step than the one used is refused too, even though valid_window would allow it.
    older = pyotp.TOTP(staff.totp_secret).at(clock.now, counter_offset=-1)
    assert client.post("/auth/2fa", data={"code": older}).status_code == 200
    clock.advance(seconds=30)
    assert client.post("/auth/2fa", data={"code": code_for(staff.totp_secret, sapp)}).status_code == 302
