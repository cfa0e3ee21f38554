"""An admin lifts a sign-in lockout (an office network over its limit, or one user name); audited,
without the address in the log; nobody else may."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from survey.models import Role
from tests.survey.conftest import audit_events
from tests.survey.staff_helpers import PASSWORD, add_staff, running, signed_in, staff_app


@pytest.fixture
def locked(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    # Windows long enough that only lifting, never waiting, can end the lockout within the test.
    app = staff_app(migrated_db, tmp_path, LOGIN_LIMIT_PER_ADDRESS="3 per 10 minutes",
                    LOGIN_LIMIT_PER_ACCOUNT="2 per 10 minutes")
    add_staff(app, "mai", Role.MANAGER, ("HL-AB",))
    yield from running(app)


def _attempt(client: FlaskClient, username: str, password: str, address: str) -> int:
    return client.post("/auth/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address}).status_code


def test_an_admin_lifts_an_office_networks_lockout(locked: Flask) -> None:
    office = locked.test_client()
    assert [_attempt(office, f"guess{i}", "wrong", "203.0.113.7") for i in range(4)] == [200, 200, 200, 429]
    assert _attempt(office, "mai", PASSWORD, "203.0.113.50") == 429  # the whole /24 waits

    manager = signed_in(locked, "tinh", Role.MANAGER, ("HL",))
    assert manager.get("/manage/accounts/lockouts").status_code == 403
    admin = signed_in(locked, "root", Role.ADMIN, totp=True)
    bad = admin.post("/manage/accounts/lockouts?lang=en", data={"address": "203.0.113", "reason": "x"})
    assert bad.status_code == 422 and "Not an IP address" in bad.get_data(as_text=True)
    no_reason = admin.post("/manage/accounts/lockouts?lang=vi", data={"address": "203.0.113.9"})
    assert no_reason.status_code == 422 and "Ghi lý do" in no_reason.get_data(as_text=True)
    assert _attempt(office, "mai", PASSWORD, "203.0.113.50") == 429  # refused forms lifted nothing

    lifted = admin.post("/manage/accounts/lockouts?lang=en", data={"address": "203.0.113.9",
                                                                   "reason": "văn phòng dùng chung NAT"})
    assert lifted.status_code == 302
    assert "Lockout lifted" in admin.get("/manage/accounts/lockouts?lang=en").get_data(as_text=True)
    assert _attempt(office, "mai", PASSWORD, "203.0.113.50") == 302
    [event] = audit_events("auth.unlock", locked)
    assert '"locked": 1' in event.detail and "văn phòng dùng chung NAT" in event.detail
    assert "203.0.113" not in event.detail  # no IP address in the audit log
    viewer = admin.get("/manage/audit/?action=auth.unlock&lang=en").get_data(as_text=True)
    assert "sign-in lockout lifted" in viewer


def test_an_admin_lifts_one_accounts_lockout(locked: Flask) -> None:
    client = locked.test_client()
    assert [_attempt(client, "mai", "wrong", f"198.51.100.{i}") for i in (1, 2, 3)] == [200, 200, 429]
    assert _attempt(client, "mai", PASSWORD, "192.0.2.1") == 429  # per account, from anywhere
    admin = signed_in(locked, "root", Role.ADMIN, totp=True)
    nothing = admin.post("/manage/accounts/lockouts?lang=en",
                         data={"username": "someone-else", "reason": "r"})
    assert nothing.status_code == 302
    assert "nothing to lift" in admin.get("/manage/accounts/lockouts?lang=en").get_data(as_text=True)
    assert _attempt(client, "mai", PASSWORD, "192.0.2.1") == 429
    admin.post("/manage/accounts/lockouts", data={"username": "Mai", "reason": "quên mật khẩu"})
    assert _attempt(client, "mai", PASSWORD, "192.0.2.1") == 302
    assert [e.object_type for e in audit_events("auth.unlock", locked)] == ["", "user"]
