"""Values read once per database session (one request, one job step) and forgotten as soon as the
session writes or ends its transaction.

A page asks the same question of the database many times: the subtree of the province, its map of
parents, the stamps of the data its caches are checked against. The answers cannot change while the
session only reads inside one transaction, so the first answer is kept in `Session.info`; a flush, a
commit, a rollback or a bulk INSERT/UPDATE/DELETE through the session (`session.execute(sa.update(...))`
writes without a flush) drops every kept answer, so a session that writes reads again what it may have
changed.

A caller that hands a kept value on returns a copy of it when the receiver may change it in place.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.orm import ORMExecuteState, Session

T = TypeVar("T")
_KEY = "survey.session_memo"


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


@sa.event.listens_for(Session, "after_flush")
@sa.event.listens_for(Session, "after_commit")
@sa.event.listens_for(Session, "after_rollback")
def _forget(session: Session, *_args: object) -> None:
    session.info.pop(_KEY, None)


@sa.event.listens_for(Session, "do_orm_execute")
def _forget_on_bulk_write(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info.pop(_KEY, None)
