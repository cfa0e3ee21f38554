"""Alerts for managers: a unit wholly below its target, or a significant drop; acknowledged with a
comment, and every note kept."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.models.base import Base, UTCDateTime, utcnow
from survey.models.units import Unit, str_enum


class AlertKind(StrEnum):
    BELOW_TARGET = "below_target"
    SIGNIFICANT_DROP = "significant_drop"


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    instrument_id: Mapped[str] = mapped_column(sa.String(40))
    kind: Mapped[AlertKind] = mapped_column(str_enum(AlertKind))
    period_start: Mapped[date]
    period_end: Mapped[date]
    estimate: Mapped[float]
    ci_low: Mapped[float]
    ci_high: Mapped[float]
    reference: Mapped[float]  # the target, or the previous period's estimate
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    unit: Mapped[Unit] = relationship()
    notes: Mapped[list[AlertNote]] = relationship(back_populates="alert", order_by="AlertNote.at")

    __table_args__ = (sa.UniqueConstraint("unit_id", "instrument_id", "kind", "period_start", "period_end"),)


class AlertNote(Base):
    __tablename__ = "alert_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(sa.ForeignKey("alerts.id"), index=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    comment: Mapped[str] = mapped_column(sa.Text)
    acknowledges: Mapped[bool] = mapped_column(default=False)

    alert: Mapped[Alert] = relationship(back_populates="notes")
