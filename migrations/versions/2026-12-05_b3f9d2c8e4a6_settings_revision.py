"""settings_revision: one row that triggers on served_counts and targets move at every insert, update and
delete, so that the dashboards' cached figures see every change of the frames and the targets at once
(their count, last id and sum, read before, stay where they were when a correction swaps two units'
numbers, and SQLite hands a deleted row's id out again)

Revision ID: b3f9d2c8e4a6
Revises: e8b2d4f6a1c3
Create Date: 2026-12-05 17:40:00.000000

A later SQLite migration that rebuilds `served_counts` or `targets` in batch mode drops these triggers
with the old table: it must create them again (tests/survey/test_migrations.py fails at head otherwise).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b3f9d2c8e4a6'
down_revision = 'e8b2d4f6a1c3'
branch_labels = None
depends_on = None

_TABLES = ("served_counts", "targets")
_MOVE = "UPDATE settings_revision SET revision = revision + 1"
_SQLITE_TRIGGERS = [f"CREATE TRIGGER {table}_revision_{event.lower()} AFTER {event} ON {table} "
                    f"BEGIN {_MOVE}; END"
                    for table in _TABLES for event in ("INSERT", "UPDATE", "DELETE")]
_POSTGRESQL_TRIGGERS = [
    f"""CREATE OR REPLACE FUNCTION settings_revision_move() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      {_MOVE};
      RETURN NULL;
    END $$""",
    # once per statement: an import of a province's month of frames moves it once
    *(f"""CREATE TRIGGER {table}_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION settings_revision_move()""" for table in _TABLES),
]


def upgrade():
    op.create_table(
        'settings_revision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('revision', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_settings_revision')),
    )
    op.execute("INSERT INTO settings_revision (id, revision) VALUES (1, 0)")
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRESQL_TRIGGERS if postgresql else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"DROP TRIGGER {table}_revision ON {table}")
        op.execute("DROP FUNCTION settings_revision_move()")
    else:
        for table in _TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_revision_{event}")
    op.drop_table('settings_revision')
