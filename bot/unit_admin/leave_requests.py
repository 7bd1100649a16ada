"""A guard's own leave: the request (/cuti saya ...) and its approval or refusal by a superior.

Nobody records their own leave; the request goes to every decider (bot/org/access.py), and
an approval records it through bot/unit_admin/leave_record.py.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, select

from bot.delivery import outbox
from bot.org.access import Actor, leave_deciders, may_decide_leave
from bot.org.models import Employee, Regu
from bot.org.registration import decider_name
from bot.platform.config import Settings
from bot.platform.texts import render
from bot.unit_admin.common import (
    DateWords,
    Jurisdiction,
    Origin,
    PressOutcome,
    Reply,
    button,
    close_buttons,
    deliver,
    find_people,
    notify,
    result_reply,
    split_dates,
    unit_toast,
)
from bot.unit_admin.leave_record import record
from bot.unit_admin.leave_rules import (
    BUTTONS,
    REASONS,
    check_dates,
    employee_today,
    overlapping,
    parse_reason,
    reason_text,
    unit_of,
)
from bot.unit_admin.models import LeaveRequest

_reply = result_reply("cuti_reply")
_toast = unit_toast


def own_request(session: Session, settings: Settings, actor: Actor, text: str,
                now: datetime) -> Reply:
    """`/cuti saya ...` (or one's own name): a request for one's own leave."""
    query, words, rest = split_dates(text)
    if words is None:
        return Reply("cuti_usage", {"manager": False})
    if query and not _names_self(session, actor, query):
        return _reply("own_only", query=query)
    return ask_own(session, settings, actor, words, rest, now)


def _names_self(session: Session, actor: Actor, query: str) -> bool:
    """`saya`, or a name or NIP that finds the asker and nobody else in the unit."""
    if query.lower() == "saya":
        return True
    found = find_people(session, Jurisdiction(frozenset({actor.employee.unit_id})), query)
    return [p.id for p in found] == [actor.employee.id]


def ask_own(session: Session, settings: Settings, actor: Actor, words: DateWords, rest: str,
            now: datetime) -> Reply:
    """One's own leave: a request to the superior (asking for the reason first if missing)."""
    employee = actor.employee
    dates = words.resolve(employee_today(session, employee, now))
    if dates is None:
        return _reply("invalid_date")
    start, end = dates
    problem = check_dates(session, employee, start, end, now, backdate=0)
    if problem:
        return _reply(problem)
    code, note = parse_reason(rest)
    if code is None:
        keyboard = [[button("leave_reason", BUTTONS.encode(
            "own", start=start, end=end, reason=r), code=r)]
                    for r in REASONS]
        return Reply("cuti_choose_reason", {"employee": employee, "start": start, "end": end,
                                            "own": True}, keyboard)
    return request(session, settings, actor=actor, start=start, end=end,
                   reason=reason_text(code, note), now=now)


def _request_key(request_id: int) -> str:
    """The outbox key prefix of a leave request's copies, one per decider."""
    return f"leave-ask:{request_id}:"


def request(session: Session, settings: Settings, *, actor: Actor, start: date, end: date,
            reason: str, now: datetime) -> Reply:
    employee = actor.employee
    if overlapping(session, employee.id, start, end) is not None:
        return _reply("overlap_own", existing=overlapping(session, employee.id, start, end))
    waiting = session.exec(select(LeaveRequest).where(
        LeaveRequest.employee_id == employee.id, LeaveRequest.state == "pending",
        LeaveRequest.start <= end, LeaveRequest.end >= start)).first()
    if waiting is not None:
        return _reply("pending", request=waiting)
    deciders = leave_deciders(session, settings, employee)
    if not deciders:
        return _reply("no_approver")
    req = LeaveRequest(employee_id=employee.id, start=start, end=end, reason=reason,
                       requested_by=actor.telegram_user_id, created_at=now)
    session.add(req)
    session.flush()
    unit = unit_of(session, employee)
    regu = session.get(Regu, employee.regu_id) if employee.regu_id else None
    keyboard = [[button("button_approve", BUTTONS.encode("approve", request=req.id)),
                 button("button_refuse", BUTTONS.encode("refuse", request=req.id))]]
    reply = Reply("cuti_request", {"employee": employee, "request": req, "unit": unit,
                                   "regu": regu}, keyboard)
    names = []
    for decider in deciders:
        chat = decider if isinstance(decider, int) else decider.telegram_user_id
        deliver(session, chat_id=chat, key=f"{_request_key(req.id)}{chat}", reply=reply, now=now)
        if not isinstance(decider, int):
            names.append(decider.name)
    return _reply("requested", request=req, names=names)


def decide(session: Session, settings: Settings, *, actor: Actor, request_id: int,
           approve: bool, now: datetime, origin: Origin | None = None) -> PressOutcome:
    req = session.get(LeaveRequest, request_id)
    if req is None:
        return PressOutcome(_toast("not_found"))
    employee = session.get(Employee, req.employee_id)
    if not may_decide_leave(session, actor, employee):
        return PressOutcome(_toast("not_allowed"))
    if req.state != "pending":
        return PressOutcome(_toast("already_decided"))
    reply = None
    if approve:
        reply = record(session, actor=actor, scope=Jurisdiction(frozenset({employee.unit_id})),
                       employee=employee, start=req.start, end=req.end, reason=req.reason,
                       now=now, request_id=req.id, tell_person=False)
        if reply.template != "cuti_saved":
            return PressOutcome(_toast("leave_conflict"), reply)
        req.leave_id = reply.context["leave"].id
    req.state = "approved" if approve else "refused"
    req.decided_at, req.decided_by = now, actor.telegram_user_id
    session.add(req)
    by = decider_name(session, actor.telegram_user_id, None)
    notify(session, employee, f"leave-decided:{req.id}", "cuti_decided", now,
           approved=approve, request=req, by=by)
    note = render("decision_note", approved=approve, by=by)
    close_buttons(session, origin, note, now,
                  key=f"leave-close:{req.id}:{origin.chat_id if origin else 0}")
    outbox.close_copies(session, key_prefix=_request_key(req.id), note=note, now=now,
                        skip_chat_id=origin.chat_id if origin else None)
    return PressOutcome(_toast("leave_approved" if approve else "leave_refused",
                               name=employee.name), reply)
