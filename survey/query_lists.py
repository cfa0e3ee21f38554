"""`column IN (values)` for long lists, as each engine takes it best.

A province's pages filter by the ids of a thousand units. SQLAlchemy sends `IN (...)` as one bound
parameter per value; psycopg parses a statement of more than 50 parameters anew at every execution
(it caches only shorter ones), which cost a ward's first page about a tenth of a second on
PostgreSQL. There the list goes as one array parameter, `column = ANY(%(values)s)`: one parameter,
the same statement text for every list, the same plan as IN (PostgreSQL documentation, "Row and
Array Comparisons"). SQLite takes the plain IN.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import QueryableAttribute, Session


def one_of(session: Session, column: sa.ColumnElement[Any] | QueryableAttribute[Any],
           values: Iterable[Any]) -> sa.ColumnElement[bool]:
    """`column IN values`, written for the engine `session` is bound to (see the module)."""
    listed, expression = list(values), column.expression
    if session.get_bind().dialect.name == "postgresql":
        return expression == sa.any_(sa.literal(listed, ARRAY(expression.type)))
    return expression.in_(listed)
