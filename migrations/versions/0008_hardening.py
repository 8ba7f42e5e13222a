"""hardening: the first-run marker row, and Casdoor accounts waiting to be confirmed before connecting

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('instance_setup',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('admin_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('id = 1', name='ck_instance_setup_single_row'),
    sa.ForeignKeyConstraint(['admin_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    # An instance that already has users was set up before this marker existed.
    op.execute(
        "INSERT INTO instance_setup (id, done_at) SELECT 1, CURRENT_TIMESTAMP WHERE EXISTS (SELECT 1 FROM users)"
    )
    op.create_table('casdoor_connect_offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('issuer', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('casdoor_id', sa.String(length=255), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('tokens_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid')
    )
    with op.batch_alter_table('casdoor_connect_offers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_casdoor_connect_offers_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_casdoor_connect_offers_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('casdoor_connect_offers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_casdoor_connect_offers_expires_at'))
        batch_op.drop_index(batch_op.f('ix_casdoor_connect_offers_user_id'))

    op.drop_table('casdoor_connect_offers')
    op.drop_table('instance_setup')
