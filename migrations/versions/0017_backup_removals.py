"""backup removals: stopping a user's backups, and removals owed to a target that was down

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 02:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    # Not batch mode: a nullable column is added in place on both databases.
    op.add_column('backup_plans', sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('backup_removals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('folder', sa.String(length=255), nullable=False),
    sa.Column('target', sa.String(length=32), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=64), nullable=True),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('folder', 'target', name='uq_backup_removals_folder_target')
    )


def downgrade():
    op.drop_table('backup_removals')
    # Not batch mode (a copy of the table on SQLite): SQLite 3.35+ and PostgreSQL drop it in place.
    op.drop_column('backup_plans', 'stopped_at')
