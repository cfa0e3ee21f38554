"""response_tallies: valid responses per local month, instrument version and unit, kept by triggers on
responses (whatever writes them), filled from the responses present

Revision ID: a9d4e6f1c3b7
Revises: f3a7c2e9d1b8
Create Date: 2026-12-05 09:00:00.000000

The month is the local month at UTC+7 (Asia/Ho_Chi_Minh since 1975), the same expression on both
engines. A migration is a frozen copy: the app has its own (services/reporting/response_tallies.py)
expression for `flask aggregates rebuild`; test_response_tallies checks that the two count alike.
A later SQLite migration that rebuilds `responses` in batch mode drops these triggers with the old
table: it must create them again (test_response_tallies fails at head otherwise).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a9d4e6f1c3b7'
down_revision = 'f3a7c2e9d1b8'
branch_labels = None
depends_on = None

_KEY = "(month, instrument_id, unit_id, instrument_version)"
_COLUMNS = "(month, instrument_id, unit_id, instrument_version, valid)"

_SQLITE_MONTH = "strftime('%Y-%m', {row}.submitted_at, '+7 hours')"
_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER responses_tally_insert AFTER INSERT ON responses
    WHEN NEW.status = 'valid'
    BEGIN
      INSERT INTO response_tallies {_COLUMNS}
      SELECT {_SQLITE_MONTH.format(row='NEW')}, NEW.instrument_id, NEW.unit_id, NEW.instrument_version, 1
      WHERE true
      ON CONFLICT {_KEY} DO UPDATE SET valid = valid + 1;
    END""",
    f"""CREATE TRIGGER responses_tally_delete AFTER DELETE ON responses
    WHEN OLD.status = 'valid'
    BEGIN
      UPDATE response_tallies SET valid = valid - 1
      WHERE month = {_SQLITE_MONTH.format(row='OLD')} AND instrument_id = OLD.instrument_id
        AND unit_id = OLD.unit_id AND instrument_version = OLD.instrument_version;
    END""",
    f"""CREATE TRIGGER responses_tally_update
    AFTER UPDATE OF status, unit_id, submitted_at, instrument_id, instrument_version ON responses
    WHEN OLD.status = 'valid' OR NEW.status = 'valid'
    BEGIN
      UPDATE response_tallies SET valid = valid - 1
      WHERE OLD.status = 'valid' AND month = {_SQLITE_MONTH.format(row='OLD')}
        AND instrument_id = OLD.instrument_id AND unit_id = OLD.unit_id
        AND instrument_version = OLD.instrument_version;
      INSERT INTO response_tallies {_COLUMNS}
      SELECT {_SQLITE_MONTH.format(row='NEW')}, NEW.instrument_id, NEW.unit_id, NEW.instrument_version, 1
      WHERE NEW.status = 'valid'
      ON CONFLICT {_KEY} DO UPDATE SET valid = valid + 1;
    END""",
]

_POSTGRESQL_MONTH = "to_char(({row}.submitted_at AT TIME ZONE 'UTC') + interval '7 hours', 'YYYY-MM')"
_POSTGRESQL_TRIGGERS = [
    f"""CREATE FUNCTION response_tallies_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'valid' THEN
        UPDATE response_tallies SET valid = valid - 1
        WHERE month = {_POSTGRESQL_MONTH.format(row='OLD')} AND instrument_id = OLD.instrument_id
          AND unit_id = OLD.unit_id AND instrument_version = OLD.instrument_version;
      END IF;
      IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.status = 'valid' THEN
        INSERT INTO response_tallies {_COLUMNS}
        VALUES ({_POSTGRESQL_MONTH.format(row='NEW')}, NEW.instrument_id, NEW.unit_id,
                NEW.instrument_version, 1)
        ON CONFLICT {_KEY} DO UPDATE SET valid = response_tallies.valid + 1;
      END IF;
      RETURN NULL;
    END $$""",
    """CREATE TRIGGER responses_tally AFTER INSERT OR DELETE
    OR UPDATE OF status, unit_id, submitted_at, instrument_id, instrument_version ON responses
    FOR EACH ROW EXECUTE FUNCTION response_tallies_count()""",
    # TRUNCATE fires no row trigger
    """CREATE FUNCTION response_tallies_clear() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM response_tallies;
      RETURN NULL;
    END $$""",
    """CREATE TRIGGER responses_tally_truncate AFTER TRUNCATE ON responses
    FOR EACH STATEMENT EXECUTE FUNCTION response_tallies_clear()""",
]


def upgrade():
    op.create_table(
        'response_tallies',
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('instrument_id', sa.String(length=40), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('instrument_version', sa.String(length=20), nullable=False),
        sa.Column('valid', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('month', 'instrument_id', 'unit_id', 'instrument_version',
                                name=op.f('pk_response_tallies')),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:  # no response may be stored between the count and the triggers
        op.execute("LOCK TABLE responses IN SHARE MODE")
    month = (_POSTGRESQL_MONTH if postgresql else _SQLITE_MONTH).format(row="responses")
    op.execute(f"INSERT INTO response_tallies {_COLUMNS} "
               f"SELECT {month}, instrument_id, unit_id, instrument_version, count(*) FROM responses "
               f"WHERE status = 'valid' GROUP BY 1, 2, 3, 4")
    for statement in _POSTGRESQL_TRIGGERS if postgresql else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER responses_tally_truncate ON responses")
        op.execute("DROP TRIGGER responses_tally ON responses")
        op.execute("DROP FUNCTION response_tallies_clear()")
        op.execute("DROP FUNCTION response_tallies_count()")
    else:
        for name in ("responses_tally_update", "responses_tally_delete", "responses_tally_insert"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table('response_tallies')
