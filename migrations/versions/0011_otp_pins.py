"""otp pins: the sealed PIN of mOTP and Yandex accounts

The PIN is secret material, sealed with the user's data key like the secret (its own
associated data, see vault.py); NULL for the other types, so existing rows need nothing.

Going back below this revision drops the PINs, and the code of that revision knows no mOTP or
Yandex account: their rows are counted (refused without --force) and deleted with what hangs
on them, so the older code finds no account it cannot read.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from webauth.migrating import dropping_rows


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pin_sealed', sa.LargeBinary(), nullable=True))


def downgrade():
    accounts = sa.table('accounts', sa.column('id'), sa.column('type'))
    pin_accounts = sa.select(accounts.c.id).where(accounts.c.type.in_(('motp', 'yandex')))
    count = op.get_bind().scalar(sa.select(sa.func.count()).select_from(pin_accounts.subquery()))
    dropping_rows('mOTP and Yandex accounts', count or 0)  # refused without --force when there are any
    for name in ('account_groups', 'account_icons', 'casdoor_marks'):
        dependent = sa.table(name, sa.column('account_id'))
        op.execute(dependent.delete().where(dependent.c.account_id.in_(pin_accounts)))
    op.execute(accounts.delete().where(accounts.c.id.in_(pin_accounts)))
    # Not a batch: on SQLite a batch copies the table and drops the old one, and the drop would
    # cascade to every account's groups, icon and Casdoor mark. SQLite 3.35+ drops a column itself.
    op.drop_column('accounts', 'pin_sealed')
