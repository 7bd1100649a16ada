"""Engines, sessions and migrations for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import orjson
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

log = logging.getLogger(__name__)
T = TypeVar("T")
MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def insert_ignoring_duplicates(session: Session, table: Table, index_elements: list[str]):  # noqa: ANN201
    """INSERT ... ON CONFLICT (index_elements) DO NOTHING, in the session's SQL dialect."""
    make = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return make(table).on_conflict_do_nothing(index_elements=index_elements)


def libpq_dsn(url: str) -> str:
    """The database URL as psycopg takes it directly (for sessions of their own, outside the
    pool: the leader's lock, the presence lock)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def connection_lost(err: BaseException | None) -> bool:
    """The database connection went (a restart, a cut, a session PostgreSQL ended while its
    process was frozen): nothing of the transaction was kept, and a new connection may work."""
    return isinstance(err, DBAPIError) and err.connection_invalidated


class DatabaseNotMigrated(Exception):
    pass


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever the operator wrote."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # noqa: ANN001
        # Take transaction control from pysqlite so BEGIN IMMEDIATE below is really ours.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # noqa: ANN001
        # Writers queue on the database lock at BEGIN instead of failing at their first write:
        # no "database is locked" mid-transaction, and audit appends are serialised.
        # Read-only work (Database.read) takes no lock: WAL readers never block the writer.
        read_only = conn.get_execution_options().get("read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _json_text(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (every stored update, every queued message) through orjson: the standard
# library's encoder was 3 % of the bot's CPU in a burst of presses (issue 17 profile).
_JSON_CODEC = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


# A process frozen mid-transaction (SIGSTOP, a suspended VM) keeps its row locks, and the
# standby that took over would wait on them for as long as it stays frozen: PostgreSQL ends
# such a transaction after this long. Nothing here leaves a transaction idle for seconds (the
# longest pause is between two 10,000-row fetches of an export). 30 s stalled a takeover for
# 25 s after the lock changed hands (tests/e2e/test_standby.py): every press waited, and its
# toast expired; with 15 s the wait is about 10 s.
IDLE_IN_TRANSACTION_S = 15
_PG_SESSION_OPTIONS = f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_S * 1000}"


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10},
                               **_JSON_CODEC)
        _sqlite_pragmas(engine)
    else:
        engine = create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True,
                               connect_args={"options": _PG_SESSION_OPTIONS}, **_JSON_CODEC)
    return engine


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


class Database:
    """Owns the engine; hands out transactions and runs blocking DB work off the event loop."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self.is_sqlite = self.url.startswith("sqlite")
        # SQLite has one writer at a time; queueing in Python is cheaper than busy-waiting.
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self._reader = self.engine.execution_options(read_only=True)

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def upgrade(self) -> None:
        with self.engine.begin() as conn:
            cfg = alembic_config(self.url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(alembic_config(self.url)).get_current_head()

    def require_migrated(self) -> None:
        current, head = self.current_revision(), self.head_revision()
        if current != head:
            raise DatabaseNotMigrated(
                f"database {self.safe_url} is at revision {current or 'none'}, code needs "
                f"{head}; run `apel-bot db upgrade --config ...`"
            )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any error."""
        lock = self._write_lock
        if lock is not None:
            lock.acquire()
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                with session.begin():
                    yield session
        finally:
            if lock is not None:
                lock.release()

    def read(self, fn: Callable[[Session], T]) -> T:
        """Run `fn(session)` in a read-only transaction: no write lock, nothing committed."""
        with Session(self._reader, expire_on_commit=False) as session:
            result = fn(session)
            # Detach what was loaded so it stays readable; closing rolls the transaction back.
            session.expunge_all()
            return result

    async def run_read(self, fn: Callable[[Session], T]) -> T:
        return await asyncio.to_thread(self.read, fn)

    def call(self, fn: Callable[[Session], T]) -> T:
        with self.transaction() as session:
            return fn(session)

    async def run(self, fn: Callable[[Session], T]) -> T:
        """Run `fn(session)` in a worker thread inside one transaction."""
        return await asyncio.to_thread(self.call, fn)

    def dispose(self) -> None:
        self.engine.dispose()
