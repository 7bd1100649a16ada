"""Writing a leave: the one place a `Leave` row is added from Telegram (officer or approval).

Leave rows are the existing `Leave` table, so the apel counts pick them up at count time:
leave recorded while an apel is open excuses the person in that apel's report too.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.apel import counts as apel_counts
from bot.apel.models import Apel, ApelExpected
from bot.audit.log import record_event
from bot.org.access import Actor
from bot.org.audit_entries import leave_facts
from bot.org.models import Employee, Leave
from bot.unit_admin.common import Jurisdiction, Reply, notify, result_reply
from bot.unit_admin.leave_rules import is_self, overlapping, self_refused

log = logging.getLogger(__name__)

_reply = result_reply("cuti_reply")


def record(session: Session, *, actor: Actor, scope: Jurisdiction, employee: Employee, start: date,
           end: date, reason: str, now: datetime, request_id: int | None = None,
           tell_person: bool = True) -> Reply:
    """Write the leave (the scope is checked here again, whoever calls). Nobody records their
    own leave: that is a request (`request`), decided by their superior."""
    if not scope.allows(employee) or not employee.active:
        return _reply("not_allowed")
    if is_self(actor, employee):
        return self_refused()
    existing = overlapping(session, employee.id, start, end)
    if existing is not None:
        return _reply("overlap", employee=employee, existing=existing)
    leave = Leave(employee_id=employee.id, start=start, end=end, reason=reason,
                  created_by=f"tg:{actor.telegram_user_id}", created_at=now)
    try:
        with session.begin_nested():
            session.add(leave)
            session.flush()
    except IntegrityError:
        return _reply("overlap", employee=employee, existing=overlapping(
            session, employee.id, start, end))
    payload = leave_facts(leave, "telegram")
    if request_id is not None:
        payload["request_id"] = request_id
    apel_counts.leave_changed(session, employee.id, start, end)
    record_event(session, kind="leave.added", actor=f"tg:{actor.telegram_user_id}", at=now,
                 payload=payload)
    open_now = session.exec(
        select(Apel.id).join(ApelExpected, col(ApelExpected.apel_id) == Apel.id)
        .where(Apel.state == "open", ApelExpected.employee_id == employee.id,
               Apel.duty_date >= start, Apel.duty_date <= end)).first()
    if tell_person and employee.telegram_user_id != actor.telegram_user_id:
        notify(session, employee, f"leave-note:{leave.id}", "cuti_notice", now,
               employee=employee, leave=leave)
    log.info("leave %d recorded for employee %d (%s..%s)", leave.id, employee.id, start, end)
    return Reply("cuti_saved", {"employee": employee, "leave": leave,
                                "open_apel": open_now is not None})
