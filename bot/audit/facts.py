"""The facts an entry states about an operative row, written once and read back by
verification (bot/inspection/reconcile.py): one definition, so writer and checker cannot drift.

Entries carry internal ids, not NIPs, names or free text: those are bound by their SHA-256.
"""

from __future__ import annotations

from hashlib import sha256
from typing import Any

from bot.models import Employee, Leave


def digest(text: str) -> str:
    return sha256(text.encode("utf-8")).hexdigest()


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
