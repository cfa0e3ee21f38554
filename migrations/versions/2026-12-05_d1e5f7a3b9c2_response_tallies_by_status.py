"""response_tallies count flagged and excluded responses too, and a revision that every change of a
key's responses moves (status reasons included): the dashboards' data stamps read them instead of the
responses left out

Revision ID: d1e5f7a3b9c2
Revises: a9d4e6f1c3b7
Create Date: 2026-12-05 09:20:00.000000

The triggers of a9d4e6f1c3b7 are replaced; the counts are made again from the responses present.
The month is the local month at UTC+7 (Asia/Ho_Chi_Minh since 1975), the same expression on both
engines (the app's own is in services/reporting/response_tallies.py; test_response_tallies checks
that they count alike). A later SQLite migration that rebuilds `responses` in batch mode drops these
triggers with the old table: it must create them again (test_response_tallies fails at head otherwise).
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd1e5f7a3b9c2'
down_revision = 'a9d4e6f1c3b7'
branch_labels = None
depends_on = None

_KEY = "(month, instrument_id, unit_id, instrument_version)"
_COLUMNS = "(month, instrument_id, unit_id, instrument_version, valid, flagged, excluded, revision)"
_WATCHED = "status, status_reason, unit_id, submitted_at, instrument_id, instrument_version"


def _counts(row: str, cast: str) -> str:
    """valid, flagged, excluded: 1 for the row's status, 0 for the others."""
    return ", ".join(f"({row}.status = '{status}'){cast}" for status in ("valid", "flagged", "excluded"))


def _sqlite_add(row: str) -> str:
    return f"""INSERT INTO response_tallies {_COLUMNS}
      SELECT strftime('%Y-%m', {row}.submitted_at, '+7 hours'), {row}.instrument_id, {row}.unit_id,
             {row}.instrument_version, {_counts(row, '')}, 1
      WHERE true
      ON CONFLICT {_KEY} DO UPDATE SET valid = valid + ({row}.status = 'valid'),
        flagged = flagged + ({row}.status = 'flagged'), excluded = excluded + ({row}.status = 'excluded'),
        revision = revision + 1;"""


def _sqlite_take(row: str) -> str:
    return f"""UPDATE response_tallies SET valid = valid - ({row}.status = 'valid'),
        flagged = flagged - ({row}.status = 'flagged'), excluded = excluded - ({row}.status = 'excluded'),
        revision = revision + 1
      WHERE month = strftime('%Y-%m', {row}.submitted_at, '+7 hours') AND instrument_id = {row}.instrument_id
        AND unit_id = {row}.unit_id AND instrument_version = {row}.instrument_version;"""


_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER responses_tally_insert AFTER INSERT ON responses BEGIN {_sqlite_add('NEW')} END",
    f"CREATE TRIGGER responses_tally_delete AFTER DELETE ON responses BEGIN {_sqlite_take('OLD')} END",
    f"""CREATE TRIGGER responses_tally_update AFTER UPDATE OF {_WATCHED} ON responses
    BEGIN {_sqlite_take('OLD')} {_sqlite_add('NEW')} END""",
]

_PG_MONTH = "to_char(({row}.submitted_at AT TIME ZONE 'UTC') + interval '7 hours', 'YYYY-MM')"
_POSTGRESQL_TRIGGERS = [
    f"""CREATE OR REPLACE FUNCTION response_tallies_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE response_tallies SET valid = valid - (OLD.status = 'valid')::int,
          flagged = flagged - (OLD.status = 'flagged')::int,
          excluded = response_tallies.excluded - (OLD.status = 'excluded')::int, revision = revision + 1
        WHERE month = {_PG_MONTH.format(row='OLD')} AND instrument_id = OLD.instrument_id
          AND unit_id = OLD.unit_id AND instrument_version = OLD.instrument_version;
      END IF;
      IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO response_tallies {_COLUMNS}
        VALUES ({_PG_MONTH.format(row='NEW')}, NEW.instrument_id, NEW.unit_id, NEW.instrument_version,
                {_counts('NEW', '::int')}, 1)
        ON CONFLICT {_KEY} DO UPDATE SET valid = response_tallies.valid + (NEW.status = 'valid')::int,
          flagged = response_tallies.flagged + (NEW.status = 'flagged')::int,
          excluded = response_tallies.excluded + (NEW.status = 'excluded')::int,
          revision = response_tallies.revision + 1;
      END IF;
      RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER responses_tally AFTER INSERT OR DELETE OR UPDATE OF {_WATCHED} ON responses
    FOR EACH ROW EXECUTE FUNCTION response_tallies_count()""",
]


def _recount(postgresql: bool) -> None:
    month = (_PG_MONTH.format(row="responses") if postgresql
             else "strftime('%Y-%m', responses.submitted_at, '+7 hours')")
    cast = "::int" if postgresql else ""
    op.execute("DELETE FROM response_tallies")
    op.execute(f"INSERT INTO response_tallies {_COLUMNS} "
               f"SELECT {month}, instrument_id, unit_id, instrument_version, "
               + ", ".join(f"sum((status = '{status}'){cast})" for status in ("valid", "flagged", "excluded"))
               + ", count(*) FROM responses GROUP BY 1, 2, 3, 4")


