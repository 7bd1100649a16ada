"""The inbox: updates stored before Telegram is told they arrived, then handled from here.

Polling asks for the next batch (which tells Telegram the last one was received) only after
this batch is committed; a webhook is answered 200 only after the commit. A process claims
rows for a while (`CLAIM_SECONDS`), so several processes can share the work on PostgreSQL
(`FOR UPDATE SKIP LOCKED`) and a dead one's rows are taken up again once its claim runs out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, update
from sqlmodel import Session, col, select

from bot.delivery.models import InboxUpdate
from bot.platform.db import insert_ignoring_duplicates

CLAIM_SECONDS = 60  # far longer than any handler runs
KEEP_HANDLED = timedelta(days=1)  # Telegram reuses an update_id only after a week of silence


def update_key(update: dict) -> str:
    """update_id and a digest: a redelivered update has the same key, a reused id does not."""
    digest = hashlib.sha256(json.dumps(update, sort_keys=True).encode()).hexdigest()[:24]
    return f"{update['update_id']}:{digest}"


def store(session: Session, updates: Iterable[dict], now: datetime) -> int:
    """Keep every update not kept yet; returns how many were new."""
    rows = [{"update_key": update_key(u), "update_id": u["update_id"], "payload": u,
             "received_at": now} for u in updates]
    if not rows:
        return 0
    table = InboxUpdate.__table__
    result = session.execute(insert_ignoring_duplicates(session, table, ["update_key"]), rows)
    return result.rowcount or 0


def store_claimed(session: Session, updates: list[dict], now: datetime,
                  holder: str) -> list[tuple[int, dict, datetime]]:
    """`store`, the new rows held by `holder` from the start: [(id, update, received at)] of
    those, in order, to be handled at once (no claim round trip). A redelivered one is not
    returned: it is handled, or held, or left to `claim`."""
    rows = [{"update_key": update_key(u), "update_id": u["update_id"], "payload": u,
             "received_at": now, "claimed_by": holder,
             "claimed_until": now + timedelta(seconds=CLAIM_SECONDS)} for u in updates]
    if not rows:
        return []
    table = InboxUpdate.__table__
    statement = (insert_ignoring_duplicates(session, table, ["update_key"])
                 .returning(table.c.id, table.c.update_key))
    # On the session's connection: the ORM's execution layer is pure cost here (hot path).
    ids = dict((key, row_id) for row_id, key in session.connection().execute(statement, rows))
    return sorted((ids[r["update_key"]], r["payload"], now) for r in rows
                  if r["update_key"] in ids)


def claim(session: Session, holder: str, now: datetime,
          limit: int) -> list[tuple[int, dict, datetime]]:
    """The oldest unhandled updates nobody holds, now held by `holder`:
    [(id, update, received at)]."""
    free = or_(col(InboxUpdate.claimed_until).is_(None), col(InboxUpdate.claimed_until) < now)
    query = (select(InboxUpdate.id, InboxUpdate.payload, InboxUpdate.received_at)
             .where(col(InboxUpdate.handled_at).is_(None), free)
             .order_by(col(InboxUpdate.id)).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = session.exec(query).all()
    if rows:
        session.exec(update(InboxUpdate).where(col(InboxUpdate.id).in_([r[0] for r in rows]))
                     .values(claimed_by=holder,
                             claimed_until=now + timedelta(seconds=CLAIM_SECONDS)))
    return [(row_id, payload, at) for row_id, payload, at in rows]


def release_others(session: Session, holder: str) -> int:
    """Unhandled updates held by anyone but `holder` become free to claim at once. Only for a
    process that knows it is alone on the database (the SQLite lease): any other holder is a
    dead process, and its presses should not wait out the claim (their toasts would expire)."""
    result = session.exec(update(InboxUpdate).where(
        col(InboxUpdate.handled_at).is_(None), col(InboxUpdate.claimed_by) != holder)
        .values(claimed_by=None, claimed_until=None))
    return result.rowcount or 0


def other_holders(session: Session, holder: str, now: datetime) -> list[str]:
    """The processes other than `holder` holding unhandled updates now."""
    return list(session.exec(select(InboxUpdate.claimed_by).distinct().where(
        col(InboxUpdate.handled_at).is_(None), col(InboxUpdate.claimed_by).is_not(None),
        col(InboxUpdate.claimed_by) != holder, col(InboxUpdate.claimed_until) >= now)).all())


def release_held_by(session: Session, holders: list[str]) -> int:
    """The unhandled updates these processes held (they are gone) are free to claim at once."""
    result = session.exec(update(InboxUpdate).where(
        col(InboxUpdate.handled_at).is_(None), col(InboxUpdate.claimed_by).in_(holders))
        .values(claimed_by=None, claimed_until=None))
    return result.rowcount or 0


def release(session: Session, row_id: int, holder: str, free_at: datetime) -> None:
    """Not handled after all (its handler lost the database connection): free to claim again
    from `free_at`, by any process. Only if `holder` still holds it: a claim that ran out
    meanwhile may be another process's now."""
    session.exec(update(InboxUpdate).where(
        col(InboxUpdate.id) == row_id, col(InboxUpdate.claimed_by) == holder,
        col(InboxUpdate.handled_at).is_(None)).values(claimed_by=None, claimed_until=free_at))


def mark_handled(session: Session, ids: Iterable[int], now: datetime) -> int:
    ids = list(ids)
    if not ids:
        return 0
    result = session.connection().execute(update(InboxUpdate).where(
        col(InboxUpdate.id).in_(ids), col(InboxUpdate.handled_at).is_(None))
        .values(handled_at=now))
    return result.rowcount or 0


def open_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(InboxUpdate).where(
        col(InboxUpdate.handled_at).is_(None))).one()


def prune(session: Session, now: datetime) -> int:
    """Forget updates handled more than a day ago."""
    result = session.exec(delete(InboxUpdate).where(
        col(InboxUpdate.handled_at) < now - KEEP_HANDLED))
    return result.rowcount or 0
