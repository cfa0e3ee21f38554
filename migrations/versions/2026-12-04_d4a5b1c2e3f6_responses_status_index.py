"""responses: index (status, submitted_at), so that the dashboards' caches read the responses left out
(flagged, excluded) of a window without walking the valid ones

Revision ID: d4a5b1c2e3f6
Revises: a9e3c1d2f4b7
Create Date: 2026-12-04 17:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd4a5b1c2e3f6'
down_revision = 'a9e3c1d2f4b7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.create_index('ix_responses_status_submitted', ['status', 'submitted_at'], unique=False)


def downgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index('ix_responses_status_submitted')
