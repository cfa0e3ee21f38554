"""Shared set-up for the unit, frame and API tests: the demo province plus scoped staff accounts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import Flask
from flask_babel import force_locale

from survey.extensions import db
from survey.models import Role, User, UserScope
from tests.survey.conftest import unit_id

NOW = datetime(2026, 3, 15, 9, 0, tzinfo=UTC)


def add_user(username: str, role: Role, scope_codes: tuple[str, ...] = ()) -> User:
    user = User(username=username, password_hash="not-a-real-hash", role=role)
    for code in scope_codes:
        user.scopes.append(UserScope(unit_id=unit_id(code)))
    db.session.add(user)
    db.session.flush()
    return user


def user(ids: dict[str, int], name: str) -> User:
    """One of the `staff` accounts by name, loaded in the current session."""
    found = db.session.get(User, ids[name])
    assert found is not None
    return found


@contextmanager
def in_request(app: Flask, lang: str = "en") -> Iterator[None]:
    """Services translate their messages: give them a request context in a fixed language."""
    with app.test_request_context(), force_locale(lang):
        yield


def staff(app: Flask) -> dict[str, int]:
    """Seed the demo province and four accounts; return their ids."""
    from survey.demo.tree import seed_demo

    with app.app_context():
        seed_demo(db.session)
        users = {
            "admin": add_user("admin", Role.ADMIN),
            "province": add_user("province", Role.MANAGER, ("HL",)),
            "anbinh": add_user("anbinh", Role.MANAGER, ("HL-AB",)),
            "hoalac": add_user("hoalac", Role.MANAGER, ("HL-HL",)),
            "researcher": add_user("researcher", Role.RESEARCHER, ("HL",)),
        }
        db.session.commit()
        return {name: user.id for name, user in users.items()}
