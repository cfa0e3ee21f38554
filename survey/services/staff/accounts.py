"""Staff accounts: sign-in checks and the admin operations, each leaving an audit event.

Functions flush and never commit (the view or CLI command commits once). `actor` None means the
system (a CLI command run on the server).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey.models import Role, StaffSession, Unit, User, UserScope
from survey.services.staff import audit, passwords, staff_sessions, totp

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,79}$"


class AccountError(ValueError):
    """A refused account operation; `code` is stable for tests and the CLI."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class NewCredentials:
    user: User
    password: str  # shown once to the admin, never stored or logged


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(sa.select(User).where(User.username == normalise_username(username)))


def normalise_username(username: str) -> str:
    return username.strip().casefold()


def authenticate(session: Session, config: Mapping[str, Any], username: str, password: str, *,
                 now: datetime) -> User | None:
    """The active user with this username and password, or None. Audits both outcomes; rehashes a
    password stored with older argon2 parameters. The attempted username is never stored (people type
    passwords into it)."""
    user = find_user(session, username)
    verdict = passwords.verify_password(config, user.password_hash if user else None, password)
    if user is None or not verdict.ok or not user.active:
        audit.record(session, actor=user, action="auth.login_failed", object_type="user",
                     object_id=user.id if user else "",
                     detail={"reason": "inactive" if user and verdict.ok else "credentials"}, now=now)
        return None
    if verdict.new_hash is not None:
        user.password_hash = verdict.new_hash
    user.last_login_at = now
    audit.record(session, actor=user, action="auth.login", object_type="user", object_id=user.id,
                 detail={"rehashed": verdict.new_hash is not None}, now=now)
    return user


def units_by_code(session: Session, codes: Iterable[str]) -> list[Unit]:
    wanted = sorted({c.strip() for c in codes if c.strip()})
    units = list(session.scalars(sa.select(Unit).where(Unit.code.in_(wanted)))) if wanted else []
    missing = sorted(set(wanted) - {u.code for u in units})
    if missing:
        raise AccountError("unknown_unit", ", ".join(missing))
    return units


def _check_scopes(role: Role, unit_ids: Sequence[int]) -> None:
    # A manager or researcher without scopes would see nothing: almost surely a mistake at creation.
    if role != Role.ADMIN and not unit_ids:
        raise AccountError("scope_required")


def _set_scopes(user: User, role: Role, unit_ids: Sequence[int]) -> None:
    wanted = set() if role == Role.ADMIN else set(unit_ids)  # admins see everything; scopes would mislead
    user.scopes = [s for s in user.scopes if s.unit_id in wanted] + [
        UserScope(unit_id=uid) for uid in sorted(wanted - {s.unit_id for s in user.scopes})]


def create_user(session: Session, config: Mapping[str, Any], *, actor: User | None, username: str,
                role: Role, unit_ids: Sequence[int], display_name: str = "", password: str | None = None,
                now: datetime) -> NewCredentials:
    """Create an account; with no password given, generate one to hand over once."""
    name = normalise_username(username)
    if not re.fullmatch(USERNAME_PATTERN, name):
        raise AccountError("bad_username")
    if find_user(session, name) is not None:
        raise AccountError("username_taken")
    _check_scopes(role, unit_ids)
    secret = password if password is not None else passwords.generate_password()
    if passwords.password_problem(secret):
        raise AccountError("weak_password")
    user = User(username=name, display_name=display_name.strip(), role=role, active=True,
                password_hash=passwords.hash_password(config, secret), created_at=now)
    session.add(user)
    _set_scopes(user, role, unit_ids)
    session.flush()
    audit.record(session, actor=actor, action="user.create", object_type="user", object_id=user.id,
                 detail={"role": str(role), "scopes": sorted(unit_ids)}, now=now)
    return NewCredentials(user, secret)


