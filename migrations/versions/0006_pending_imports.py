"""import previews: an upload between its preview and its confirmation, sealed

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from webauth.migrating import dropping


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pending_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('format_id', sa.String(length=32), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('payload_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid')
    )
    with op.batch_alter_table('pending_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_imports_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pending_imports_expires_at'), ['expires_at'], unique=False)


def downgrade():
    dropping('pending_imports')  # counted: refused without --force when they hold rows
    with op.batch_alter_table('pending_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_imports_expires_at'))
        batch_op.drop_index(batch_op.f('ix_pending_imports_user_id'))

    op.drop_table('pending_imports')
