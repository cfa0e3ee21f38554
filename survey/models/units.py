"""Where citizens are served: the unit hierarchy, counters, instrument assignments and targets."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.models.base import Base, UTCDateTime, utcnow


def str_enum(enum: type[StrEnum], length: int = 20) -> sa.Enum:
    """Store a StrEnum by value as VARCHAR: portable across SQLite and PostgreSQL, easy to extend."""
    return sa.Enum(
        enum, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class UnitKind(StrEnum):
    """Levels of the two-tier local government after 1 July 2025, plus historical ones.

    See docs/sipas-method.md §6.
    """

    PROVINCE = "province"
    AGENCY = "agency"  # sở, ban, ngành, or the provincial public administrative service centre
    DISTRICT = "district"  # before the 2025 reform only; kept so time series survive
    COMMUNE = "commune"  # xã, phường, đặc khu
    SERVICE_POINT = "service_point"  # a one-stop desk or centre with counters


class Unit(Base):
    """A node of the administrative tree. Units are never deleted: they close (`valid_to`) and may
    name a successor, because the 2025 reform merged and renamed thousands of them."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    kind: Mapped[UnitKind] = mapped_column(str_enum(UnitKind))
    name_vi: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str] = mapped_column(sa.String(200), default="")
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"), index=True)
    valid_from: Mapped[date | None]
    valid_to: Mapped[date | None]
    successor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))
    # Weekly opening hours in Vietnam time, canonical text ("mon-fri 07:30-11:30 13:30-17:00; sat
    # 07:30-11:30", survey.services.organisation.opening_hours); None: as the unit above.
    opening_hours: Mapped[str | None] = mapped_column(sa.String(300))

    parent: Mapped[Unit | None] = relationship(
        remote_side=[id], foreign_keys=[parent_id], back_populates="children"
    )
    children: Mapped[list[Unit]] = relationship(back_populates="parent", foreign_keys=[parent_id])
    counters: Mapped[list[Counter]] = relationship(back_populates="unit", order_by="Counter.code")

    __table_args__ = (sa.CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_from <= valid_to",
                                         name="valid_range"),)

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name_vi

    def __repr__(self) -> str:
        return f"<Unit {self.code}>"


class UnitRevision(Base):
    """How many times the unit tree has been written: one row, moved by triggers on `units` at every
    insert, update and delete, whoever writes it (the admin pages, an import, a SQL session). Every
    cached figure's data version reads it (`reporting.index_cache`), and the trees read once per process
    are kept under it (`organisation.unit_trees`): a unit renamed, moved or added is seen at once."""

    __tablename__ = "unit_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class CounterRevision(Base):
    """How many times the counters or the instrument assignments have been written: one row, moved by
    triggers on `counters` and `instrument_assignments` at every insert, update and delete, whoever
    writes them. With the units' revision it stamps the counter lines kept per process
    (`organisation.counter_lines`): a counter revoked, moved or given another instrument is seen at once."""

    __tablename__ = "counter_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class Counter(Base):
    """A counter (quầy) at a service point. Its QR token carries `key_version`; bumping the version
    (rotation) or setting `revoked_at` makes every printed code of the old version stop working."""

    __tablename__ = "counters"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name_vi: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str] = mapped_column(sa.String(200), default="")
    procedure_field: Mapped[str | None] = mapped_column(sa.String(60))
    active: Mapped[bool] = mapped_column(default=True)
    key_version: Mapped[int] = mapped_column(default=1)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    opening_hours: Mapped[str | None] = mapped_column(sa.String(300))  # None: the unit's hours

    unit: Mapped[Unit] = relationship(back_populates="counters")

    __table_args__ = (sa.UniqueConstraint("unit_id", "code"),)

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name_vi

    def __repr__(self) -> str:
        return f"<Counter {self.code} of unit {self.unit_id}>"


class InstrumentAssignment(Base):
    """Which instrument (id + version) a unit's counters use from `opens_on` until `closes_on`.
    Descendant units inherit the nearest ancestor's assignment unless they have their own."""

    __tablename__ = "instrument_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    instrument_id: Mapped[str] = mapped_column(sa.String(40))
    instrument_version: Mapped[str] = mapped_column(sa.String(20))
    opens_on: Mapped[date]
    closes_on: Mapped[date | None]

    unit: Mapped[Unit] = relationship()

    __table_args__ = (sa.CheckConstraint("closes_on IS NULL OR opens_on <= closes_on", name="open_range"),)


class Target(Base):
    """Target share satisfied (0-1) per unit, instrument and year; inherited down the tree."""

    __tablename__ = "targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    instrument_id: Mapped[str] = mapped_column(sa.String(40))
    year: Mapped[int]
    target: Mapped[float]

    __table_args__ = (
        sa.UniqueConstraint("unit_id", "instrument_id", "year"),
        sa.CheckConstraint("target > 0 AND target <= 1", name="target_range"),
    )


class ProposalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"  # the same unit proposed again before a decision


class TargetProposal(Base):
    """A unit's own manager asking for a different target (`target` None = drop the own target and
    inherit). It changes nothing until someone allowed to set the target (the parent's manager or an
    admin) approves it, so a unit cannot lower the bar it is judged against."""

    __tablename__ = "target_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    instrument_id: Mapped[str] = mapped_column(sa.String(40))
    year: Mapped[int]
    target: Mapped[float | None]
    reason: Mapped[str] = mapped_column(sa.String(500))
    status: Mapped[ProposalStatus] = mapped_column(str_enum(ProposalStatus), default=ProposalStatus.PENDING)
    proposed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str] = mapped_column(sa.String(500), default="")

    unit: Mapped[Unit] = relationship()

    __table_args__ = (
        sa.CheckConstraint("target IS NULL OR (target > 0 AND target <= 1)", name="proposal_range"),
    )
