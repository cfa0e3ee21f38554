"""counter_revision: one row that triggers on counters and instrument_assignments move at every insert,
update and delete, so that the counter lines kept per process (a citizen's form opened without reading
the counter, its units and their assignments again) see a counter revoked, moved or reassigned at once

Revision ID: e8b2d4f6a1c3
Revises: c4e6a8b0d2f1
Create Date: 2026-12-05 16:00:00.000000

A later SQLite migration that rebuilds `counters` or `instrument_assignments` in batch mode drops these
triggers with the old table: it must create them again (test_counter_lines fails at head otherwise).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e8b2d4f6a1c3'
down_revision = 'c4e6a8b0d2f1'
branch_labels = None
depends_on = None

_TABLES = ("counters", "instrument_assignments")
_MOVE = "UPDATE counter_revision SET revision = revision + 1"
_SQLITE_TRIGGERS = [f"CREATE TRIGGER {table}_revision_{event.lower()} AFTER {event} ON {table} BEGIN {_MOVE}; END"
                    for table in _TABLES for event in ("INSERT", "UPDATE", "DELETE")]
_POSTGRESQL_TRIGGERS = [
    f"""CREATE OR REPLACE FUNCTION counter_revision_move() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      {_MOVE};
      RETURN NULL;
    END $$""",
    # once per statement: an import of a thousand counters moves it once
    *(f"""CREATE TRIGGER {table}_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION counter_revision_move()""" for table in _TABLES),
]


def upgrade():
    op.create_table(
        'counter_revision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('revision', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_counter_revision')),
    )
    op.execute("INSERT INTO counter_revision (id, revision) VALUES (1, 0)")
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRESQL_TRIGGERS if postgresql else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"DROP TRIGGER {table}_revision ON {table}")
        op.execute("DROP FUNCTION counter_revision_move()")
    else:
        for table in _TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_revision_{event}")
    op.drop_table('counter_revision')
