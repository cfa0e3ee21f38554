"""kiosk devices: counter tablets registered by a manager

Revision ID: b7c4e19a2d53
Revises: 1a7e9c0d4b21
Create Date: 2026-12-04 13:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7c4e19a2d53'
down_revision = '1a7e9c0d4b21'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('kiosk_devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('counter_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['counter_id'], ['counters.id'], name=op.f('fk_kiosk_devices_counter_id_counters')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_kiosk_devices_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kiosk_devices'))
    )
    with op.batch_alter_table('kiosk_devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kiosk_devices_counter_id'), ['counter_id'], unique=False)


def downgrade():
    with op.batch_alter_table('kiosk_devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kiosk_devices_counter_id'))
    op.drop_table('kiosk_devices')
