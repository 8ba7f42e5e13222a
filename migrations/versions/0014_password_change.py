"""password change: a reset password must be changed at the next sign-in

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 20:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    # Not batch mode (see downgrade): a column with a default is added in place on both databases.
    op.add_column(
        'users', sa.Column('must_change_password', sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade():
    # Not batch mode: on SQLite it would copy `users` to a new table and drop the old one, and
    # with foreign keys on, that drop deletes every user's accounts and sessions (ON DELETE
    # CASCADE). SQLite (3.35 and later) and PostgreSQL both drop a plain column in place.
    op.drop_column('users', 'must_change_password')
