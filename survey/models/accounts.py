"""Staff accounts, their unit scopes, revocable server-side sessions, and the audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.models.base import Base, UTCDateTime, utcnow
from survey.models.units import Unit, str_enum


class Role(StrEnum):
    ADMIN = "admin"  # everything
    MANAGER = "manager"  # sees and manages only the subtrees in its scopes
    RESEARCHER = "researcher"  # exports only, scoped likewise


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255))  # argon2id, encoded with its parameters
    role: Mapped[Role] = mapped_column(str_enum(Role))
    active: Mapped[bool] = mapped_column(default=True)
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    # Time step of the last accepted code: a code is never accepted twice (RFC 6238 §5.2).
    totp_last_step: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    scopes: Mapped[list[UserScope]] = relationship(back_populates="user", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class UserScope(Base):
    """A unit subtree a manager or researcher may see: the unit and everything below it."""

    __tablename__ = "user_scopes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))

    user: Mapped[User] = relationship(back_populates="scopes")
    unit: Mapped[Unit] = relationship()

    __table_args__ = (sa.UniqueConstraint("user_id", "unit_id"),)


class StaffSession(Base):
    """A login. The cookie holds a random id; only its SHA-256 is stored, so a copied database holds
    no usable session. Logout or an admin revokes the row, and the copied cookie dies with it."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    second_factor_done: Mapped[bool] = mapped_column(default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class AuditEvent(Base):
    """Who did what to which object, and every denied access. Append-only."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(60))  # e.g. "counter.rotate", "access.denied"
    object_type: Mapped[str] = mapped_column(sa.String(40), default="")
    object_id: Mapped[str] = mapped_column(sa.String(80), default="")
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))
    detail: Mapped[str] = mapped_column(sa.Text, default="")  # JSON text, never secrets or PII

    actor: Mapped[User | None] = relationship()
