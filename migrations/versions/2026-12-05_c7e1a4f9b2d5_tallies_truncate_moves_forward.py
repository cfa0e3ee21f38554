"""response_tallies on PostgreSQL: a TRUNCATE of responses sets every tally to zero and moves its revision
forward instead of deleting the tallies, so that no month's data version comes back for other data
(a revision started again at zero could meet one a cached figure was kept under)

Revision ID: c7e1a4f9b2d5
Revises: b3f9d2c8e4a6
Create Date: 2026-12-05 18:20:00.000000

SQLite has no TRUNCATE: nothing to change there.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c7e1a4f9b2d5'
down_revision = 'b3f9d2c8e4a6'
branch_labels = None
depends_on = None

_CLEAR = """CREATE OR REPLACE FUNCTION response_tallies_clear() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      {body};
      RETURN NULL;
    END $$"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_CLEAR.format(body="UPDATE response_tallies SET valid = 0, flagged = 0, excluded = 0, "
                                      "revision = revision + 1"))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_CLEAR.format(body="DELETE FROM response_tallies"))
