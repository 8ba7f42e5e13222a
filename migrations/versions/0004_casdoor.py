"""casdoor: each user's link to Casdoor (sealed tokens, sync base, status, lease) and account marks

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from webauth.migrating import dropping


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('casdoor_links',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('casdoor_id', sa.String(length=255), nullable=False),
    sa.Column('access_token_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('access_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refresh_token_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('base_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('pending_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_result', sa.String(length=16), nullable=True),
    sa.Column('last_error', sa.String(length=32), nullable=True),
    sa.Column('last_detail', sa.Text(), nullable=False),
    sa.Column('last_summary', sa.JSON(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lock_token', sa.String(length=32), nullable=True),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('casdoor_marks',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id')
    )
    with op.batch_alter_table('casdoor_marks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_casdoor_marks_user_id'), ['user_id'], unique=False)


def downgrade():
    dropping('casdoor_marks', 'casdoor_links')  # counted: refused without --force when they hold rows
    with op.batch_alter_table('casdoor_marks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_casdoor_marks_user_id'))

    op.drop_table('casdoor_marks')
    op.drop_table('casdoor_links')
