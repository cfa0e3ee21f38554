"""Rows read without SQLAlchemy's per-row processing: large byte strings, and long lists of small rows.

SQLAlchemy turns every fetched row into a `Row` (3 µs a row: 185 ms for a ward's year of 62,000
answers, where the driver's own rows take 45). For columns the drivers give as plain Python values
(integers, text, bytes), the statement is executed by SQLAlchemy, which binds its parameters, and
its rows are taken from the DBAPI cursor as they are.

On PostgreSQL they come in binary format: psycopg fetches results in text format unless a cursor asks
for binary, so a `bytea` value travels hex-encoded, twice its size, and is decoded on arrival. A
province's month of index aggregates is a thousand rows of about 6 kB of sums each, read after every
new response: 17-29 ms in text format against 7-9 ms in binary (docs/dashboard.md). psycopg's cursors
take ``binary=True`` (psycopg documentation, "Binary parameters and results"); SQLAlchemy's do not
expose it, so there the statement, compiled by SQLAlchemy, runs on the session's own DBAPI
connection, in its transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVarTuple, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

Ts = TypeVarTuple("Ts")


def raw_rows(session: Session, query: sa.Select[*Ts]) -> Sequence[tuple[*Ts]]:
    """The rows of `query` in the session's transaction, as the driver gives them (see the module).

    Only for columns the drivers give as the Python values SQLAlchemy would: integers, text, bytes."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()  # as `session.execute` would: its connection's statements skip the autoflush
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        result = session.connection().execute(query)
        try:
            return cast(list[tuple[*Ts]], result.cursor.fetchall())
        finally:
            result.close()
    compiled = query.compile(dialect=bind.dialect, compile_kwargs={"render_postcompile": True})
    # psycopg's Connection (typed as the generic DBAPI one): `cursor(binary=True)` is its own
    connection = cast(Any, session.connection().connection.dbapi_connection)
    with connection.cursor(binary=True) as cursor:
        cursor.execute(str(compiled), compiled.params)
        return cast(list[tuple[*Ts]], cursor.fetchall())
