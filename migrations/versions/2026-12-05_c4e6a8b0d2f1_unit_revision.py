"""unit_revision: one row that triggers on units move at every insert, update and delete, so that the
dashboards' cached figures (names, tree, subtrees) see a unit renamed, moved or added at once

Revision ID: c4e6a8b0d2f1
Revises: d1e5f7a3b9c2
Create Date: 2026-12-05 14:00:00.000000

A later SQLite migration that rebuilds `units` in batch mode drops these triggers with the old table:
it must create them again (test_unit_revision fails at head otherwise).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c4e6a8b0d2f1'
down_revision = 'd1e5f7a3b9c2'
branch_labels = None
depends_on = None

_MOVE = "UPDATE unit_revision SET revision = revision + 1"
_SQLITE_TRIGGERS = [f"CREATE TRIGGER units_revision_{event.lower()} AFTER {event} ON units BEGIN {_MOVE}; END"
                    for event in ("INSERT", "UPDATE", "DELETE")]
_POSTGRESQL_TRIGGERS = [
    f"""CREATE OR REPLACE FUNCTION unit_revision_move() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      {_MOVE};
      RETURN NULL;
    END $$""",
    # once per statement: an import of a thousand units moves it once
    """CREATE TRIGGER units_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON units
    FOR EACH STATEMENT EXECUTE FUNCTION unit_revision_move()""",
]


def upgrade():
    op.create_table(
        'unit_revision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('revision', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_revision')),
    )
    op.execute("INSERT INTO unit_revision (id, revision) VALUES (1, 0)")
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRESQL_TRIGGERS if postgresql else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER units_revision ON units")
        op.execute("DROP FUNCTION unit_revision_move()")
    else:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER units_revision_{event}")
    op.drop_table('unit_revision')
