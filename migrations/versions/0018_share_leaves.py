"""share leaves: a recipient takes a team's or Casdoor group's share off their own list

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 02:45:00.000000

"""
from alembic import op
import sqlalchemy as sa

from webauth.migrating import dropping


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('share_leaves',
    sa.Column('share_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['share_id'], ['shares.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('share_id', 'user_id')
    )
    op.create_index('ix_share_leaves_user_id', 'share_leaves', ['user_id'])


def downgrade():
    # Counted: refused without --force when recipients have left group shares (they would see them again).
    dropping('share_leaves')
    op.drop_table('share_leaves')
