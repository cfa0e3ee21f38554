"""Index aggregates: integer sums of the valid responses per unit × procedure field × local month ×
instrument version, from which the dashboard's indices are computed without reading the responses.

`sums` is the vector of `analysis.cell_sums.SumsLayout` of the instrument's index definition, stored
as little-endian 64-bit integers (`survey.services.reporting.aggregates` encodes and decodes it).
Submissions and flag reviews keep it up to date in their own transaction; `flask aggregates rebuild`
recomputes it from the responses and `flask aggregates check` compares the two (docs/dashboard.md,
"Aggregates").
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from survey.models.base import Base
from survey.models.frames import ALL


class IndexAggregate(Base):
    __tablename__ = "index_aggregates"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    month: Mapped[str] = mapped_column(sa.String(7))  # "YYYY-MM" of the local submission date
    procedure_field: Mapped[str] = mapped_column(sa.String(60), default=ALL)  # ALL: none on the response
    instrument_id: Mapped[str] = mapped_column(sa.String(40))
    instrument_version: Mapped[str] = mapped_column(sa.String(20))
    # The same count as sums[0], kept as a column so that the validity check is one SQL sum.
    respondents: Mapped[int]
    sums: Mapped[bytes] = mapped_column(sa.LargeBinary)

    __table_args__ = (
        # Leading unit_id, month: the dashboard reads a subtree's months; a submission finds its row.
        sa.UniqueConstraint("unit_id", "month", "instrument_id", "instrument_version", "procedure_field",
                            name="uq_index_aggregates_cell"),
        sa.CheckConstraint("respondents >= 0", name="respondents_non_negative"),
        # By month, covering the data stamps (cells, respondents, last id per month: `index_cache`): read
        # without the rows, whose sums are kilobytes each (11 ms -> 1 ms for every unit at a million
        # responses, 13 ms -> 3 ms for a province).
        sa.Index("ix_index_aggregates_month_unit", "month", "unit_id", "respondents", "id"),
    )


class ResponseTally(Base):
    """Responses per local month × instrument version × unit and status, counted by the database itself.

    Triggers on `responses` (created by the migrations, on SQLite and PostgreSQL) add and take away
    one on every insert, delete and change of status, reason, unit, time or instrument, and move
    `revision` and `changed_at_us` each time, whichever code wrote the row: a bulk import, a SQL
    console, a restore. The index aggregates are kept by the submission service instead;
    `services.reporting.index_source` reads a period from them only where, unit by unit, they hold as
    many respondents as `valid` says (counting the responses themselves gave the same check at 26 ms a
    month at a million responses), and the dashboards' caches keep a month's figures while its tallies
    and aggregates have not moved (`services.reporting.index_cache`). `flask aggregates check` compares
    the counts with the responses.
    """

    __tablename__ = "response_tallies"

    # Leading month and instrument: a month is read for every unit at once.
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)  # "YYYY-MM", local (Asia/Ho_Chi_Minh)
    instrument_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    unit_id: Mapped[int] = mapped_column(primary_key=True)  # no foreign key: a deleted unit's zero rows stay
    instrument_version: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    valid: Mapped[int]
    flagged: Mapped[int] = mapped_column(server_default="0")
    excluded: Mapped[int] = mapped_column(server_default="0")
    revision: Mapped[int] = mapped_column(server_default="0")  # +1 at every change of the key's responses
    # When the key last changed: microseconds since 1970 on the database's clock, never less than one
    # past the last. A database restored from a backup then never gives a version the lost changes gave.
    changed_at_us: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
