"""offline copies: one row per device that holds an offline copy of a vault

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from webauth.migrating import dropping


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('offline_devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid')
    )
    with op.batch_alter_table('offline_devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offline_devices_user_id'), ['user_id'], unique=False)


def downgrade():
    dropping('offline_devices')  # counted: refused without --force when they hold rows
    with op.batch_alter_table('offline_devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offline_devices_user_id'))

    op.drop_table('offline_devices')
