"""sharing: accounts shared with users, local teams and Casdoor groups (codes, never secrets)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 23:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

from webauth.migrating import dropping


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

_ONE_RECIPIENT = (
    "(CASE WHEN recipient_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN team_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN casdoor_group IS NULL THEN 0 ELSE 1 END) = 1"
)


def upgrade():
    op.create_table('teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('team_members',
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('team_id', 'user_id')
    )
    op.create_index('ix_team_members_user_id', 'team_members', ['user_id'])
    op.create_table('user_casdoor_groups',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'name')
    )
    op.create_index('ix_user_casdoor_groups_name', 'user_casdoor_groups', ['name'])
    op.create_table('shares',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('casdoor_group', sa.String(length=255), nullable=True),
    sa.Column('allow_hotp_next', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(_ONE_RECIPIENT, name='ck_shares_one_recipient'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'recipient_id', name='uq_shares_account_user'),
    sa.UniqueConstraint('account_id', 'team_id', name='uq_shares_account_team'),
    sa.UniqueConstraint('account_id', 'casdoor_group', name='uq_shares_account_group')
    )
    op.create_index('ix_shares_recipient_id', 'shares', ['recipient_id'])
    op.create_index('ix_shares_team_id', 'shares', ['team_id'])
    op.create_index('ix_shares_casdoor_group', 'shares', ['casdoor_group'])


def downgrade():
    # Counted: refused without --force when people shared accounts or an administrator made teams.
    dropping('shares', 'team_members', 'teams')  # a user's Casdoor groups come back at the next sign-in
    op.drop_table('shares')
    op.drop_table('user_casdoor_groups')
    op.drop_table('team_members')
    op.drop_table('teams')
