"""Appending to the hash chain, inside the caller's transaction.

Serialisation: every append locks the single chain-head row (`SELECT ... FOR UPDATE` on
PostgreSQL; on SQLite bot.db already opens every transaction with BEGIN IMMEDIATE). So two
writers can never take the same sequence number or link to the same predecessor, and the
entry commits or rolls back together with the change it records.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlmodel import Session

from bot.audit.canonical import GENESIS_PREV, canonical_payload, format_at, leaf_data
from bot.audit.kinds import KINDS
from bot.audit.merkle import leaf_hash
from bot.audit.models import AuditEntry, AuditHead
from bot.platform.db import insert_ignoring_duplicates

_ACTOR_BAD = re.compile(r"[\x00-\x1f\x7f]")
_ENTRY = AuditEntry.__table__
_HEAD = AuditHead.__table__
# Built once: constructing statements per call costs more than the database round trip.
_INSERT_ENTRY = insert(_ENTRY)
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1)
_LOCK_HEAD = (select(_HEAD.c.seq, _HEAD.c.leaf_hash, _HEAD.c.at).where(_HEAD.c.id == 1)
              .with_for_update())
# PostgreSQL: entry and head move in one round trip (a data-modifying CTE).
_APPEND_PG = text(
    "WITH moved AS (UPDATE audithead SET seq = :seq, leaf_hash = :leaf_hash, at = :at "
    "WHERE id = 1) INSERT INTO auditentry (seq, at, kind, actor, payload, prev_hash, leaf_hash) "
    "VALUES (:seq, :at, :kind, :actor, :payload, :prev_hash, :leaf_hash)"
)
_HEAD_CACHE = "audit_head"


class AuditChainBroken(RuntimeError):
    """The stored chain is not what this code wrote; run `apel-bot verify`."""


def _init_head(session: Session) -> None:
    # The head row is absent on a new database (or after TRUNCATE): derive it from the last
    # entry. ON CONFLICT: a concurrent first appender may insert it at the same moment.
    last = session.execute(
        select(_ENTRY.c.seq, _ENTRY.c.leaf_hash, _ENTRY.c.at).order_by(_ENTRY.c.seq.desc())
        .limit(1)
    ).first()
    values = {"id": 1, "seq": last.seq if last else 0,
              "leaf_hash": last.leaf_hash if last else GENESIS_PREV, "at": last.at if last else ""}
    session.execute(insert_ignoring_duplicates(session, _HEAD, ["id"]).values(**values))


def _innermost(session: Session) -> object:
    return session.get_nested_transaction() or session.get_transaction()


def lock_head(session: Session) -> tuple[int, str, str]:
    """(last seq, its leaf hash hex, its time) with the chain locked until the transaction ends.

    The lock lasts until commit, so within one (sub)transaction the head read last is still
    the head: later appends reuse it instead of another round trip. A savepoint that rolls
    back is a different innermost transaction, so its appends are never taken for granted.
    """
    cached = session.info.get(_HEAD_CACHE)
    if cached is not None and cached[0] is _innermost(session):
        return cached[1]
    row = session.execute(_LOCK_HEAD).first()
    if row is None:
        _init_head(session)
        row = session.execute(_LOCK_HEAD).first()
    return int(row.seq), row.leaf_hash, row.at


@dataclass(frozen=True)
class Event:
    """One event to record. kind: one of bot.audit.kinds. actor: who caused it ("tg:<user id>",
    "scheduler", "cli:.."). payload: JSON object of internal ids and facts (no floats; NIPs as
    strings). at: aware UTC time from the caller's Clock."""

    kind: str
    actor: str
    payload: dict[str, Any]
    at: datetime


def append(session: Session, *, kind: str, actor: str, payload: dict[str, Any],
           at: datetime) -> AuditEntry:
    """Record one event in the caller's transaction and return the (detached) entry."""
    return AuditEntry(**append_many(session, [Event(kind, actor, payload, at)])[0])


def append_many(session: Session, events: Sequence[Event]) -> list[dict[str, Any]]:
    """Record events in order, in the caller's transaction, with one multi-row INSERT (a burst
    of pledges costs one round trip, not one each). Returns the rows written (not ORM objects:
    building one per pledge cost 12 % of recording a burst, issue 17 profile).

    If a concurrent writer already appended a later time, an entry takes that time instead,
    so chain time never runs backwards and verification can flag any entry that does.
    """
    if not events:
        return []
    prepared = []
    for e in events:  # check all before writing any
        if e.kind not in KINDS:
            raise ValueError(f"unknown audit kind {e.kind!r}; add it to bot/audit/kinds.py")
        if (not isinstance(e.actor, str) or not 0 < len(e.actor) <= 80
                or _ACTOR_BAD.search(e.actor)):
            raise ValueError(f"audit actor must be 1-80 printable characters, got {e.actor!r}")
        prepared.append((e, canonical_payload(e.payload), format_at(e.at)))

    seq, prev, last_at = lock_head(session)
    rows = []
    for e, payload_json, at_text in prepared:
        seq, last_at = seq + 1, max(at_text, last_at)
        leaf = leaf_hash(leaf_data(seq, last_at, e.kind, e.actor, payload_json, prev)).hex()
        rows.append({"seq": seq, "at": last_at, "kind": e.kind, "actor": e.actor,
                     "payload": payload_json, "prev_hash": prev, "leaf_hash": leaf})
        prev = leaf
    head = {"seq": seq, "leaf_hash": prev, "at": last_at}
    if session.get_bind().dialect.name == "postgresql" and len(rows) == 1:
        session.execute(_APPEND_PG, rows[0])  # entry and head in one round trip
    else:
        session.execute(_INSERT_ENTRY, rows)
        session.execute(_MOVE_HEAD, head)
    session.info[_HEAD_CACHE] = (_innermost(session), (seq, prev, last_at))
    return rows
