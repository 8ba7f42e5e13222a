"""administration: the settings table, and an index for sign-in history by username

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 14:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from webauth.migrating import dropping


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_username_at', ['username', 'at'], unique=False)


def downgrade():
    dropping('settings')  # counted: refused without --force when they hold rows
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_username_at')

    op.drop_table('settings')
