"""The leader's fence on PostgreSQL (bot/platform/leadership.py): sends only while its lock was
confirmed a moment ago, and after losing its session it leads on only if nobody else took over."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from bot.platform import leadership
from bot.platform.leadership import LOCK_KEY, PgLeadership


def test_a_heartbeat_answered_late_does_not_reopen_the_fence(monkeypatch):
    """The process froze while its heartbeat query was on the wire; when it wakes, the answer
    is read at once, but it confirms the lock only as of when it was asked."""
    monkeypatch.setattr(leadership, "HEARTBEAT_S", 0.01)
    monkeypatch.setattr(leadership, "FENCE_S", 0.2)
    lead = PgLeadership("postgresql://postgres@127.0.0.1:5432/none", on_lost=lambda: None)

    class FrozenOnTheWire:
        def execute(self, sql: str) -> None:
            time.sleep(0.4)  # longer than the fence
            lead._stopping.set()  # one beat is enough

    lead._conn, lead._confirmed_at = FrozenOnTheWire(), time.monotonic()
    lead._heartbeat()
    assert not lead.is_leader()


def end_session_of(url: str, leader: PgLeadership) -> None:
    pid = leader._conn.info.backend_pid
    with psycopg.connect(PgLeadership(url, lambda: None)._dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def wait_for(condition, timeout: float = 10.0) -> None:  # noqa: ANN001
    until = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < until, "timed out"
        time.sleep(0.05)


@pytest.mark.postgres
def test_a_leader_whose_session_ended_stops_if_another_leads_now(pg_db):
    lost = threading.Event()
    first = PgLeadership(pg_db.url, on_lost=lost.set)
    second = PgLeadership(pg_db.url, on_lost=lambda: None)
    try:
        assert first.try_acquire() and first.is_leader()
        assert not second.try_acquire()
        end_session_of(pg_db.url, first)
        assert second.try_acquire()
        wait_for(lost.is_set)
        assert first.role == "lost" and not first.is_leader() and second.is_leader()
    finally:
        first.release()
        second.release()


@pytest.mark.postgres
def test_a_leader_whose_session_ended_leads_on_if_nobody_took_over(pg_db):
    lead = PgLeadership(pg_db.url, on_lost=lambda: pytest.fail("lost"))
    try:
        assert lead.try_acquire()
        end_session_of(pg_db.url, lead)
        wait_for(lambda: not lead.is_leader())  # fenced while it takes the lock again
        wait_for(lead.is_leader)
        held = psycopg.connect(lead._dsn, autocommit=True).execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s",
            (LOCK_KEY,)).fetchone()[0]
        assert held == 1 and lead.role == "leader"
    finally:
        lead.release()
