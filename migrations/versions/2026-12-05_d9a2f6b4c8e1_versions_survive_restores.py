"""data versions survive a restore: every change of a month's tallies records the time it was made
(response_tallies.changed_at_us), and the unit, counter and settings revisions jump to the time of
their change, so that the changes made after a database is restored from a backup never reach a
version the lost changes had reached (a figure kept under it would be shown for other data)

Revision ID: d9a2f6b4c8e1
Revises: c7e1a4f9b2d5
Create Date: 2026-12-05 18:00:00.000000

Times are microseconds since 1970 (UTC) on the database's clock; each change takes the later of that
time and one past the last, so they only ever grow. The tallies' `revision` still moves by exactly one
(the respondent months read only the new responses when the moves equal them). Every trigger that
moves them is made again with the new statement (a frozen copy of the shapes of d1e5f7a3b9c2,
c4e6a8b0d2f1, e8b2d4f6a1c3, b3f9d2c8e4a6 and c7e1a4f9b2d5).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd9a2f6b4c8e1'
down_revision = 'c7e1a4f9b2d5'
branch_labels = None
depends_on = None

_SQLITE_NOW = "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)"
_PG_NOW = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
_KEY = "(month, instrument_id, unit_id, instrument_version)"
_COLUMNS = "(month, instrument_id, unit_id, instrument_version, valid, flagged, excluded, revision{extra})"
_WATCHED = "status, status_reason, unit_id, submitted_at, instrument_id, instrument_version"
# (one-row revision table, PostgreSQL function, tables whose triggers move it)
_REVISIONS = (("unit_revision", "unit_revision_move", ("units",)),
              ("counter_revision", "counter_revision_move", ("counters", "instrument_assignments")),
              ("settings_revision", "settings_revision_move", ("served_counts", "targets")))


def _counts(row: str, cast: str) -> str:
    return ", ".join(f"({row}.status = '{status}'){cast}" for status in ("valid", "flagged", "excluded"))


def _sqlite_add(row: str, timed: bool) -> str:
    extra = ", changed_at_us" if timed else ""
    value = f", {_SQLITE_NOW}" if timed else ""
    moved = f", changed_at_us = max(changed_at_us + 1, {_SQLITE_NOW})" if timed else ""
    return f"""INSERT INTO response_tallies {_COLUMNS.format(extra=extra)}
      SELECT strftime('%Y-%m', {row}.submitted_at, '+7 hours'), {row}.instrument_id, {row}.unit_id,
             {row}.instrument_version, {_counts(row, '')}, 1{value}
      WHERE true
      ON CONFLICT {_KEY} DO UPDATE SET valid = valid + ({row}.status = 'valid'),
        flagged = flagged + ({row}.status = 'flagged'), excluded = excluded + ({row}.status = 'excluded'),
        revision = revision + 1{moved};"""


def _sqlite_take(row: str, timed: bool) -> str:
    moved = f", changed_at_us = max(changed_at_us + 1, {_SQLITE_NOW})" if timed else ""
    return f"""UPDATE response_tallies SET valid = valid - ({row}.status = 'valid'),
        flagged = flagged - ({row}.status = 'flagged'), excluded = excluded - ({row}.status = 'excluded'),
        revision = revision + 1{moved}
      WHERE month = strftime('%Y-%m', {row}.submitted_at, '+7 hours') AND instrument_id = {row}.instrument_id
        AND unit_id = {row}.unit_id AND instrument_version = {row}.instrument_version;"""


def _sqlite_tally_triggers(timed: bool) -> list[str]:
    return [
        f"CREATE TRIGGER responses_tally_insert AFTER INSERT ON responses "
        f"BEGIN {_sqlite_add('NEW', timed)} END",
        f"CREATE TRIGGER responses_tally_delete AFTER DELETE ON responses "
        f"BEGIN {_sqlite_take('OLD', timed)} END",
        f"""CREATE TRIGGER responses_tally_update AFTER UPDATE OF {_WATCHED} ON responses
        BEGIN {_sqlite_take('OLD', timed)} {_sqlite_add('NEW', timed)} END""",
    ]


_PG_MONTH = "to_char(({row}.submitted_at AT TIME ZONE 'UTC') + interval '7 hours', 'YYYY-MM')"


def _pg_tally_functions(timed: bool) -> list[str]:
    extra = ", changed_at_us" if timed else ""
    value = f", {_PG_NOW}" if timed else ""
    moved = f", changed_at_us = greatest(response_tallies.changed_at_us + 1, {_PG_NOW})" if timed else ""
    cleared = f", changed_at_us = greatest(changed_at_us + 1, {_PG_NOW})" if timed else ""
    return [
        f"""CREATE OR REPLACE FUNCTION response_tallies_count() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE response_tallies SET valid = valid - (OLD.status = 'valid')::int,
              flagged = flagged - (OLD.status = 'flagged')::int,
              excluded = response_tallies.excluded - (OLD.status = 'excluded')::int,
              revision = revision + 1{moved}
            WHERE month = {_PG_MONTH.format(row='OLD')} AND instrument_id = OLD.instrument_id
              AND unit_id = OLD.unit_id AND instrument_version = OLD.instrument_version;
          END IF;
          IF TG_OP IN ('UPDATE', 'INSERT') THEN
            INSERT INTO response_tallies {_COLUMNS.format(extra=extra)}
            VALUES ({_PG_MONTH.format(row='NEW')}, NEW.instrument_id, NEW.unit_id, NEW.instrument_version,
                    {_counts('NEW', '::int')}, 1{value})
            ON CONFLICT {_KEY} DO UPDATE SET valid = response_tallies.valid + (NEW.status = 'valid')::int,
              flagged = response_tallies.flagged + (NEW.status = 'flagged')::int,
              excluded = response_tallies.excluded + (NEW.status = 'excluded')::int,
              revision = response_tallies.revision + 1{moved};
          END IF;
          RETURN NULL;
        END $$""",
        f"""CREATE OR REPLACE FUNCTION response_tallies_clear() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE response_tallies SET valid = 0, flagged = 0, excluded = 0, revision = revision + 1{cleared};
          RETURN NULL;
        END $$""",
    ]


def _move(table: str, postgresql: bool, timed: bool) -> str:
    if not timed:
        return f"UPDATE {table} SET revision = revision + 1"
    if postgresql:
        return f"UPDATE {table} SET revision = greatest(revision + 1, {_PG_NOW})"
    return f"UPDATE {table} SET revision = max(revision + 1, {_SQLITE_NOW})"


def _revision_triggers(postgresql: bool, timed: bool) -> list[str]:
    """The one-row revisions' triggers (PostgreSQL: their functions, the triggers stay)."""
    statements = []
    for table, function, sources in _REVISIONS:
        if postgresql:
            statements.append(f"""CREATE OR REPLACE FUNCTION {function}() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              {_move(table, True, timed)};
              RETURN NULL;
            END $$""")
            continue
        for source in sources:
            for event in ("INSERT", "UPDATE", "DELETE"):
                name = f"{source}_revision_{event.lower()}"
                statements += [f"DROP TRIGGER {name}",
                               f"CREATE TRIGGER {name} AFTER {event} ON {source} "
                               f"BEGIN {_move(table, False, timed)}; END"]
    return statements


def _apply(timed: bool) -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        statements = _pg_tally_functions(timed)
    else:
        statements = [f"DROP TRIGGER {name}" for name in
                      ("responses_tally_insert", "responses_tally_delete", "responses_tally_update")]
        statements += _sqlite_tally_triggers(timed)
    for statement in statements + _revision_triggers(postgresql, timed):
        op.execute(statement)


def upgrade():
    # a plain ADD COLUMN on both engines (a batch copy of the table would be needless here)
    op.add_column('response_tallies',
                  sa.Column('changed_at_us', sa.BigInteger(), server_default="0", nullable=False))
    _apply(timed=True)


def downgrade():
    _apply(timed=False)
    op.drop_column('response_tallies', 'changed_at_us')