def set_role(session: Session, *, actor: User | None, user: User, role: Role, unit_ids: Sequence[int],
             display_name: str | None = None, now: datetime) -> None:
    """Change role and scopes; live sessions end, so the new rights apply from the next sign-in."""
    if actor is not None and actor.id == user.id and role != user.role:
        raise AccountError("cannot_change_own_role")  # the last admin could lock everyone out
    _check_scopes(role, unit_ids)
    before = {"role": str(user.role), "scopes": sorted(s.unit_id for s in user.scopes)}
    user.role = role
    _set_scopes(user, role, unit_ids)
    if display_name is not None:
        user.display_name = display_name.strip()
    session.flush()
    after = {"role": str(role), "scopes": sorted(s.unit_id for s in user.scopes)}
    if after != before:
        staff_sessions.revoke_all(session, user, now=now)
    audit.record(session, actor=actor, action="user.set_role", object_type="user", object_id=user.id,
                 detail={"before": before, "after": after}, now=now)


def set_active(session: Session, *, actor: User | None, user: User, active: bool, now: datetime) -> None:
    if actor is not None and actor.id == user.id and not active:
        raise AccountError("cannot_deactivate_self")
    user.active = active
    if not active:
        staff_sessions.revoke_all(session, user, now=now)
    audit.record(session, actor=actor, action="user.activate" if active else "user.deactivate",
                 object_type="user", object_id=user.id, now=now)


def revoke_sessions(session: Session, *, actor: User | None, user: User, now: datetime) -> int:
    count = staff_sessions.revoke_all(session, user, now=now)
    audit.record(session, actor=actor, action="user.revoke_sessions", object_type="user",
                 object_id=user.id, detail={"sessions": count}, now=now)
    return count


def reset_password(session: Session, config: Mapping[str, Any], *, actor: User | None, user: User,
                   now: datetime) -> str:
    """Give the account a generated password (returned once) and end its sessions."""
    secret = passwords.generate_password()
    user.password_hash = passwords.hash_password(config, secret)
    staff_sessions.revoke_all(session, user, now=now)
    audit.record(session, actor=actor, action="user.reset_password", object_type="user",
                 object_id=user.id, now=now)
    return secret


def change_own_password(session: Session, config: Mapping[str, Any], *, user: User, current: str,
                        new: str, keep_session_id: int, now: datetime) -> bool:
    """Change one's own password after re-checking the current one; other sessions end."""
    if not passwords.verify_password(config, user.password_hash, current).ok:
        audit.record(session, actor=user, action="user.password_change_failed", object_type="user",
                     object_id=user.id, now=now)
        return False
    if passwords.password_problem(new):
        raise AccountError("weak_password")
    user.password_hash = passwords.hash_password(config, new)
    session.flush()
    session.execute(sa.update(StaffSession)
                    .where(StaffSession.user_id == user.id, StaffSession.id != keep_session_id,
                           StaffSession.revoked_at.is_(None))
                    .values(revoked_at=now).execution_options(synchronize_session="fetch"))
    audit.record(session, actor=user, action="user.password_change", object_type="user",
                 object_id=user.id, now=now)
    return True


def check_second_factor(session: Session, *, user: User, code: str, now: datetime) -> bool:
    """Accept a TOTP code once; audit both outcomes."""
    step = totp.accepted_step(user.totp_secret, code, now=now, after=user.totp_last_step)
    if step is None:
        audit.record(session, actor=user, action="auth.second_factor_failed", object_type="user",
                     object_id=user.id, now=now)
        return False
    user.totp_last_step = step
    audit.record(session, actor=user, action="auth.second_factor", object_type="user", object_id=user.id,
                 now=now)
    return True


def enable_two_factor(session: Session, *, user: User, secret: str, code: str, now: datetime) -> bool:
    """Turn TOTP on once the user proved their app holds `secret` by typing a current code."""
    step = totp.accepted_step(secret, code, now=now, after=None)
    if step is None:
        return False
    user.totp_secret = secret
    user.totp_enabled = True
    user.totp_last_step = step
    audit.record(session, actor=user, action="user.totp_enable", object_type="user", object_id=user.id,
                 now=now)
    return True


def reset_two_factor(session: Session, *, actor: User | None, user: User, now: datetime) -> None:
    """Forget the TOTP secret (lost phone); the owner enrols again at the next sign-in."""
    user.totp_secret = None
    user.totp_enabled = False
    user.totp_last_step = None
    staff_sessions.revoke_all(session, user, now=now)
    audit.record(session, actor=actor, action="user.totp_reset", object_type="user", object_id=user.id,
                 now=now)


def list_users(session: Session) -> list[User]:
    return list(session.scalars(sa.select(User).order_by(User.active.desc(), User.username)))