def _drop_triggers(postgresql: bool) -> None:
    if postgresql:
        op.execute("DROP TRIGGER responses_tally ON responses")
    else:
        for name in ("responses_tally_update", "responses_tally_delete", "responses_tally_insert"):
            op.execute(f"DROP TRIGGER {name}")


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:  # no response may be stored between the count and the triggers
        op.execute("LOCK TABLE responses IN SHARE MODE")
    _drop_triggers(postgresql)
    with op.batch_alter_table('response_tallies', schema=None) as batch_op:
        for column in ("flagged", "excluded", "revision"):
            batch_op.add_column(sa.Column(column, sa.Integer(), server_default="0", nullable=False))
    _recount(postgresql)
    for statement in _POSTGRESQL_TRIGGERS if postgresql else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    _drop_triggers(postgresql)
    with op.batch_alter_table('response_tallies', schema=None) as batch_op:
        for column in ("revision", "excluded", "flagged"):
            batch_op.drop_column(column)
    # the valid responses alone, and a9d4e6f1c3b7's triggers again (a migration is a frozen copy)
    month = (_PG_MONTH.format(row="responses") if postgresql
             else "strftime('%Y-%m', responses.submitted_at, '+7 hours')")
    op.execute("DELETE FROM response_tallies")
    op.execute("INSERT INTO response_tallies (month, instrument_id, unit_id, instrument_version, valid) "
               f"SELECT {month}, instrument_id, unit_id, instrument_version, count(*) FROM responses "
               "WHERE status = 'valid' GROUP BY 1, 2, 3, 4")
    if postgresql:
        op.execute("""CREATE OR REPLACE FUNCTION response_tallies_count() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'valid' THEN
            UPDATE response_tallies SET valid = valid - 1
            WHERE month = to_char((OLD.submitted_at AT TIME ZONE 'UTC') + interval '7 hours', 'YYYY-MM')
              AND instrument_id = OLD.instrument_id AND unit_id = OLD.unit_id
              AND instrument_version = OLD.instrument_version;
          END IF;
          IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.status = 'valid' THEN
            INSERT INTO response_tallies (month, instrument_id, unit_id, instrument_version, valid)
            VALUES (to_char((NEW.submitted_at AT TIME ZONE 'UTC') + interval '7 hours', 'YYYY-MM'),
                    NEW.instrument_id, NEW.unit_id, NEW.instrument_version, 1)
            ON CONFLICT (month, instrument_id, unit_id, instrument_version)
            DO UPDATE SET valid = response_tallies.valid + 1;
          END IF;
          RETURN NULL;
        END $$""")
        op.execute("""CREATE TRIGGER responses_tally AFTER INSERT OR DELETE
        OR UPDATE OF status, unit_id, submitted_at, instrument_id, instrument_version ON responses
        FOR EACH ROW EXECUTE FUNCTION response_tallies_count()""")
    else:
        month_of = "strftime('%Y-%m', {row}.submitted_at, '+7 hours')"
        key = "(month, instrument_id, unit_id, instrument_version)"
        columns = "(month, instrument_id, unit_id, instrument_version, valid)"
        op.execute(f"""CREATE TRIGGER responses_tally_insert AFTER INSERT ON responses
        WHEN NEW.status = 'valid'
        BEGIN
          INSERT INTO response_tallies {columns}
          SELECT {month_of.format(row='NEW')}, NEW.instrument_id, NEW.unit_id, NEW.instrument_version, 1
          WHERE true ON CONFLICT {key} DO UPDATE SET valid = valid + 1;
        END""")
        op.execute(f"""CREATE TRIGGER responses_tally_delete AFTER DELETE ON responses
        WHEN OLD.status = 'valid'
        BEGIN
          UPDATE response_tallies SET valid = valid - 1
          WHERE month = {month_of.format(row='OLD')} AND instrument_id = OLD.instrument_id
            AND unit_id = OLD.unit_id AND instrument_version = OLD.instrument_version;
        END""")
        op.execute(f"""CREATE TRIGGER responses_tally_update
        AFTER UPDATE OF status, unit_id, submitted_at, instrument_id, instrument_version ON responses
        WHEN OLD.status = 'valid' OR NEW.status = 'valid'
        BEGIN
          UPDATE response_tallies SET valid = valid - 1
          WHERE OLD.status = 'valid' AND month = {month_of.format(row='OLD')}
            AND instrument_id = OLD.instrument_id AND unit_id = OLD.unit_id
            AND instrument_version = OLD.instrument_version;
          INSERT INTO response_tallies {columns}
          SELECT {month_of.format(row='NEW')}, NEW.instrument_id, NEW.unit_id, NEW.instrument_version, 1
          WHERE NEW.status = 'valid'
          ON CONFLICT {key} DO UPDATE SET valid = valid + 1;
        END""")
