"""People and leave on the audit record: the facts an `employee.changed` or `leave.*` entry
states about its row, written once and read back by verification (bot/inspection/tables.py):
one definition, so writer and checker cannot drift; and the entries of a roster or leave import,
called in the import's own transaction (bot/commands/roster.py), so they commit or roll back
with the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from hashlib import sha256
from typing import Any

from sqlmodel import Session, col, select

from bot.audit.chain import Event, append_many
from bot.audit.facts import digest
from bot.audit.kinds import EMPLOYEE_CHANGED, LEAVE_ADDED, LEAVE_CHANGED, ROSTER_IMPORTED
from bot.org.models import Employee, Leave
from bot.org.roster_rows import ImportResult


def employee_facts(emp: Employee) -> dict[str, Any]:
    """What `employee.changed` says about a person after a change."""
    return {"employee_id": emp.id, "unit_id": emp.unit_id, "regu_id": emp.regu_id,
            "role": emp.role, "active": emp.active, "telegram_user_id": emp.telegram_user_id,
            "nip_sha256": digest(emp.nip), "name_sha256": digest(emp.name)}


def leave_facts(leave: Leave, source: str) -> dict[str, Any]:
    """What `leave.added` / `leave.changed` say about a leave."""
    return {"leave_id": leave.id, "employee_id": leave.employee_id,
            "start": leave.start.isoformat(), "end": leave.end.isoformat(),
            "reason_sha256": digest(leave.reason), "source": source}


def _rows(session: Session, model: Any, ids: Iterable[int]) -> list[Any]:
    ids = sorted(set(ids))
    return list(session.exec(select(model).where(col(model.id).in_(ids)))) if ids else []


def _row_events(session: Session, result: ImportResult, actor: str, at: datetime) -> list[Event]:
    if result.kind == "roster":
        return [Event(EMPLOYEE_CHANGED, actor, employee_facts(emp), at)
                for emp in _rows(session, Employee, result.new_ids + result.changed_ids)]
    new = set(result.new_ids)
    return [Event(LEAVE_ADDED if lv.id in new else LEAVE_CHANGED, actor,
                  leave_facts(lv, "import"), at)
            for lv in _rows(session, Leave, result.new_ids + result.changed_ids)]


def record_import(session: Session, result: ImportResult, *, data: bytes, filename: str,
                  actor: str, at: datetime) -> None:
    """`roster.imported` (the file's digest and counts), then one entry per row written."""
    summary = Event(ROSTER_IMPORTED, actor, {
        "import": result.kind, "file": filename[:200], "file_sha256": sha256(data).hexdigest(),
        "added": result.added, "updated": result.updated, "deactivated": result.deactivated,
        "unchanged": result.unchanged}, at)
    append_many(session, [summary, *_row_events(session, result, actor, at)])
