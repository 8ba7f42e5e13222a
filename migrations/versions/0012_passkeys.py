"""passkeys: users' WebAuthn credentials, the challenges waiting for an answer, and "passkey only"

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from webauth.migrating import dropping


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    # In place on both databases: ADD COLUMN and CREATE UNIQUE INDEX. A batch operation would
    # copy `users` and drop the old table on SQLite, and with foreign keys on, dropping `users`
    # deletes every account, session and device with it (ON DELETE CASCADE).
    op.add_column('users', sa.Column('passkey_handle', sa.LargeBinary(length=64), nullable=True))
    op.add_column('users', sa.Column('passkey_only', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index('ix_users_passkey_handle', 'users', ['passkey_handle'], unique=True)

    op.create_table('passkeys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.LargeBinary(length=1023), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('sign_count', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('transports', sa.JSON(), nullable=False),
    sa.Column('aaguid', sa.String(length=36), nullable=False),
    sa.Column('backed_up', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid'),
    sa.UniqueConstraint('credential_id')
    )
    op.create_index('ix_passkeys_user_id', 'passkeys', ['user_id'], unique=False)

    op.create_table('passkey_challenges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('challenge', sa.LargeBinary(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('browser_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('challenge')
    )
    op.create_index('ix_passkey_challenges_expires_at', 'passkey_challenges', ['expires_at'], unique=False)


def downgrade():
    dropping('passkeys')  # counted: refused without --force when they hold rows (challenges live two minutes)
    op.drop_index('ix_passkey_challenges_expires_at', table_name='passkey_challenges')
    op.drop_table('passkey_challenges')
    op.drop_index('ix_passkeys_user_id', table_name='passkeys')
    op.drop_table('passkeys')
    # In place again (SQLite 3.35+ drops a column that is not indexed), never a copy of `users`.
    op.drop_index('ix_users_passkey_handle', table_name='users')
    op.drop_column('users', 'passkey_only')
    op.drop_column('users', 'passkey_handle')
