"""One `apel-bot run` per database: a lease row renewed by a heartbeat.

Two processes serving the same database would both drain the outbox (every message twice)
and each pace itself as if it had Telegram's 30 messages/s alone. A second `run` is refused
with the first one's host and pid; a holder that stopped answering (no heartbeat for
LEASE_TTL, or its pid is gone on this host, as after a kill -9) is taken over.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, update
from sqlmodel import Session, select

from bot.platform.db import insert_ignoring_duplicates
from bot.platform.models import ServiceLease

NAME = "run"
LEASE_TTL = timedelta(seconds=30)
HEARTBEAT_SECONDS = 5.0


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    token: str

    @classmethod
    def this_process(cls) -> Holder:
        return cls(socket.gethostname()[:64], os.getpid(), secrets.token_hex(6))

    @property
    def holder(self) -> str:
        return f"{self.host}:{self.pid}:{self.token}"[:80]


class LeaseHeld(RuntimeError):
    """Another live `apel-bot run` serves this database."""


def pid_alive(pid: int) -> bool:
    """On this host: the process exists and is not a zombie (killed, not yet reaped)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        if stat.exists():
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        os.kill(pid, 0)
    except (ProcessLookupError, FileNotFoundError):
        return False
    except PermissionError:
        return True
    return True


def acquire(session: Session, me: Holder, now: datetime) -> None:
    """Take the lease, or raise LeaseHeld naming who has it."""
    table = ServiceLease.__table__
    session.execute(insert_ignoring_duplicates(session, table, ["name"]).values(
        name=NAME, holder=me.holder, host=me.host, pid=me.pid, heartbeat_at=now))
    row = session.exec(select(ServiceLease).where(ServiceLease.name == NAME)
                       .with_for_update()).one()
    if row.holder != me.holder:
        silent = now - row.heartbeat_at
        gone = row.host == me.host and not pid_alive(row.pid)
        if silent <= LEASE_TTL and not gone:
            raise LeaseHeld(
                f"another `apel-bot run` serves this database: host {row.host}, pid {row.pid}, "
                f"last heartbeat {silent.total_seconds():.0f} s ago. Stop it first (or, if it "
                f"is gone, start again in {(LEASE_TTL - silent).total_seconds():.0f} s).")
        row.holder, row.host, row.pid = me.holder, me.host, me.pid
    row.heartbeat_at = now
    session.add(row)


def renew(session: Session, me: Holder, now: datetime) -> bool:
    """Heartbeat. False: the lease was taken over (this process stalled past LEASE_TTL)."""
    result = session.execute(update(ServiceLease.__table__)
                             .where(ServiceLease.__table__.c.name == NAME,
                                    ServiceLease.__table__.c.holder == me.holder)
                             .values(heartbeat_at=now))
    return result.rowcount == 1


def release(session: Session, me: Holder) -> None:
    session.execute(delete(ServiceLease).where(ServiceLease.name == NAME,
                                               ServiceLease.holder == me.holder))
