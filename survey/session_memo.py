"""Values read once per database session (one request, one job step) and forgotten as soon as the
session writes or ends its transaction.

A page asks the same question of the database many times: the subtree of the province, its map of
parents, the stamps of the data its caches are checked against. The answers cannot change while the
session only reads inside one transaction, so the first answer is kept in `Session.info`; a flush, a
commit, a rollback, a bulk INSERT/UPDATE/DELETE through the session (`session.execute(sa.update(...))`
writes without a flush) or a SQL text statement that may write drops every kept answer, so a session
that writes reads again what it may have changed.

A caller that hands a kept value on returns a copy of it when the receiver may change it in place.

The session also remembers which tables it has written in its open transaction, until that transaction
commits or rolls back (`has_written`): a value computed from its own uncommitted writes must not be kept
beyond it (`reporting.index_cache`, `organisation.counter_lines`). Writes through the ORM are seen (a
flush, a bulk statement); a SQL text statement that may write counts as a write to every table; a
statement run on `session.connection()` directly is not seen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Hashable
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

T = TypeVar("T")
_KEY = "survey.session_memo"
_WRITTEN = "survey.session_memo.written"
_EVERY_TABLE = "*"  # what a session has written after a SQL text statement that may write
# The first word of a SQL text statement that may write (WITH may carry an INSERT, UPDATE or DELETE).
_WRITING_TEXT = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|TRUNCATE|MERGE|WITH)\b", re.IGNORECASE)


def session_memo(session: Session) -> dict[Hashable, Any]:
    """The values kept for `session` until it writes or ends its transaction (see the module)."""
    memo = session.info.get(_KEY)
    if not isinstance(memo, dict):
        memo = session.info[_KEY] = {}
    return memo


def remembered(session: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` the first time `key` is asked in this session's current read, the kept value after."""
    memo = session_memo(session)
    if key not in memo:
        memo[key] = compute()
    return cast(T, memo[key])


def has_written(session: Session, tables: Collection[str]) -> bool:
    """Whether `session` may have written any of `tables` in its open transaction (a SQL text statement
    that may write counts as a write to every table)."""
    written = session.info.get(_WRITTEN, ())
    return bool(written) and (_EVERY_TABLE in written or not written.isdisjoint(tables))


def _wrote(session: Session, tables: set[str]) -> None:
    session.info.setdefault(_WRITTEN, set()).update(tables)


@sa.event.listens_for(Session, "after_flush")
def _forget_after_flush(session: Session, _context: object) -> None:
    # still the flush's objects here (SQLAlchemy clears them after this event); their classes first: a
    # citizen's response flushes some thirty answers of one class (2 µs, against 18 µs object by object)
    classes = {type(changed) for changed in (*session.new, *session.dirty, *session.deleted)}
    _wrote(session, {table.name for cls in classes for table in sa.inspect(cls).tables})
    session.info.pop(_KEY, None)


@sa.event.listens_for(Session, "after_commit")
@sa.event.listens_for(Session, "after_rollback")
def _forget(session: Session, *_args: object) -> None:
    session.info.pop(_KEY, None)


@sa.event.listens_for(Session, "after_transaction_end")
def _forget_writes(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the transaction itself, not a savepoint within it
        session.info.pop(_WRITTEN, None)


@sa.event.listens_for(Session, "do_orm_execute")
def _forget_on_bulk_write(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        _wrote(state.session, {table.name} if isinstance(table, sa.Table) else {_EVERY_TABLE})
        state.session.info.pop(_KEY, None)
    elif isinstance(state.statement, sa.TextClause) and _WRITING_TEXT.match(state.statement.text):
        _wrote(state.session, {_EVERY_TABLE})
        state.session.info.pop(_KEY, None)
