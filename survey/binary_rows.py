"""Rows of large byte strings read in PostgreSQL's binary format.

psycopg fetches results in text format unless a cursor asks for binary: a `bytea` value then travels
hex-encoded, twice its size, and is decoded on arrival. A province's month of index aggregates is a
thousand rows of about 6 kB of sums each, read after every new response: 17-29 ms in text format
against 7-9 ms in binary (`bench/` notes, docs/bench.md). psycopg's cursors take ``binary=True``
(psycopg documentation, "Binary parameters and results"); SQLAlchemy's do not expose it, so the
statement, compiled by SQLAlchemy, runs on the session's own DBAPI connection, in its transaction.
Other engines run it through the session as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVarTuple, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

Ts = TypeVarTuple("Ts")


def binary_rows(session: Session, query: sa.Select[*Ts]) -> Sequence[tuple[*Ts]]:
    """The rows of `query` in the session's transaction, fetched in binary format on PostgreSQL.

    Only for columns psycopg gives the same Python values in either format without SQLAlchemy's
    result processing: integers, text, bytes."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return cast(list[tuple[*Ts]], [tuple(row) for row in session.execute(query)])
    compiled = query.compile(dialect=bind.dialect, compile_kwargs={"render_postcompile": True})
    # psycopg's Connection (typed as the generic DBAPI one): `cursor(binary=True)` is its own
    connection = cast(Any, session.connection().connection.dbapi_connection)
    with connection.cursor(binary=True) as cursor:
        cursor.execute(str(compiled), compiled.params)
        return cast(list[tuple[*Ts]], cursor.fetchall())
