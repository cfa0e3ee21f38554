"""Served-dossier frames: how many dossiers each unit handled, per field, channel and period.
They weight the survey (post-stratification) and give response rates (served -> responded)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.models.base import Base, UTCDateTime, utcnow
from survey.models.units import Unit

ALL = ""  # the field or channel of a count that is not broken down


class ServedCount(Base):
    __tablename__ = "served_counts"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    procedure_field: Mapped[str] = mapped_column(sa.String(60), default=ALL)
    channel: Mapped[str] = mapped_column(sa.String(20), default=ALL)
    period_start: Mapped[date]
    period_end: Mapped[date]
    served: Mapped[int]
    upload_id: Mapped[int] = mapped_column(sa.ForeignKey("frame_uploads.id"), index=True)

    unit: Mapped[Unit] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("unit_id", "procedure_field", "channel", "period_start", "period_end"),
        sa.CheckConstraint("served >= 0", name="served_non_negative"),
        sa.CheckConstraint("period_start <= period_end", name="period_range"),
    )


class SettingsRevision(Base):
    """How many times the frames of dossiers served or the targets have been written: one row, moved by
    triggers on `served_counts` and `targets` at every insert, update and delete, whoever writes them.
    Every cached figure's data version reads it (`reporting.index_cache`): weights and verdicts read
    both, and a correction that leaves their count and sum where they were (two units' numbers swapped)
    is seen at once."""

    __tablename__ = "settings_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class FrameUpload(Base):
    """One accepted upload (CSV page or API call); re-uploading a period replaces its counts."""

    __tablename__ = "frame_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source: Mapped[str] = mapped_column(sa.String(20))  # "csv" or "api"
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    api_client_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_clients.id"))
    rows: Mapped[int] = mapped_column(default=0)


class ApiClient(Base):
    """A one-stop system allowed to post frames for one unit subtree; only the token's hash is kept."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    unit: Mapped[Unit] = relationship()
