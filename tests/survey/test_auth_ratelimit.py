"""Repeated wrong passwords: 429 E-RATE with Retry-After, per account and per address, never a
permanent lock-out, and no raw IP address kept anywhere (docs/bad-input.md rows 26 and 32)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from survey.extensions import db
from survey.models import Role
from survey.ratelimit import ip_prefix, keyed
from tests.survey.staff_helpers import PASSWORD, add_staff, staff_app

WINDOW_SECONDS = 2  # the only real waiting in these tests: Flask-Limiter's storage reads time.time()


@pytest.fixture
def limited(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    app = staff_app(migrated_db, tmp_path,
                    LOGIN_LIMIT_PER_ACCOUNT=f"3 per {WINDOW_SECONDS} seconds",
                    LOGIN_LIMIT_PER_ADDRESS=f"5 per {WINDOW_SECONDS} seconds")
    add_staff(app, "mai", Role.MANAGER, ("HL-AB",))
    yield app
    with app.app_context():
        db.engine.dispose()


def _attempt(client: FlaskClient, username: str, password: str, address: str = "203.0.113.7",
             **headers: str) -> int:
    response = client.post("/auth/login", data={"username": username, "password": password},
                           environ_base={"REMOTE_ADDR": address}, headers=headers)
    if response.status_code == 429:
        body = response.get_data(as_text=True)
        assert "E-RATE" in body
        retry_after = int(response.headers["Retry-After"])
        assert 1 <= retry_after <= WINDOW_SECONDS + 1
    return response.status_code


def test_wrong_passwords_for_one_account_get_429_then_work_again(limited: Flask) -> None:
    client = limited.test_client()
    assert [_attempt(client, "mai", "wrong password!") for _ in range(4)] == [200, 200, 200, 429]
    # Even the right password waits: otherwise the limit would tell a guesser when they hit it.
    assert _attempt(client, "mai", PASSWORD) == 429
    time.sleep(WINDOW_SECONDS + 0.2)
    assert _attempt(client, "mai", PASSWORD) == 302  # no permanent lock-out


def test_successful_sign_ins_do_not_count(limited: Flask) -> None:
    client = limited.test_client()
    for _ in range(6):
        assert _attempt(client, "mai", PASSWORD) == 302
        client.post("/auth/logout")


def test_one_address_trying_many_accounts_is_held_by_its_prefix(limited: Flask) -> None:
    client = limited.test_client()
    statuses = [_attempt(client, f"user{i}", "wrong password!", address=f"203.0.113.{i + 1}")
                for i in range(6)]
    assert statuses == [200] * 5 + [429]  # different hosts of one /24 share the allowance
    assert _attempt(client, "other", "wrong password!", address="198.51.100.7") == 200
    # A spoofed X-Forwarded-For does not buy a fresh allowance (row 32).
    assert _attempt(client, "again", "wrong password!", address="203.0.113.9",
                    **{"X-Forwarded-For": "192.0.2.55"}) == 429


def test_behind_one_trusted_proxy_each_client_has_its_own_allowance(migrated_db: Path,
                                                                    tmp_path: Path) -> None:
    # PROXY_HOPS = 1: the proxy's address (REMOTE_ADDR) is replaced by the last X-Forwarded-For entry,
    # the one the proxy appended. Without it every client would share the proxy's allowance.
    app = staff_app(migrated_db, tmp_path, PROXY_HOPS=1,
                    LOGIN_LIMIT_PER_ACCOUNT=f"100 per {WINDOW_SECONDS} seconds",
                    LOGIN_LIMIT_PER_ADDRESS=f"3 per {WINDOW_SECONDS} seconds")
    client = app.test_client()
    proxy = "10.0.0.2"

    def via_proxy(forwarded_for: str, username: str) -> int:
        return _attempt(client, username, "wrong password!", address=proxy,
                        **{"X-Forwarded-For": forwarded_for})

    assert [via_proxy("203.0.113.7", f"a{i}") for i in range(4)] == [200, 200, 200, 429]
    assert via_proxy("198.51.100.7", "b") == 200  # another client behind the same proxy
    # A client that forges its own X-Forwarded-For entry still gets the one the proxy appended.
    assert via_proxy("192.0.2.99, 203.0.113.7", "c") == 429
    with app.app_context():
        db.engine.dispose()


def test_429_keeps_security_headers_and_json_for_api_clients(limited: Flask) -> None:
    client = limited.test_client()
    for _ in range(3):
        _attempt(client, "mai", "wrong password!")
    response = client.post("/auth/login", data={"username": "mai", "password": "x"},
                           environ_base={"REMOTE_ADDR": "203.0.113.7"},
                           headers={"Accept": "application/json"})
    assert response.status_code == 429 and response.json is not None
    assert response.json["error"]["code"] == "E-RATE"
    assert "Retry-After" in response.headers and "Content-Security-Policy" in response.headers


def test_prefixes_and_keys() -> None:
    assert ip_prefix("203.0.113.77") == "203.0.113.0/24"
    assert ip_prefix("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert ip_prefix("::ffff:203.0.113.77") == "203.0.113.0/24"
    assert ip_prefix("not an address") == ip_prefix(None) == "unknown"
    today = keyed("address", "203.0.113.0/24", secret="s", day="2026-11-23")
    assert today != keyed("address", "203.0.113.0/24", secret="s", day="2026-11-24")
    assert "203" not in today and len(today) == 32


def test_no_raw_ip_in_database_or_logs(limited: Flask, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = limited.test_client()
    for _ in range(5):
        _attempt(client, "mai", "wrong password!", address="203.0.113.77")
    _attempt(client, "mai", PASSWORD, address="203.0.113.77")
    assert "203.0.113" not in caplog.text
    with limited.app_context():
        db.session.commit()
        dumped = "\n".join(db.session.connection().connection.driver_connection.iterdump())
        tables = db.session.execute(sa.text("SELECT name FROM sqlite_master WHERE type='table'")).all()
    assert len(tables) > 5
    assert "203.0.113" not in dumped and "203-0-113" not in dumped
