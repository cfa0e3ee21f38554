"""responses: the (status, submitted_at) index becomes (status, submitted_at, unit_id, instrument_id,
instrument_version), so that the dashboards count a window's valid responses per unit and instrument
from the index alone (a covering index), without reading a million rows

Revision ID: e8b2c4d6f0a1
Revises: d4a5b1c2e3f6
Create Date: 2026-12-04 20:15:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e8b2c4d6f0a1'
down_revision = 'd4a5b1c2e3f6'
branch_labels = None
depends_on = None

COLUMNS = ['status', 'submitted_at', 'unit_id', 'instrument_id', 'instrument_version']


def upgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index('ix_responses_status_submitted')
        batch_op.create_index('ix_responses_status_submitted_unit', COLUMNS, unique=False)


def downgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index('ix_responses_status_submitted_unit')
        batch_op.create_index('ix_responses_status_submitted', ['status', 'submitted_at'], unique=False)
