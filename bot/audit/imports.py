"""Roster and leave imports on the record: who ran it, which file, and every row it wrote.

Called in the import's own transaction (bot/commands/roster.py), so the entries commit or
roll back with the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from hashlib import sha256
from typing import Any, Protocol

from sqlmodel import Session, col, select

from bot.audit.chain import Event, append_many
from bot.audit.facts import employee_facts, leave_facts
from bot.audit.kinds import EMPLOYEE_CHANGED, LEAVE_ADDED, LEAVE_CHANGED, ROSTER_IMPORTED
from bot.models import Employee, Leave


class Imported(Protocol):
    """bot.org.roster_rows.ImportResult, as far as the record needs it."""

    kind: str
    added: int
    updated: int
    deactivated: int
    unchanged: int
    new_ids: list[int]
    changed_ids: list[int]


def _rows(session: Session, model: Any, ids: Iterable[int]) -> list[Any]:
    ids = sorted(set(ids))
    return list(session.exec(select(model).where(col(model.id).in_(ids)))) if ids else []


def _row_events(session: Session, result: Imported, actor: str, at: datetime) -> list[Event]:
    if result.kind == "roster":
        return [Event(EMPLOYEE_CHANGED, actor, employee_facts(emp), at)
                for emp in _rows(session, Employee, result.new_ids + result.changed_ids)]
    new = set(result.new_ids)
    return [Event(LEAVE_ADDED if lv.id in new else LEAVE_CHANGED, actor,
                  leave_facts(lv, "import"), at)
            for lv in _rows(session, Leave, result.new_ids + result.changed_ids)]


def record_import(session: Session, result: Imported, *, data: bytes, filename: str,
                  actor: str, at: datetime) -> None:
    """`roster.imported` (the file's digest and counts), then one entry per row written."""
    summary = Event(ROSTER_IMPORTED, actor, {
        "import": result.kind, "file": filename[:200], "file_sha256": sha256(data).hexdigest(),
        "added": result.added, "updated": result.updated, "deactivated": result.deactivated,
        "unchanged": result.unchanged}, at)
    append_many(session, [summary, *_row_events(session, result, actor, at)])
