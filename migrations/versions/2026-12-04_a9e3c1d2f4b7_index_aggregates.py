"""index aggregates: integer sums of the valid responses per unit, procedure field, local month and
instrument version (the dashboard reads them instead of the responses; `flask aggregates rebuild` fills them)

Revision ID: a9e3c1d2f4b7
Revises: 5e1d0c7a9b34
Create Date: 2026-12-04 14:46:33.004533

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a9e3c1d2f4b7'
down_revision = '5e1d0c7a9b34'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('index_aggregates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('procedure_field', sa.String(length=60), nullable=False),
    sa.Column('instrument_id', sa.String(length=40), nullable=False),
    sa.Column('instrument_version', sa.String(length=20), nullable=False),
    sa.Column('respondents', sa.Integer(), nullable=False),
    sa.Column('sums', sa.LargeBinary(), nullable=False),
    sa.CheckConstraint('respondents >= 0', name=op.f('ck_index_aggregates_respondents_non_negative')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_index_aggregates_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_index_aggregates')),
    sa.UniqueConstraint('unit_id', 'month', 'instrument_id', 'instrument_version', 'procedure_field', name='uq_index_aggregates_cell')
    )


def downgrade():
    op.drop_table('index_aggregates')
