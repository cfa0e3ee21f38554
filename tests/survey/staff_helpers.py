"""Helpers for the staff sign-in and access tests: a movable clock, accounts, sign-in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
from flask import Flask
from flask.testing import FlaskClient

from survey.extensions import db
from survey.models import Role
from survey.services.staff import accounts
from tests.survey.conftest import make_app

# Hashing at production cost would make every test slow; parameters are config, so tests use the
# minimum and one test proves that raising them rehashes on sign-in.
CHEAP_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1}
PASSWORD = "correct horse battery"


class Clock:
    """`app.config["CLOCK"]`: tests move time instead of sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass(frozen=True)
class Staff:
    id: int
    username: str
    totp_secret: str | None


def staff_app(migrated_db: Path, tmp_path: Path, **overrides: Any) -> Flask:
    config: dict[str, Any] = {**CHEAP_ARGON2, "CLOCK": Clock()}
    config.update(overrides)
    app = make_app(migrated_db, tmp_path, **config)
    with app.app_context():
        from survey.demo.tree import seed_demo

        seed_demo(db.session)
        db.session.commit()
    return app


def running(app: Flask) -> Iterator[Flask]:
    """Body of a fixture: yield the app, then close its connections."""
    yield app
    with app.app_context():
        db.engine.dispose()


def clock_of(app: Flask) -> Clock:
    clock = app.config["CLOCK"]
    assert isinstance(clock, Clock)
    return clock


def add_staff(app: Flask, username: str, role: Role, units: tuple[str, ...] = (), *,
              totp: bool = False, password: str = PASSWORD) -> Staff:
    with app.app_context():
        unit_ids = [u.id for u in accounts.units_by_code(db.session, units)]
        created = accounts.create_user(db.session, app.config, actor=None, username=username, role=role,
                                       unit_ids=unit_ids, password=password, now=datetime.now(UTC))
        secret = None
        if totp:
            secret = pyotp.random_base32()
            created.user.totp_secret = secret
            created.user.totp_enabled = True
        db.session.commit()
        return Staff(created.user.id, username, secret)


def code_for(secret: str, app: Flask) -> str:
    return pyotp.TOTP(secret).at(clock_of(app).now)


def sign_in(client: FlaskClient, app: Flask, staff: Staff, password: str = PASSWORD) -> None:
    """Sign in through the real pages (password, then the TOTP code when enrolled)."""
    response = client.post("/auth/login", data={"username": staff.username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    if staff.totp_secret is not None:
        assert "/auth/2fa" in response.headers["Location"]
        response = client.post("/auth/2fa", data={"code": code_for(staff.totp_secret, app)})
        assert response.status_code == 302, response.get_data(as_text=True)[-1500:]


def signed_in(app: Flask, username: str, role: Role, units: tuple[str, ...] = (), *,
              totp: bool = False) -> FlaskClient:
    """A client signed in through the real pages as a new account with this role and scope."""
    staff = add_staff(app, username, role, units, totp=totp)
    client = app.test_client()
    sign_in(client, app, staff)
    return client
