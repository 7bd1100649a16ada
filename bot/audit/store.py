"""Reading the audit tables for verification and export: one consistent snapshot, raw rows.

Verification may read millions of rows while the bot keeps writing, so it must neither block
writers (on SQLite bot.db's transactions take the write lock) nor see a checkpoint newer than
the entries it read: a read-only snapshot transaction on its own connection does both.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, create_engine, event, select, text

from bot.audit.canonical import format_at
from bot.audit.models import Checkpoint
from bot.platform.db import Database

BATCH = 10_000


@dataclass(frozen=True)
class StoredCheckpoint:
    id: int
    tree_size: int
    root_hash: str
    key_id: str
    note: str
    created_at: str  # RFC 3339, the chain's spelling


@contextmanager
def read_snapshot(db: Database) -> Iterator[Connection]:
    if db.is_sqlite:
        engine = create_engine(db.url, connect_args={"check_same_thread": False, "timeout": 10})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record) -> None:  # noqa: ANN001
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves

        @event.listens_for(engine, "begin")
        def _on_begin(conn) -> None:  # noqa: ANN001
            # Deferred BEGIN: a WAL read snapshot that never takes the write lock.
            conn.exec_driver_sql("BEGIN")

        try:
            with engine.connect() as conn, conn.begin():
                yield conn
        finally:
            engine.dispose()
    else:
        with db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                yield conn


_CURSORS = itertools.count(1)


def stream(conn: Connection, sql: str, params: Sequence = ()) -> Iterator[tuple]:
    """Plain tuples of a query, streamed straight from the driver's cursor in the connection's
    transaction: a million rows through SQLAlchemy's result layer cost a second more.
    `sql` uses `?` placeholders (and no `?` or `%` otherwise)."""
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":  # a server-side cursor: rows arrive in batches
        cursor = driver.cursor(name=f"apel_stream_{next(_CURSORS)}")
        sql = sql.replace("?", "%s")
    else:
        cursor = driver.cursor()
    try:
        cursor.execute(sql, tuple(params))
        while part := cursor.fetchmany(BATCH):
            yield from part
    finally:
        cursor.close()


def iter_entries(conn: Connection, first: int = 1, last: int | None = None) -> Iterator[tuple]:
    """(seq, at, kind, actor, payload, prev_hash, leaf_hash) in seq order, streamed."""
    return stream(conn, "SELECT seq, at, kind, actor, payload, prev_hash, leaf_hash "
                  "FROM auditentry WHERE seq >= ? AND seq <= ? ORDER BY seq",
                  (first, last if last is not None else 2**62))


def iter_leaf_hashes(conn: Connection, last: int) -> Iterator[str]:
    result = conn.execution_options(yield_per=BATCH).execute(
        text("SELECT leaf_hash FROM auditentry WHERE seq <= :last ORDER BY seq"), {"last": last})
    for part in result.partitions():
        for row in part:
            yield row[0]


def load_checkpoints(conn: Connection) -> list[StoredCheckpoint]:
    cp = Checkpoint.__table__
    rows = conn.execute(select(cp.c.id, cp.c.tree_size, cp.c.root_hash, cp.c.key_id, cp.c.note,
                               cp.c.created_at).order_by(cp.c.created_at, cp.c.id)).all()
    return [StoredCheckpoint(int(r.id), int(r.tree_size), r.root_hash, r.key_id, r.note,
                             format_at(r.created_at)) for r in rows]


def read_head(conn: Connection) -> tuple[int, str] | None:
    row = conn.execute(text("SELECT seq, leaf_hash FROM audithead WHERE id = 1")).first()
    return None if row is None else (int(row.seq), row.leaf_hash)


def last_seq(conn: Connection) -> int:
    return int(conn.execute(text("SELECT COALESCE(MAX(seq), 0) FROM auditentry")).scalar_one())


def seq_range(conn: Connection, start_at: str, end_at: str) -> tuple[int, int] | None:
    """First and last seq with start_at <= at < end_at (chain time is monotonic)."""
    row = conn.execute(text("SELECT MIN(seq), MAX(seq) FROM auditentry "
                            "WHERE at >= :a AND at < :b"), {"a": start_at, "b": end_at}).first()
    if row is None or row[0] is None:
        return None
    return int(row[0]), int(row[1])
