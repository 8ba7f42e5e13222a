"""nothing lost: the duplicate rule in the database, and a heartbeat row for /healthz

A live account is one of a kind per user: a unique index over user, the keyed fingerprint of
type and secret, issuer and name, for accounts not in the trash (a partial index, on SQLite
and PostgreSQL alike). Two identical adds at the same instant could both be stored before;
such copies are moved to the trash here, the earliest of each kept, each with an audit event
(`account.delete`, source `migration`), and the number is logged: nothing is deleted.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 18:00:00.000000

"""
import logging
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

accounts = sa.table(
    "accounts",
    sa.column("id", sa.Integer), sa.column("uuid", sa.String), sa.column("user_id", sa.Integer),
    sa.column("secret_digest", sa.String), sa.column("issuer", sa.String), sa.column("name", sa.String),
    sa.column("revision", sa.Integer), sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("deleted_at", sa.DateTime(timezone=True)),
)
audit_events = sa.table(
    "audit_events",
    sa.column("at", sa.DateTime(timezone=True)), sa.column("event", sa.String), sa.column("user_id", sa.Integer),
    sa.column("username", sa.String), sa.column("ip", sa.String), sa.column("user_agent", sa.String),
    sa.column("details", sa.JSON),
)


def _trash_duplicates(bind) -> int:
    """Move every live copy but the first of an account to the trash; returns how many moved."""
    rows = bind.execute(
        sa.select(accounts.c.id, accounts.c.uuid, accounts.c.user_id, accounts.c.secret_digest,
                  accounts.c.issuer, accounts.c.name)
        .where(accounts.c.deleted_at.is_(None))
        .order_by(accounts.c.id)
    ).all()
    seen: set[tuple] = set()
    now = datetime.now(UTC)
    moved = 0
    for account_id, account_uuid, user_id, digest, issuer, name in rows:
        key = (user_id, digest, issuer, name)
        if key not in seen:
            seen.add(key)
            continue
        bind.execute(
            accounts.update().where(accounts.c.id == account_id)
            .values(deleted_at=now, updated_at=now, revision=accounts.c.revision + 1)
        )
        bind.execute(audit_events.insert().values(
            at=now, event="account.delete", user_id=user_id, username="", ip="", user_agent="",
            details={"account": account_uuid, "source": "migration"},
        ))
        moved += 1
    return moved


def upgrade():
    moved = _trash_duplicates(op.get_bind())
    if moved:
        log.warning("0009: moved %d duplicate account(s) to the trash (the earliest copy of each stays; "
                    "each move is in the audit log)", moved)
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index(
            'uq_accounts_live_identity', ['user_id', 'secret_digest', 'issuer', 'name'], unique=True,
            sqlite_where=sa.text('deleted_at IS NULL'), postgresql_where=sa.text('deleted_at IS NULL'),
        )
    heartbeat = op.create_table('heartbeat',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('beat_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.bulk_insert(heartbeat, [{"id": 1, "beat_at": None}])


def downgrade():
    # Drops an index and the heartbeat row: no user data.
    op.drop_table('heartbeat')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index('uq_accounts_live_identity')
