"""What citizens answered. Anonymous by construction: no IP, user agent, account or any other
identifier is stored with a response, and free text is kept apart from coded answers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.models.base import Base, UTCDateTime, utcnow
from survey.models.units import Counter, Unit, str_enum


class Channel(StrEnum):
    QR = "qr"
    KIOSK = "kiosk"
    LINK = "link"
    API = "api"
    IMPORT = "import"


class ResponseStatus(StrEnum):
    """`flagged` rows are kept but excluded from indices by default, shown with their reason."""

    VALID = "valid"
    FLAGGED = "flagged"
    EXCLUDED = "excluded"


class Response(Base):
    __tablename__ = "responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[str] = mapped_column(sa.String(40))
    instrument_version: Mapped[str] = mapped_column(sa.String(20))
    # sha256 of the instrument as answered: proves the published wording did not change under the data.
    instrument_hash: Mapped[str] = mapped_column(sa.String(64))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    counter_id: Mapped[int | None] = mapped_column(sa.ForeignKey("counters.id"), index=True)
    # Copied from the counter at submission so later re-assignments don't rewrite history.
    procedure_field: Mapped[str | None] = mapped_column(sa.String(60))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    language: Mapped[str] = mapped_column(sa.String(5))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    status: Mapped[ResponseStatus] = mapped_column(str_enum(ResponseStatus), default=ResponseStatus.VALID)
    status_reason: Mapped[str | None] = mapped_column(sa.String(200))
    # The random part of the signed single-use form nonce: double taps and retries hit this constraint.
    idempotency_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # Sent through a per-dossier survey link minted by the one-stop system (one link per dossier,
    # single use): the answer is known to come after a real dossier. Nothing names the dossier.
    receipt_verified: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    unit: Mapped[Unit] = relationship()
    counter: Mapped[Counter | None] = relationship()
    answers: Mapped[list[Answer]] = relationship(back_populates="response", cascade="all, delete-orphan")
    texts: Mapped[list[TextAnswer]] = relationship(back_populates="response", cascade="all, delete-orphan")

    __table_args__ = (
        sa.Index("ix_responses_unit_submitted", "unit_id", "submitted_at"),
        # By status first: the dashboards' caches read the few responses left out (flagged, excluded) of
        # a window on every view (`index_cache`) without walking the valid ones. The other columns make
        # it covering for counting a window's valid responses per unit of one instrument (the aggregates'
        # check, response rates): at a million responses a year, reading the rows took seconds.
        sa.Index("ix_responses_status_submitted_unit", "status", "submitted_at", "unit_id", "instrument_id",
                 "instrument_version"),
        # By unit, then status: a commune's responses left out of a window (`index_cache`) without reading
        # its valid ones, nor every unit's flagged ones (20 ms a page at a million responses); covering,
        # for the valid ones' count per unit too, so a planner that picks it for that never reads rows.
        sa.Index("ix_responses_unit_status_submitted", "unit_id", "status", "submitted_at", "instrument_id",
                 "instrument_version", "id"),
    )


class Answer(Base):
    """One coded answer, long form, with the raw code of the instrument's scale or options (never only
    a derived 0/1). A multiple-choice item has one row per chosen option; a number item keeps its
    value in `code`. "Not applicable" is stored as its code."""

    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(sa.ForeignKey("responses.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(sa.String(40))
    code: Mapped[int]

    response: Mapped[Response] = relationship(back_populates="answers")

    __table_args__ = (sa.UniqueConstraint("response_id", "item_id", "code"),)


class TextAnswer(Base):
    """Free text, NFC-normalised with invisible format characters removed. Personal data in it is
    masked by the comment scrubber before anyone reads it; the stored text is never shown raw."""

    __tablename__ = "text_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(sa.ForeignKey("responses.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(sa.String(40))
    text: Mapped[str] = mapped_column(sa.Text)

    response: Mapped[Response] = relationship(back_populates="texts")

    __table_args__ = (sa.UniqueConstraint("response_id", "item_id"),)
