"""Ending a leave early (/cuti selesai ...): find it, confirm, move its last day.

An early end moves `Leave.end` and keeps the original in `LeaveEnding`; nothing is deleted.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.apel import counts as apel_counts
from bot.apel.models import Apel, ApelExpected
from bot.audit.log import record_event
from bot.org.access import Actor
from bot.org.models import Employee, Leave
from bot.platform.texts import render
from bot.unit_admin.common import (
    MAX_BUTTONS,
    Origin,
    PressOutcome,
    Reply,
    button,
    close_buttons,
    find_people,
    notify,
    result_reply,
    unit_toast,
)
from bot.unit_admin.leave_rules import BUTTONS, employee_today, manage_scope
from bot.unit_admin.models import LeaveEnding

_reply = result_reply("cuti_reply")
_toast = unit_toast


def end_search(session: Session, actor: Actor, query: str, now: datetime) -> Reply:
    """`/cuti selesai <name>`: the current leaves found, each with its end button."""
    scope = manage_scope(session, actor)
    if scope is None:
        return _reply("not_allowed")
    if not query.strip():
        return Reply("cuti_usage", {"manager": True})
    people = find_people(session, scope, query)
    if not people:
        return _reply("not_found", query=query)
    ids = [p.id for p in people]
    names = {p.id: p for p in people}
    lo = min(employee_today(session, p, now) for p in people)
    leaves = list(session.exec(select(Leave).where(
        col(Leave.employee_id).in_(ids), Leave.end >= lo, Leave.end >= Leave.start)
        .order_by(col(Leave.start)).limit(MAX_BUTTONS)))
    if not leaves:
        return _reply("no_current_leave", query=query)
    keyboard = [[button("button_end_leave", BUTTONS.encode("ask_end", leave=lv.id),
                        employee=names[lv.employee_id], leave=lv)] for lv in leaves]
    return Reply("cuti_choose_end", {"rows": [(lv, names[lv.employee_id]) for lv in leaves]},
                 keyboard)


def early_end_date(session: Session, leave: Leave, employee: Employee, now: datetime) -> date:
    """Back at work from today: the leave ends yesterday — unless an apel of today already
    counted the person as on leave, then it ends today so that record stays as it was.
    A leave that has not begun ends the day before its start (withdrawn)."""
    today = employee_today(session, employee, now)
    if leave.start > today:
        return leave.start - timedelta(days=1)
    counted_today = session.exec(
        select(Apel.id).join(ApelExpected, col(ApelExpected.apel_id) == Apel.id)
        .where(Apel.unit_id == employee.unit_id, Apel.duty_date == today,
               ApelExpected.employee_id == employee.id)).first()
    new_end = today if counted_today is not None else today - timedelta(days=1)
    return max(new_end, leave.start - timedelta(days=1))


def _leave_and_person(session: Session, actor: Actor, leave_id: int
                      ) -> tuple[Leave | None, Employee | None, str | None]:
    leave = session.get(Leave, leave_id)
    if leave is None:
        return None, None, "not_found"
    employee = session.get(Employee, leave.employee_id)
    scope = manage_scope(session, actor)
    if scope is None or not scope.allows(employee):
        return leave, employee, "not_allowed"
    return leave, employee, None


def _endable(session: Session, actor: Actor, leave_id: int, now: datetime
             ) -> tuple[Leave, Employee, date] | PressOutcome:
    """The leave, its person and the new last day; or the toast saying why it cannot end."""
    leave, employee, problem = _leave_and_person(session, actor, leave_id)
    if problem:
        return PressOutcome(_toast(problem))
    if leave.end < employee_today(session, employee, now) or leave.end < leave.start:
        return PressOutcome(_toast("leave_over"))
    new_end = early_end_date(session, leave, employee, now)
    if new_end >= leave.end:
        return PressOutcome(_toast("leave_ends_today"))
    return leave, employee, new_end


def ask_end(session: Session, *, actor: Actor, leave_id: int, now: datetime) -> PressOutcome:
    found = _endable(session, actor, leave_id, now)
    if isinstance(found, PressOutcome):
        return found
    leave, employee, new_end = found
    keyboard = [[button("button_confirm_end", BUTTONS.encode("end", leave=leave.id))]]
    return PressOutcome(_toast("ok"), Reply("cuti_confirm_end", {
        "employee": employee, "leave": leave, "new_end": new_end}, keyboard))


def end_early(session: Session, *, actor: Actor, leave_id: int, now: datetime,
              origin: Origin | None = None) -> PressOutcome:
    found = _endable(session, actor, leave_id, now)
    if isinstance(found, PressOutcome):
        return found
    leave, employee, new_end = found
    ending = LeaveEnding(leave_id=leave.id, original_end=leave.end, new_end=new_end,
                         ended_by=actor.telegram_user_id, ended_at=now)
    original_end = leave.end
    leave.end = new_end
    try:
        with session.begin_nested():
            session.add(leave)
            session.add(ending)
            session.flush()
    except IntegrityError:
        return PressOutcome(_toast("leave_conflict"))
    apel_counts.leave_changed(session, employee.id, new_end + timedelta(days=1), original_end)
    record_event(session, kind="leave.ended", actor=f"tg:{actor.telegram_user_id}", at=now,
                 payload={"leave_id": leave.id, "employee_id": employee.id,
                          "original_end": original_end.isoformat(),
                          "new_end": new_end.isoformat()})
    if employee.telegram_user_id != actor.telegram_user_id:
        notify(session, employee, f"leave-ended:{ending.id}", "cuti_ended_notice", now,
               employee=employee, leave=leave, back=new_end + timedelta(days=1))
    close_buttons(session, origin, render("cuti_done_note"), now,
                  key=f"leave-end-close:{ending.id}")
    return PressOutcome(_toast("leave_ended", name=employee.name), Reply("cuti_ended", {
        "employee": employee, "leave": leave, "original_end": original_end,
        "back": new_end + timedelta(days=1)}))
