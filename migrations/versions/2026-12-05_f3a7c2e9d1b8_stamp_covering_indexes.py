"""index_aggregates (month, unit_id, respondents, id) and responses (unit_id, status, submitted_at,
instrument_id, instrument_version, id): the dashboards' data stamps of a window read from indexes
alone, without the aggregates' kilobyte rows nor every unit's flagged responses

Revision ID: f3a7c2e9d1b8
Revises: e8b2c4d6f0a1
Create Date: 2026-12-05 04:20:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f3a7c2e9d1b8'
down_revision = 'e8b2c4d6f0a1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('index_aggregates', schema=None) as batch_op:
        batch_op.create_index('ix_index_aggregates_month_unit', ['month', 'unit_id', 'respondents', 'id'],
                              unique=False)
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.create_index('ix_responses_unit_status_submitted',
                              ['unit_id', 'status', 'submitted_at', 'instrument_id', 'instrument_version', 'id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index('ix_responses_unit_status_submitted')
    with op.batch_alter_table('index_aggregates', schema=None) as batch_op:
        batch_op.drop_index('ix_index_aggregates_month_unit')
