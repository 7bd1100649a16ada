"""Which `apel-bot run` leads: the one process that runs the scheduler and the outbox sender
(Telegram's limits are per bot token, so one pacer) and, in polling mode, calls getUpdates.

PostgreSQL: a session-level advisory lock on a connection of its own. Any number of processes
may run; the others wait as standbys (and, in webhook mode, receive and handle updates). The
lock goes with the leader's connection: at once when the process dies (kill -9), within
IDLE_TIMEOUT_S when it freezes or its host or network is lost (PostgreSQL ends a session that
stays silent that long; the leader speaks every HEARTBEAT_S). A standby asks every POLL_S.

Fencing: the leader may send only while its lock was confirmed within FENCE_S. A leader that
was frozen and wakes finds its last confirmation too old and sends nothing; its next heartbeat
finds the session gone. It then tries to take the lock again: if another process leads now,
it stops; if nobody took it (PostgreSQL restarted, a connection cut), it leads on.

SQLite: one process per database file, as before (bot/platform/instance_lease.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

import psycopg

from bot.platform import instance_lease
from bot.platform.clock import Clock
from bot.platform.db import Database, libpq_dsn

log = logging.getLogger(__name__)

LOCK_KEY = 0x61706C62  # "aplb": one apel-bot leader per database
HEARTBEAT_S = 1.0
IDLE_TIMEOUT_S = 5
POLL_S = 1.0
FENCE_S = 2.5


class PgLeadership:
    # wait() may last as long as a standby waits: serve receives (webhook) meanwhile.
    decides_at_once = False

    def __init__(self, url: str, on_lost: Callable[[], None]) -> None:
        self._dsn = libpq_dsn(url)
        self._on_lost = on_lost
        self._conn: psycopg.Connection | None = None
        self._confirmed_at = 0.0
        self.lost = False
        self._stopping = threading.Event()
        self._beat: threading.Thread | None = None

    @property
    def role(self) -> str:
        if self.lost:
            return "lost"
        return "leader" if self._conn is not None else "standby"

    def is_leader(self) -> bool:
        """May this process send now? (its lock confirmed a moment ago)"""
        return (self._conn is not None and not self.lost
                and time.monotonic() - self._confirmed_at < FENCE_S)

    def try_acquire(self) -> bool:
        asked_at = time.monotonic()
        conn = self._lock_session()
        if conn is None:
            return False
        self._conn, self._confirmed_at = conn, asked_at
        self._beat = threading.Thread(target=self._heartbeat, name="leader-heartbeat",
                                      daemon=True)
        self._beat.start()
        log.warning("this process leads this database: it runs the scheduler and the sender")
        return True

    def _lock_session(self) -> psycopg.Connection | None:
        """A session holding the lock, or None if another process holds it."""
        conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
        try:
            conn.execute(f"SET idle_session_timeout = '{IDLE_TIMEOUT_S}s'")
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return None
        return conn

    async def wait(self, stop: asyncio.Event) -> bool:
        """Standby until this process leads (True) or is told to stop (False)."""
        announced = False
        while not stop.is_set():
            try:
                if await asyncio.to_thread(self.try_acquire):
                    return True
            except psycopg.Error as err:
                log.warning("leadership: database unreachable (%s); trying again", err)
            if not announced:
                log.warning("another `apel-bot run` leads this database; waiting as a standby")
                announced = True
            try:
                await asyncio.wait_for(stop.wait(), POLL_S)
            except TimeoutError:
                pass
        return False

    def _heartbeat(self) -> None:
        while not self._stopping.wait(HEARTBEAT_S):
            # Stamped before the query: an answer read late (the process froze while it was on
            # its way) confirms the lock as of when it was asked, not as of now.
            asked_at = time.monotonic()
            try:
                self._conn.execute("SELECT 1")
                self._confirmed_at = asked_at
            except psycopg.Error as err:
                log.warning("leader's session ended (%s); sends held while taking the lock "
                            "again", err)
                if not self._take_back():
                    return

    def _take_back(self) -> bool:
        """The session went (PostgreSQL restarted, a connection cut, this process froze): sends
        stay fenced while the lock is taken again. Nobody else took it: lead on. Another
        process leads now: stop (a supervisor restarts this one as a standby)."""
        self._confirmed_at = 0.0  # fenced until the lock is this process's again
        with contextlib.suppress(psycopg.Error):
            self._conn.close()
        while not self._stopping.wait(POLL_S):
            asked_at = time.monotonic()
            try:
                conn = self._lock_session()
            except psycopg.Error as err:
                log.warning("leadership: database unreachable (%s); trying again", err)
                continue
            if conn is None:
                self.lost = True
                log.critical("another `apel-bot run` leads now; stopping")
                self._on_lost()
                return False
            self._conn, self._confirmed_at = conn, asked_at
            log.warning("the lock is this process's again: leading on")
            return True
        return False

    def release(self) -> None:
        self._stopping.set()
        if self._conn is not None:
            try:
                self._conn.close()  # the lock goes with the session
            except psycopg.Error:
                pass
            self._conn = None


class SoleLease:
    """SQLite: one `run` per database file. A second is refused at start (LeaseHeld); a holder
    killed on this host, or silent for LEASE_TTL, is taken over (instance_lease)."""

    # wait() answers at once (the lease, or LeaseHeld): serve asks before receiving anything.
    decides_at_once = True

    def __init__(self, db: Database, clock: Clock, on_lost: Callable[[], None]) -> None:
        self.db, self.clock, self._on_lost = db, clock, on_lost
        self.me = instance_lease.Holder.this_process()
        self.lost = False
        self._held = False
        self._stopping = threading.Event()

    @property
    def role(self) -> str:
        return "lost" if self.lost else "leader" if self._held else "standby"

    def is_leader(self) -> bool:
        return self._held and not self.lost

    async def wait(self, stop: asyncio.Event) -> bool:
        if self._held:  # taken at start already (serve: before anything binds or handles)
            return True
        await asyncio.to_thread(self.db.call, lambda s: instance_lease.acquire(
            s, self.me, self.clock.now()))  # or LeaseHeld: exit 3
        self._held = True
        threading.Thread(target=self._heartbeat, name="lease-heartbeat", daemon=True).start()
        return True

    def _heartbeat(self) -> None:
        while not self._stopping.wait(instance_lease.HEARTBEAT_SECONDS):
            try:
                held = self.db.call(lambda s: instance_lease.renew(s, self.me, self.clock.now()))
            except Exception:  # database briefly down: try again at the next beat
                log.exception("lease heartbeat failed")
                continue
            if not held:
                self.lost = True
                log.critical("another `apel-bot run` took over this database; stopping")
                self._on_lost()
                return

    def release(self) -> None:
        self._stopping.set()
        if self._held:
            self.db.call(lambda s: instance_lease.release(s, self.me))
            self._held = False


Leadership = PgLeadership | SoleLease


def for_database(db: Database, clock: Clock,
                 on_lost: Callable[[], None]) -> PgLeadership | SoleLease:
    """Standbys on PostgreSQL; one process per file on SQLite."""
    if db.is_sqlite:
        return SoleLease(db, clock, on_lost)
    return PgLeadership(db.url, on_lost)
