"""Which `apel-bot run` processes are alive, on PostgreSQL: each holds a session-level advisory
lock keyed by its name (the inbox's `claimed_by`) on a connection of its own for as long as it
lives. One killed (kill -9, out of memory, its host gone) loses the lock with its connection,
so another process takes up the updates it held at once, while their toasts can still be
answered, instead of after their 60 s claim. A frozen process keeps its lock: its claims run
out as before. The connection must reach PostgreSQL itself or a session-pooling proxy (a
transaction-pooling PgBouncer does not keep session locks), as for the leader's lock.

SQLite needs none of this: one process per file (the lease) takes a dead one's updates at start.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import zlib
from collections.abc import Iterable

import psycopg

from bot.platform.db import libpq_dsn

log = logging.getLogger(__name__)

PRESENCE_CLASS = 0x61706C63  # "aplc": the first key of every presence lock
# Keepalives both ways: a session whose host is gone ends within about 25 s (not hours), and
# no statement on it waits long (the inbox loop asks it every few seconds).
_SESSION_OPTIONS = ("-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 "
                    "-c tcp_keepalives_count=3 -c statement_timeout=5000")


def _key(name: str) -> int:
    """The lock's second key: int4, as PostgreSQL's two-key advisory locks take."""
    key = zlib.crc32(name.encode())
    return key - 2**32 if key >= 2**31 else key


class Presence:
    def __init__(self, url: str, name: str) -> None:
        self._dsn = libpq_dsn(url)
        self.name = name
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()  # one connection, used from worker threads

    def _connection(self) -> psycopg.Connection:
        """This process's presence session, opened again (and the lock taken again) if it
        went: PostgreSQL restarted, or the connection was cut."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5,
                                   keepalives=1, keepalives_idle=10, keepalives_interval=5,
                                   keepalives_count=3, options=_SESSION_OPTIONS)
            # Not taken: this process's own earlier session still holds it (a cut the server
            # has not noticed yet), so it is seen alive all the same.
            conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                         (PRESENCE_CLASS, _key(self.name)))
            self._conn = conn
        return self._conn

    def announce(self) -> None:
        """Present from now on; asked again before each look at the others, so a session that
        went (PostgreSQL restarted, a cut) is opened again within seconds."""
        with self._lock:
            try:
                self._connection().execute("SELECT 1")
            except psycopg.OperationalError:  # the session went: a new one, at once
                self._drop()
                self._connection().execute("SELECT 1")

    def missing(self, names: Iterable[str]) -> set[str]:
        """Those of `names` whose process holds no presence lock now (gone, or its session was
        cut a moment ago)."""
        names = set(names)
        if not names:
            return set()
        keys = {_key(n): n for n in names}
        with self._lock:
            held = {row[0] for row in self._connection().execute(
                "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = %s AND objsubid = 2",
                (PRESENCE_CLASS,)).fetchall()}
        # objid is unsigned in pg_locks (oid); the key was signed.
        alive = {keys[k] for k in keys if (k % 2**32) in held}
        return names - alive

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
