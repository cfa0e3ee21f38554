"""What the submission defence keeps: limit counters, refusal counts and spent receipt digests.

None of these tables links to a response or holds an address: limit keys are keyed hashes under a
key that rotates every day, refusal counts are per counter and day, and a receipt is kept only as an
HMAC under the period's key (docs/integrity.md).
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from survey.models.base import Base


class SubmissionHit(Base):
    """Submissions counted in one fixed window of one limit: the embedded, cross-process limit store.

    `key` names the limit and the hashed client or the counter; `window_start` and `expires_at` are
    UNIX seconds. One UPSERT per hit increments `hits` atomically on SQLite and PostgreSQL alike.
    """

    __tablename__ = "submission_hits"

    key: Mapped[str] = mapped_column(sa.String(96), primary_key=True)
    window_start: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    hits: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[int] = mapped_column(sa.BigInteger, index=True)


class SubmissionRefusal(Base):
    """How many submissions a limit refused (HTTP 429) at one counter on one local day: for managers."""

    __tablename__ = "submission_refusals"

    counter_id: Mapped[int] = mapped_column(sa.ForeignKey("counters.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    limit_name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    refused: Mapped[int] = mapped_column(default=0)


class SpentReceipt(Base):
    """A receipt number already used for a response, kept only as HMAC(period key, canonical number).

    No link to the response: no foreign key, no time, and on SQLite no rowid (WITHOUT ROWID: rows sit
    in digest order, so their order says nothing about the order of the responses).
    """

    __tablename__ = "spent_receipts"

    digest: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(10))

    # a tuple (immutable, as ruff RUF012 asks) whose last item holds the keyword arguments
    __table_args__ = ({"sqlite_with_rowid": False},)
