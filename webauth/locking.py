"""Locks held by a database transaction, for the few steps that read, decide and write.

Most changes are single statements that the database orders by itself (a conditional UPDATE,
a DELETE with its condition). A few steps must read first and write after, and two of them
interleaved would lose something: adding an account (is it there already? which position is
last?), rotating the keyring, applying the migrations. Those take a named lock that the
transaction holds until it commits or rolls back, in every process and on every machine that
shares the database:

- PostgreSQL: `pg_advisory_xact_lock(namespace, key)`; locks of different names or keys do
  not wait for each other (two users add accounts at the same time).
- SQLite: the database's one write lock, taken at the start (`BEGIN IMMEDIATE`), so what the
  transaction reads afterwards is what it writes over. SQLite serialises every writer anyway;
  this makes the read part of it. A transaction that has written already holds it.
"""

from __future__ import annotations

import zlib

from sqlalchemy import text
from sqlalchemy.engine import Connection


def _namespace(name: str) -> int:
    """A stable signed 32-bit number for a lock's name (PostgreSQL's two-key advisory locks take int4)."""
    value = zlib.crc32(f"webauth:{name}".encode())
    return value - 2**32 if value >= 2**31 else value


def hold_transaction_lock(connection: Connection, name: str, key: int = 0) -> None:
    """Wait until this connection's transaction holds the lock `name` (for `key`), kept until it ends."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
                           {"namespace": _namespace(name), "key": key})
    elif dialect == "sqlite":
        raw = connection.connection.driver_connection
        # pysqlite opens a transaction only before a write: none open means no write lock held yet.
        if raw is not None and not raw.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
