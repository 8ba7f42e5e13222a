"""backups: each user's scheduled backups, their Aegis password slot, targets and last outcome

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 20:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('backup_plans',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('folder', sa.String(length=255), nullable=False),
    sa.Column('slot', sa.JSON(), nullable=False),
    sa.Column('master_key_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('password_set_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('webdav_url', sa.String(length=1024), nullable=False),
    sa.Column('webdav_username', sa.String(length=255), nullable=False),
    sa.Column('webdav_password_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('state_digest', sa.String(length=64), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_backup_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_file', sa.String(length=255), nullable=False),
    sa.Column('last_size', sa.BigInteger(), nullable=False),
    sa.Column('last_accounts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=32), nullable=True),
    sa.Column('last_error_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id'),
    sa.UniqueConstraint('folder')
    )


def downgrade():
    op.drop_table('backup_plans')
