"""The rules of a duty swap: who may swap whom, on which day; recording a swap, its undoing,
and the list of those in force (/tukar with nothing after it).

What was typed or pressed is read in bot/unit_admin/swap_command.py; the calendar with the
swaps in force is bot/apel/day_plan.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import or_
from sqlmodel import Session, col, select

from bot.apel.day_plan import apel_opened, day_plans, in_force, moves_on
from bot.apel.models import DutySwap
from bot.audit.log import record_event
from bot.calendar.duty import ApelPlan, standing
from bot.delivery import outbox
from bot.delivery.callbacks import calendar_day, choice, number, register
from bot.org.access import Actor
from bot.org.models import Employee, Regu, Unit
from bot.platform.config import Settings
from bot.platform.texts import render
from bot.unit_admin.common import (
    ADMIN,
    KARUPAM,
    KPLP,
    MAX_BUTTONS,
    Jurisdiction,
    Origin,
    PressOutcome,
    Reply,
    button,
    close_buttons,
    local_today,
    notify,
    result_reply,
    scope_for,
    unit_toast,
)

log = logging.getLogger(__name__)

BUTTONS = register(
    "t",
    # t:p:<employee>:<yyyymmdd>:<slot index>  the person, once several matched
    person=("p", number("employee"), calendar_day("day"), choice("slot", ("0", "1", "2"))),
    # t:u:<swap>  undo a swap (and its pair)
    undo=("u", number("swap")),
)
REGU_SWAPPERS = (ADMIN, KPLP)
PERSON_SWAPPERS = (ADMIN, KPLP, KARUPAM)
MAX_DAYS_AHEAD = 366

_reply = result_reply("tukar_reply")
_toast = unit_toast


def _check_day(unit: Unit, day: date, now: datetime) -> str | None:
    today = local_today(unit.timezone, now)
    if day < today:
        return "past"
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        return "too_far"
    return None


def swap_regu(session: Session, settings: Settings, *, actor: Actor, regu: Regu, day: date,
              slot: str, now: datetime) -> Reply:
    scope = scope_for(session, actor, REGU_SWAPPERS)
    if scope is None or not scope.allows_unit(regu.unit_id):
        return _reply("not_allowed_regu")
    unit = session.get(Unit, regu.unit_id)
    problem = _check_day(unit, day, now)
    if problem:
        return _reply(problem)
    by_slot = {p.slot: p.regu for p in day_plans(session, settings, unit, day)}
    displaced_name = by_slot[slot]
    if displaced_name == regu.name:
        return _reply("already", regu=regu, slot=slot, day=day)
    other_slot = next((s for s, name in by_slot.items() if name == regu.name), None)
    touched = [slot] + ([other_slot] if other_slot else [])
    if apel_opened(session, unit.id, day, touched):
        return _reply("already_open", day=day)
    _revoke(session, session.exec(select(DutySwap).where(
        DutySwap.unit_id == unit.id, DutySwap.duty_date == day, in_force(),
        col(DutySwap.regu_id).is_not(None), col(DutySwap.slot).in_(touched))), actor, now)
    first = DutySwap(unit_id=unit.id, duty_date=day, slot=slot, regu_id=regu.id,
                     created_by=actor.telegram_user_id, created_at=now)
    session.add(first)
    session.flush()
    displaced = session.exec(select(Regu).where(Regu.unit_id == unit.id,
                                                Regu.name == displaced_name)).first()
    ids = [first.id]
    if other_slot and displaced is not None:
        second = DutySwap(unit_id=unit.id, duty_date=day, slot=other_slot,
                          regu_id=displaced.id, pair_id=first.id,
                          created_by=actor.telegram_user_id, created_at=now)
        session.add(second)
        session.flush()
        ids.append(second.id)
    record_event(session, kind="swap.recorded", actor=f"tg:{actor.telegram_user_id}", at=now,
                 payload={"swap_ids": ids, "unit_id": unit.id, "date": day.isoformat(),
                          "slot": slot, "regu_id": regu.id,
                          "other_slot": other_slot,
                          "displaced_regu_id": displaced.id if displaced else None})
    plans = day_plans(session, settings, unit, day)
    context = {"unit": unit, "day": day, "slot": slot, "regu": regu,
               "displaced": displaced_name, "other_slot": other_slot}
    for group in (regu, displaced):
        if group is not None and group.chat_id:
            outbox.send_message(session, key=f"swap-group:{first.id}:{group.chat_id}",
                                chat_id=group.chat_id,
                                text=render("tukar_group_notice", plans=plans, **context),
                                now=now, priority=outbox.PRIORITY_REPLY)
    log.info("swap %s: %s stands %s %s on %s", ids, regu.name, unit.code, slot, day)
    return Reply("tukar_saved", {"kind": "regu", "plans": plans, **context},
                 [[button("button_undo", BUTTONS.encode("undo", swap=first.id))]])


def _own_slot(session: Session, settings: Settings, employee: Employee,
              plans: list[ApelPlan]) -> str | None:
    """The apel this person stands today without a swap (config `attendance`), or None."""
    regu = session.get(Regu, employee.regu_id) if employee.regu_id else None
    person = standing(employee.id, employee.role, regu.name if regu else None,
                      settings.attendance)
    if not person.stands:
        return None
    if person.regu is None:
        return "pagi" if plans[0].includes_administration else None
    return next((p.slot for p in plans if p.regu == person.regu), None)


def swap_person(session: Session, settings: Settings, *, actor: Actor, employee: Employee,
                day: date, slot: str, now: datetime) -> Reply:
    scope = scope_for(session, actor, PERSON_SWAPPERS)
    if scope is None or not scope.allows(employee) or not employee.active:
        return _reply("not_allowed")
    unit = session.get(Unit, employee.unit_id)
    problem = _check_day(unit, day, now)
    if problem:
        return _reply(problem)
    plans = day_plans(session, settings, unit, day)
    own = _own_slot(session, settings, employee, plans)
    current = {m.employee_id: m.slot for m in moves_on(session, unit.id, day)}.get(employee.id)
    stands_now = current or own
    if stands_now == slot:
        return _reply("already_person", employee=employee, slot=slot, day=day)
    touched = [s for s in {slot, own, current} if s]
    if apel_opened(session, unit.id, day, touched):
        return _reply("already_open", day=day)
    _revoke(session, session.exec(select(DutySwap).where(
        DutySwap.employee_id == employee.id, DutySwap.duty_date == day, in_force())), actor, now)
    row = DutySwap(unit_id=unit.id, duty_date=day, slot=slot, employee_id=employee.id,
                   created_by=actor.telegram_user_id, created_at=now)
    session.add(row)
    session.flush()
    record_event(session, kind="swap.recorded", actor=f"tg:{actor.telegram_user_id}", at=now,
                 payload={"swap_ids": [row.id], "unit_id": unit.id, "date": day.isoformat(),
                          "slot": slot, "employee_id": employee.id, "from_slot": own})
    by_slot = {p.slot: p for p in plans}
    context = {"unit": unit, "day": day, "slot": slot, "employee": employee, "own": own,
               "plan": by_slot[slot]}
    if employee.telegram_user_id != actor.telegram_user_id:
        notify(session, employee, f"swap-note:{row.id}", "tukar_person_notice", now, **context)
    return Reply("tukar_saved", {"kind": "person", "plans": plans, **context},
                 [[button("button_undo", BUTTONS.encode("undo", swap=row.id))]])


def _may_change(session: Session, actor: Actor, row: DutySwap) -> bool:
    if row.regu_id is not None:
        scope = scope_for(session, actor, REGU_SWAPPERS)
        return scope is not None and scope.allows_unit(row.unit_id)
    scope = scope_for(session, actor, PERSON_SWAPPERS)
    employee = session.get(Employee, row.employee_id)
    return scope is not None and employee is not None and scope.allows(employee)


def revoke(session: Session, settings: Settings, *, actor: Actor, swap_id: int,
           now: datetime, origin: Origin | None = None) -> PressOutcome:
    row = session.get(DutySwap, swap_id)
    if row is None:
        return PressOutcome(_toast("not_found"))
    if not _may_change(session, actor, row):
        return PressOutcome(_toast("not_allowed"))
    if row.revoked_at is not None:
        return PressOutcome(_toast("already_revoked"))
    head = row.pair_id or row.id
    rows = list(session.exec(select(DutySwap).where(
        or_(col(DutySwap.id) == head, col(DutySwap.pair_id) == head), in_force())))
    if apel_opened(session, row.unit_id, row.duty_date, [r.slot for r in rows]):
        return PressOutcome(_toast("already_open"))
    _revoke(session, rows, actor, now)
    session.flush()
    record_event(session, kind="swap.revoked", actor=f"tg:{actor.telegram_user_id}", at=now,
                 payload={"swap_ids": sorted(r.id for r in rows), "unit_id": row.unit_id,
                          "date": row.duty_date.isoformat()})
    unit = session.get(Unit, row.unit_id)
    close_buttons(session, origin, render("tukar_undone_note"), now, key=f"swap-close:{head}")
    plans = day_plans(session, settings, unit, row.duty_date)
    return PressOutcome(_toast("swap_revoked"), Reply("tukar_revoked", {
        "unit": unit, "day": row.duty_date, "plans": plans}))


def upcoming(session: Session, settings: Settings, *, actor: Actor, scope: Jurisdiction,
             now: datetime) -> Reply:
    """The swaps in force from today on, in the actor's units, with undo buttons."""
    units = {u.id: u for u in session.exec(select(Unit).where(Unit.active))
             if scope.allows_unit(u.id)}
    if not units:
        return Reply("tukar_usage", {"regu_rights": False})
    lo = min(local_today(u.timezone, now) for u in units.values())
    rows = list(session.exec(select(DutySwap).where(
        col(DutySwap.unit_id).in_(list(units)), DutySwap.duty_date >= lo, in_force(),
        col(DutySwap.pair_id).is_(None))
        .order_by(col(DutySwap.duty_date), col(DutySwap.id)).limit(MAX_BUTTONS)))
    shown = []
    for r in rows:
        shown.append({"swap": r, "unit": units[r.unit_id],
                      "regu": session.get(Regu, r.regu_id) if r.regu_id else None,
                      "employee": session.get(Employee, r.employee_id) if r.employee_id
                      else None})
    keyboard = [[button("button_undo_swap", BUTTONS.encode("undo", swap=item["swap"].id), **item)]
                for item in shown if _may_change(session, actor, item["swap"])]
    regu_rights = scope_for(session, actor, REGU_SWAPPERS) is not None
    return Reply("tukar_list", {"rows": shown, "regu_rights": regu_rights}, keyboard or None)


def _revoke(session: Session, swaps: Iterable[DutySwap], actor: Actor, now: datetime) -> None:
    """Revoked, not deleted: the audit log's entries still point at them."""
    for swap in swaps:
        swap.revoked_at, swap.revoked_by = now, actor.telegram_user_id
        session.add(swap)
