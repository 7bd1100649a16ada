"""Leave from Telegram (/cuti): the command, its buttons, officers' leave and the list.

Officers record leave here (bot/unit_admin/leave_record.py writes it); a guard's own leave is
a request (leave_requests.py); a leave can end early (leave_ending.py); the shared rules and
the `c:` buttons' shapes are in leave_rules.py.

Leave rows are the existing `Leave` table, so the apel counts pick them up at count time:
leave recorded while an apel is open excuses the person in that apel's report too.
An early end moves `Leave.end` and keeps the original in `LeaveEnding`; nothing is deleted.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, select

from bot.org.access import Actor
from bot.org.models import Employee, Leave, Regu, Unit
from bot.platform.config import Settings
from bot.platform.texts import render
from bot.unit_admin.common import (
    MAX_BUTTONS,
    Jurisdiction,
    Origin,
    PressOutcome,
    Reply,
    button,
    find_people,
    local_today,
    reader_scope,
    result_reply,
    split_dates,
    unit_toast,
)
from bot.unit_admin.leave_ending import ask_end, end_early, end_search
from bot.unit_admin.leave_record import record
from bot.unit_admin.leave_requests import ask_own, decide, own_request, request
from bot.unit_admin.leave_rules import (
    BACKDATE_DAYS,
    BUTTONS,
    REASONS,
    check_dates,
    employee_today,
    is_self,
    manage_scope,
    parse_reason,
    reason_text,
    self_refused,
)
from bot.unit_admin.models import LeaveRequest

_reply = result_reply("cuti_reply")
_toast = unit_toast


# --- /cuti -------------------------------------------------------------------------------------


def command(session: Session, settings: Settings, *, actor: Actor, text: str,
            now: datetime) -> Reply:
    text = " ".join(text.split())
    if not actor.known:
        return _reply("not_registered")
    if not text:
        return overview(session, actor=actor, now=now)
    first, _, rest = text.partition(" ")
    if first.lower() in ("selesai", "akhiri"):
        return end_search(session, actor, rest, now)
    scope = manage_scope(session, actor)
    if scope is not None and first.lower() != "saya":
        return _officer(session, settings, actor, scope, text, now)
    if actor.employee is not None:
        return own_request(session, settings, actor, text, now)
    return _reply("not_allowed")


def _officer(session: Session, settings: Settings, actor: Actor, scope: Jurisdiction, text: str,
             now: datetime) -> Reply:
    query, words, rest = split_dates(text)
    if words is None or not query:
        return Reply("cuti_usage", {"manager": True})
    people = find_people(session, scope, query)
    if not people:
        return _reply("not_found", query=query)
    code, note = parse_reason(rest)
    dates = words.resolve(employee_today(session, people[0], now))
    if dates is None:
        return _reply("invalid_date")
    start, end = dates
    if len(people) > 1:
        if len(people) > MAX_BUTTONS or note:
            return _reply("ambiguous", people=people[:MAX_BUTTONS], query=query)
        keyboard = [[button("button_person", BUTTONS.encode(
            "officer", employee=p.id, start=start, end=end, reason=code or "-"), person=p)]
            for p in people]
        return Reply("cuti_choose_person", {"people": people, "query": query}, keyboard)
    if is_self(actor, people[0]):  # one's own leave is asked for; the superior decides
        return ask_own(session, settings, actor, words, rest, now)
    return _proceed(session, actor, scope, people[0], start, end, code, note, now)


def _proceed(session: Session, actor: Actor, scope: Jurisdiction, employee: Employee, start: date,
             end: date, code: str | None, note: str, now: datetime) -> Reply:
    problem = check_dates(session, employee, start, end, now, backdate=BACKDATE_DAYS)
    if problem:
        return _reply(problem)
    if code is None:
        keyboard = [[button("leave_reason", BUTTONS.encode(
            "officer", employee=employee.id, start=start, end=end, reason=r), code=r)]
            for r in REASONS]
        return Reply("cuti_choose_reason",
                     {"employee": employee, "start": start, "end": end}, keyboard)
    return record(session, actor=actor, scope=scope, employee=employee, start=start, end=end,
                  reason=reason_text(code, note), now=now)


# --- the list ----------------------------------------------------------------------------------


def overview(session: Session, *, actor: Actor, now: datetime) -> Reply:
    """Officers: who is on leave today in their unit(s), pending requests. Others: their own."""
    scope = reader_scope(session, actor)
    manage = manage_scope(session, actor)
    mine = _own_leaves(session, actor.employee, now) if actor.employee else []
    pending_mine = list(session.exec(select(LeaveRequest).where(
        LeaveRequest.employee_id == actor.employee.id, LeaveRequest.state == "pending"
    ))) if actor.employee else []
    if scope is None:
        return Reply("cuti_mine", {"leaves": mine, "pending": pending_mine,
                                   "employee": actor.employee})
    units = {u.id: u for u in session.exec(select(Unit).where(Unit.active))
             if scope.allows_unit(u.id)}
    todays = {uid: local_today(u.timezone, now) for uid, u in units.items()}
    if not todays:
        return Reply("cuti_today", {"rows": [], "pending": [], "units": []})
    lo, hi = min(todays.values()), max(todays.values())
    query = (select(Leave, Employee).join(Employee, col(Employee.id) == Leave.employee_id)
             .where(Leave.start <= hi, Leave.end >= lo, Employee.active)
             .order_by(col(Employee.unit_id), col(Employee.regu_id), col(Employee.name)))
    if scope.unit_ids is not None:
        query = query.where(col(Employee.unit_id).in_(scope.unit_ids))
    rows = [(lv, emp) for lv, emp in session.exec(query)
            if emp.unit_id in todays and lv.start <= todays[emp.unit_id] <= lv.end]
    regu = {r.id: r.name for r in session.exec(select(Regu).where(
        col(Regu.unit_id).in_(list(units))))}
    pending = []
    if manage is not None:
        pq = (select(LeaveRequest, Employee)
              .join(Employee, col(Employee.id) == LeaveRequest.employee_id)
              .where(LeaveRequest.state == "pending").order_by(col(LeaveRequest.id)))
        pending = [(r, e) for r, e in session.exec(manage.filter(pq))]
    keyboard = [[button("button_end_leave", BUTTONS.encode("ask_end", leave=lv.id), employee=emp)]
                for lv, emp in rows if manage is not None and manage.allows(emp)][:MAX_BUTTONS]
    return Reply("cuti_today", {
        "rows": [{"leave": lv, "employee": emp, "regu": regu.get(emp.regu_id),
                  "unit": units[emp.unit_id]} for lv, emp in rows],
        "pending": pending, "units": list(units.values()), "manager": manage is not None,
        "today": min(todays.values())}, keyboard or None)


def _own_leaves(session: Session, employee: Employee, now: datetime) -> list[Leave]:
    today = employee_today(session, employee, now)
    return list(session.exec(select(Leave).where(
        Leave.employee_id == employee.id, Leave.end >= today, Leave.end >= Leave.start)
        .order_by(col(Leave.start))))


# --- buttons ------------------------------------------------------------------------------------


def press(session: Session, settings: Settings, *, actor: Actor, data: str | None,
          now: datetime, origin: Origin | None = None) -> PressOutcome:
    """Every `c:` button. The data is checked, and the presser's rights checked again."""
    pressed = BUTTONS.decode(data)
    if pressed is None:
        return PressOutcome(render("toast_invalid"))
    if pressed.shape in ("approve", "refuse"):
        return decide(session, settings, actor=actor, request_id=pressed["request"],
                      approve=pressed.shape == "approve", now=now, origin=origin)
    if pressed.shape == "ask_end":
        return ask_end(session, actor=actor, leave_id=pressed["leave"], now=now)
    if pressed.shape == "end":
        return end_early(session, actor=actor, leave_id=pressed["leave"], now=now, origin=origin)
    start, end, code = pressed["start"], pressed["end"], pressed["reason"]
    if pressed.shape == "own":
        if actor.employee is None:
            return PressOutcome(_toast("not_registered"))
        problem = check_dates(session, actor.employee, start, end, now, backdate=0)
        if problem:
            return PressOutcome(_toast("ok"), _reply(problem))
        reply = request(session, settings, actor=actor, start=start, end=end,
                        reason=reason_text(code), now=now)
        return PressOutcome(_toast("ok"), reply)
    # "officer": an officer's leave, one choice at a time
    scope = manage_scope(session, actor)
    employee = session.get(Employee, pressed["employee"])
    if scope is None or employee is None or not scope.allows(employee):
        return PressOutcome(_toast("not_allowed"))
    if is_self(actor, employee):
        return PressOutcome(render("toast_own_record", what="cuti"), self_refused())
    reply = _proceed(session, actor, scope, employee, start, end, None if code == "-" else code,
                     "", now)
    return PressOutcome(_toast("ok"), reply)
