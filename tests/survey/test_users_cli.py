"""`flask users ...`: accounts from the server shell, audited as the system, passwords never echoed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from survey.extensions import db
from survey.models import Role, StaffSession, User
from survey.services.staff import passwords
from tests.survey.conftest import audit_events
from tests.survey.staff_helpers import PASSWORD, add_staff, clock_of, running, staff_app


@pytest.fixture
def sapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    yield from running(staff_app(migrated_db, tmp_path))


def _user(app: Flask, username: str) -> User:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == username))
        assert user is not None
        scopes = sorted(s.unit.code for s in user.scopes)
        db.session.expunge_all()
        user.__dict__["_codes"] = scopes
        return user


def test_create_with_password_on_stdin(sapp: Flask) -> None:
    result = sapp.test_cli_runner().invoke(
        args=["users", "create", "Mai.Nguyen", "--role", "manager", "--unit", "HL-AB", "--unit", "HL-HL",
              "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    user = _user(sapp, "mai.nguyen")  # usernames are case-insensitive, stored folded
    assert user.role == "manager" and user.__dict__["_codes"] == ["HL-AB", "HL-HL"]
    assert passwords.verify_password(sapp.config, user.password_hash, PASSWORD).ok
    [event] = audit_events("user.create", sapp)
    assert event.actor_id is None and event.object_id == str(user.id) and PASSWORD not in event.detail


def test_create_prompts_twice_hidden(sapp: Flask) -> None:
    runner = sapp.test_cli_runner()
    result = runner.invoke(args=["users", "create", "root", "--role", "admin"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output and result.output.count("Password") == 1
    mismatch = runner.invoke(args=["users", "create", "root2", "--role", "admin"],
                             input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n")
    assert mismatch.exit_code == 0 and "do not match" in mismatch.output


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["mai", "--role", "manager"], PASSWORD, "scope_required"),
    (["mai", "--role", "manager", "--unit", "NOPE"], PASSWORD, "unknown_unit: NOPE"),
    (["mai", "--role", "manager", "--unit", "HL"], "short", "weak_password"),
    (["bad name!", "--role", "admin"], PASSWORD, "bad_username"),
    (["mai", "--role", "owner"], PASSWORD, "Invalid value for '--role'"),
])
def test_create_refusals_store_nothing(sapp: Flask, args: list[str], stdin: str, message: str) -> None:
    result = sapp.test_cli_runner().invoke(args=["users", "create", *args, "--password-stdin"],
                                           input=stdin + "\n")
    assert result.exit_code != 0 and message in result.output
    with sapp.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
    assert audit_events(app=sapp) == []


def test_duplicate_username_is_refused(sapp: Flask) -> None:
    runner = sapp.test_cli_runner()
    args = ["users", "create", "mai", "--role", "admin", "--password-stdin"]
    assert runner.invoke(args=args, input=PASSWORD + "\n").exit_code == 0
    again = runner.invoke(args=["users", "create", "MAI", "--role", "admin", "--password-stdin"],
                          input=PASSWORD + "\n")
    assert again.exit_code != 0 and "username_taken" in again.output


def test_list_set_role_and_reset_password(sapp: Flask) -> None:
    runner = sapp.test_cli_runner()
    runner.invoke(args=["users", "create", "mai", "--role", "manager", "--unit", "HL-AB",
                        "--password-stdin"], input=PASSWORD + "\n")
    runner.invoke(args=["users", "create", "root", "--role", "admin", "--password-stdin"],
                  input=PASSWORD + "\n")
    listed = runner.invoke(args=["users", "list"]).output.splitlines()
    assert listed == ["mai\tmanager\tHL-AB\tactive\tno-2fa", "root\tadmin\t*\tactive\tno-2fa"]

    changed = runner.invoke(args=["users", "set-role", "mai", "researcher", "--unit", "HL-HL"])
    assert changed.exit_code == 0, changed.output
    user = _user(sapp, "mai")
    assert user.role == "researcher" and user.__dict__["_codes"] == ["HL-HL"]
    assert runner.invoke(args=["users", "set-role", "nobody", "admin"]).exit_code != 0

    with sapp.app_context():  # an open session, to see the reset end it
        db.session.add(StaffSession(token_hash="x" * 64, user_id=user.id))
        db.session.commit()
    reset = runner.invoke(args=["users", "reset-password", "mai"])
    assert reset.exit_code == 0
    new_password = reset.output.strip().rsplit(" ", 1)[-1]
    assert re.fullmatch(r"[a-hjkmnp-z2-9]{4}(-[a-hjkmnp-z2-9]{4}){3}", new_password), new_password
    after = _user(sapp, "mai")
    assert passwords.verify_password(sapp.config, after.password_hash, new_password).ok
    assert not passwords.verify_password(sapp.config, after.password_hash, PASSWORD).ok
    with sapp.app_context():
        assert db.session.scalar(sa.select(StaffSession.revoked_at)) is not None
    actions = [(e.action, e.actor_id) for e in audit_events(app=sapp)]
    assert actions == [("user.create", None), ("user.create", None), ("user.set_role", None),
                       ("user.reset_password", None)]
    assert all(new_password not in e.detail for e in audit_events(app=sapp))


def test_prune_sessions_deletes_only_long_dead_ones(sapp: Flask) -> None:
    staff = add_staff(sapp, "mai", Role.MANAGER, ("HL-AB",))
    now = clock_of(sapp).now
    with sapp.app_context():
        db.session.add_all([
            StaffSession(token_hash="a" * 64, user_id=staff.id, created_at=now - timedelta(days=40),
                         last_seen_at=now - timedelta(days=40)),  # abandoned
            StaffSession(token_hash="b" * 64, user_id=staff.id, created_at=now - timedelta(days=2),
                         last_seen_at=now - timedelta(days=2), revoked_at=now - timedelta(days=2)),
            StaffSession(token_hash="c" * 64, user_id=staff.id, created_at=now, last_seen_at=now),
        ])
        db.session.commit()
    result = sapp.test_cli_runner().invoke(args=["users", "prune-sessions", "--days", "30"])
    assert result.exit_code == 0 and "Deleted 1 " in result.output
    with sapp.app_context():
        left = set(db.session.scalars(sa.select(StaffSession.token_hash)))
    assert left == {"b" * 64, "c" * 64}
    assert [e.detail for e in audit_events("session.prune", sapp)] == ['{"days": 30, "deleted": 1}']
