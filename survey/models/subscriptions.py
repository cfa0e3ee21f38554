"""Scheduled e-mail reports: who receives which unit's PDF report how often, and what was sent."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.models.accounts import User
from survey.models.base import Base, UTCDateTime, utcnow
from survey.models.units import Unit, str_enum


class ReportFrequency(StrEnum):
    MONTHLY = "monthly"  # the month that ended
    QUARTERLY = "quarterly"  # the quarter that ended


class ReportSubscription(Base):
    """A staff member's standing order for a unit's PDF report by e-mail.

    Cancelling keeps the row (and so the log of what was sent under it); subscribing again to the same
    unit at the same frequency reopens it.
    """

    __tablename__ = "report_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    frequency: Mapped[ReportFrequency] = mapped_column(str_enum(ReportFrequency))
    email: Mapped[str] = mapped_column(sa.String(254))
    language: Mapped[str] = mapped_column(sa.String(5))  # of the report and the message: "vi" or "en"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()
    unit: Mapped[Unit] = relationship()
    deliveries: Mapped[list[ReportDelivery]] = relationship(
        back_populates="subscription", order_by="ReportDelivery.sent_at", cascade="all, delete-orphan")

    __table_args__ = (sa.UniqueConstraint("user_id", "unit_id", "frequency"),)


class ReportDelivery(Base):
    """One report e-mailed: at most one per subscription and period, which makes the job idempotent."""

    __tablename__ = "report_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        sa.ForeignKey("report_subscriptions.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(sa.String(10))  # Period.label: "2026-10", "2026Q3"
    instrument_key: Mapped[str] = mapped_column(sa.String(60))
    recipient: Mapped[str] = mapped_column(sa.String(254))
    pdf_bytes: Mapped[int]
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    subscription: Mapped[ReportSubscription] = relationship(back_populates="deliveries")

    __table_args__ = (sa.UniqueConstraint("subscription_id", "period"),)
