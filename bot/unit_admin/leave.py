"""Leave from Telegram (/cuti): officers record it, guards ask for it, it can end early.

Leave rows are the existing `Leave` table, so the apel counts pick them up at count time:
leave recorded while an apel is open excuses the person in that apel's report too.
An early end moves `Leave.end` and keeps the original in `LeaveEnding`; nothing is deleted.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.apel import counts as apel_counts
from bot.audit.facts import leave_facts
from bot.audit.log import record_event
from bot.delivery import outbox
from bot.delivery.callbacks import calendar_day, choice, number, register
from bot.models import Apel, ApelExpected, Employee, Leave, Regu, Unit
from bot.org.access import Actor, leave_deciders, may_decide_leave
from bot.platform.config import Settings
from bot.platform.texts import render
from bot.unit_admin.common import (
    ADMIN,
    KARUPAM,
    KPLP,
    MAX_BUTTONS,
    MAX_LEAVE_DAYS,
    DateWords,
    Jurisdiction,
    Origin,
    PressOutcome,
    Reply,
    button,
    close_buttons,
    deliver,
    find_people,
    local_today,
    notify,
    reader_scope,
    result_reply,
    scope_for,
    split_dates,
    unit_toast,
)
from bot.unit_admin.models import LeaveEnding, LeaveRequest

log = logging.getLogger(__name__)

REASONS = ("c", "s", "d", "k", "l")  # cuti, sakit, dinas luar, diklat, lainnya
BUTTONS = register(
    "c",
    # c:d:<employee>:<start>:<end>:<reason|->  an officer's leave being put together
    officer=("d", number("employee"), calendar_day("start"), calendar_day("end"),
             choice("reason", (*REASONS, "-"))),
    # c:q:<start>:<end>:<reason>  a guard's own request, with its reason
    own=("q", calendar_day("start"), calendar_day("end"), choice("reason", REASONS)),
    # approve / refuse a request
    approve=("a", number("request")),
    refuse=("n", number("request")),
    # end a leave early: ask, then confirm
    ask_end=("x", number("leave")),
    end=("y", number("leave")),
)
_REASON_WORDS = {"cuti": "c", "sakit": "s", "dinas": "d", "dinas luar": "d", "dl": "d",
                 "diklat": "k", "pelatihan": "k", "lainnya": "l", "lain": "l", "izin": "l"}
MANAGERS = (ADMIN, KPLP, KARUPAM)
BACKDATE_DAYS = 7  # officers may record leave that began up to a week ago (a late sick note)


def manage_scope(session: Session, actor: Actor) -> Jurisdiction | None:
    """Admins: everyone; the KPLP: the unit; a Karupam: their regu."""
    return scope_for(session, actor, MANAGERS)


def reason_text(code: str, note: str = "") -> str:
    label = render("leave_reason", code=code)
    return (f"{label}: {note}" if note else label)[:200]


def parse_reason(text: str) -> tuple[str | None, str]:
    """'sakit demam' -> ('s', 'demam'); unknown words -> ('l', the words); '' -> (None, '')."""
    words = text.split()
    if not words:
        return None, ""
    first = words[0].lower().strip(":,.")
    two = " ".join(w.lower().strip(":,.") for w in words[:2])
    if two in _REASON_WORDS:
        code, rest = _REASON_WORDS[two], words[2:]
    elif first in _REASON_WORDS:
        code, rest = _REASON_WORDS[first], words[1:]
    else:
        return "l", text.strip()[:150]
    return code, " ".join(rest).strip(":-– ")[:150]


def _unit(session: Session, employee: Employee) -> Unit:
    return session.get(Unit, employee.unit_id)


def _today(session: Session, employee: Employee, now: datetime) -> date:
    return local_today(_unit(session, employee).timezone, now)


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
        return _end_search(session, actor, rest, now)
    scope = manage_scope(session, actor)
    if scope is not None and first.lower() != "saya":
        return _officer(session, settings, actor, scope, text, now)
    if actor.employee is not None:
        return _own_request(session, settings, actor, text, now)
    return _reply("not_allowed")


def _is_self(actor: Actor, employee: Employee) -> bool:
    return actor.employee is not None and employee.id == actor.employee.id


def _self_refused() -> Reply:
    return Reply("own_record_refused", {"what": "cuti"})


def _officer(session: Session, settings: Settings, actor: Actor, scope: Jurisdiction, text: str,
             now: datetime) -> Reply:
    query, words, rest = split_dates(text)
    if words is None or not query:
        return Reply("cuti_usage", {"manager": True})
    people = find_people(session, scope, query)
    if not people:
        return _reply("not_found", query=query)
    code, note = parse_reason(rest)
    dates = words.resolve(_today(session, people[0], now))
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
    if _is_self(actor, people[0]):  # one's own leave is asked for; the superior decides
        return _ask_own(session, settings, actor, words, rest, now)
    return _proceed(session, actor, scope, people[0], start, end, code, note, now)


def _proceed(session: Session, actor: Actor, scope: Jurisdiction, employee: Employee, start: date,
             end: date, code: str | None, note: str, now: datetime) -> Reply:
    problem = _check_dates(session, employee, start, end, now, backdate=BACKDATE_DAYS)
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


def _check_dates(session: Session, employee: Employee, start: date, end: date, now: datetime,
                 *, backdate: int) -> str | None:
    today = _today(session, employee, now)
    if end < start:
        return "end_before_start"
    if (end - start).days >= MAX_LEAVE_DAYS:
        return "too_long"
    if start < today - timedelta(days=backdate):
        return "too_early"
    if start > today + timedelta(days=366):
        return "too_far"
    return None


def _overlapping(session: Session, employee_id: int, start: date, end: date) -> Leave | None:
    return session.exec(select(Leave).where(
        Leave.employee_id == employee_id, Leave.start <= end, Leave.end >= start,
        Leave.end >= Leave.start).order_by(col(Leave.start))).first()


def record(session: Session, *, actor: Actor, scope: Jurisdiction, employee: Employee, start: date,
           end: date, reason: str, now: datetime, request_id: int | None = None,
           tell_person: bool = True) -> Reply:
    """Write the leave (the scope is checked here again, whoever calls). Nobody records their
    own leave: that is a request (`request`), decided by their superior."""
    if not scope.allows(employee) or not employee.active:
        return _reply("not_allowed")
    if _is_self(actor, employee):
        return _self_refused()
    existing = _overlapping(session, employee.id, start, end)
    if existing is not None:
        return _reply("overlap", employee=employee, existing=existing)
    leave = Leave(employee_id=employee.id, start=start, end=end, reason=reason,
                  created_by=f"tg:{actor.telegram_user_id}", created_at=now)
    try:
        with session.begin_nested():
            session.add(leave)
            session.flush()
    except IntegrityError:
        return _reply("overlap", employee=employee, existing=_overlapping(
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
    today = _today(session, employee, now)
    return list(session.exec(select(Leave).where(
        Leave.employee_id == employee.id, Leave.end >= today, Leave.end >= Leave.start)
        .order_by(col(Leave.start))))


# --- a guard's own request -----------------------------------------------------------------------


def _own_request(session: Session, settings: Settings, actor: Actor, text: str,
                 now: datetime) -> Reply:
    query, words, rest = split_dates(text)
    if words is None:
        return Reply("cuti_usage", {"manager": False})
    if query and not _names_self(session, actor, query):
        return _reply("own_only", query=query)
    return _ask_own(session, settings, actor, words, rest, now)


def _names_self(session: Session, actor: Actor, query: str) -> bool:
    """`saya`, or a name or NIP that finds the asker and nobody else in the unit."""
    if query.lower() == "saya":
        return True
    found = find_people(session, Jurisdiction(frozenset({actor.employee.unit_id})), query)
    return [p.id for p in found] == [actor.employee.id]


def _ask_own(session: Session, settings: Settings, actor: Actor, words: DateWords, rest: str,
             now: datetime) -> Reply:
    """One's own leave: a request to the superior (asking for the reason first if missing)."""
    employee = actor.employee
    dates = words.resolve(_today(session, employee, now))
    if dates is None:
        return _reply("invalid_date")
    start, end = dates
    problem = _check_dates(session, employee, start, end, now, backdate=0)
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
    if _overlapping(session, employee.id, start, end) is not None:
        return _reply("overlap_own", existing=_overlapping(session, employee.id, start, end))
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
    unit = _unit(session, employee)
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
    by = actor.employee.name if actor.employee else str(actor.telegram_user_id)
    notify(session, employee, f"leave-decided:{req.id}", "cuti_decided", now,
           approved=approve, request=req, by=by)
    note = render("decision_note", approved=approve, by=by)
    close_buttons(session, origin, note, now,
                  key=f"leave-close:{req.id}:{origin.chat_id if origin else 0}")
    outbox.close_copies(session, key_prefix=_request_key(req.id), note=note, now=now,
                        skip_chat_id=origin.chat_id if origin else None)
    return PressOutcome(_toast("leave_approved" if approve else "leave_refused",
                               name=employee.name), reply)


# --- ending early ------------------------------------------------------------------------------


def _end_search(session: Session, actor: Actor, query: str, now: datetime) -> Reply:
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
    lo = min(_today(session, p, now) for p in people)
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
    today = _today(session, employee, now)
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
    if leave.end < _today(session, employee, now) or leave.end < leave.start:
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
        problem = _check_dates(session, actor.employee, start, end, now, backdate=0)
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
    if _is_self(actor, employee):
        return PressOutcome(render("toast_own_record", what="cuti"), _self_refused())
    reply = _proceed(session, actor, scope, employee, start, end, None if code == "-" else code,
                     "", now)
    return PressOutcome(_toast("ok"), reply)
