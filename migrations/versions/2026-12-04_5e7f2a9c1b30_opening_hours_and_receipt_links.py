"""opening hours per unit and per counter (responses outside them are flagged); responses sent
through a per-dossier survey link are marked receipt_verified

Revision ID: 5e7f2a9c1b30
Revises: 7a3c9e1f04b2
Create Date: 2026-12-04 15:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '5e7f2a9c1b30'
down_revision = '7a3c9e1f04b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opening_hours', sa.String(length=300), nullable=True))
    with op.batch_alter_table('counters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opening_hours', sa.String(length=300), nullable=True))
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_verified', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_column('receipt_verified')
    with op.batch_alter_table('counters', schema=None) as batch_op:
        batch_op.drop_column('opening_hours')
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_column('opening_hours')
