"""Duty swaps (/tukar) and the day's schedule (/jadwal).

A regu swap puts a regu on an apel of one date; if it had another apel that day the displaced
regu takes that one (the two exchange), otherwise the displaced regu is off. A person swap puts
one employee on another apel of that date instead of their own. Swaps are rows in `DutySwap`,
passed to the pure calendar in bot/calendar/duty.py as extra overrides and moves; `apel.open_apel`
honours them when it freezes the expected list. Only apel not yet opened can be swapped.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, datetime, timedelta

from sqlalchemy import or_
from sqlmodel import Session, col, select

from bot.audit.log import record_event
from bot.calendar.duty import ApelPlan, Move, day_plan, off_duty_regu, regu_on_duty, standing
from bot.delivery import outbox
from bot.delivery.callbacks import calendar_day, choice, number, register
from bot.models import Apel, Employee, Regu, Unit
from bot.org.access import Actor
from bot.org.people import find_regus
from bot.platform.config import SLOTS, RotationOverride, Settings
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
    find_people,
    local_today,
    notify,
    reader_scope,
    result_reply,
    scope_for,
    split_dates,
    unit_toast,
)
from bot.unit_admin.models import DutySwap

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


# --- the calendar with the database's swaps ----------------------------------------------------


def _active():  # noqa: ANN202
    return col(DutySwap.revoked_at).is_(None)


def regu_overrides(session: Session, unit_id: int, day: date) -> list[RotationOverride]:
    """The regu swaps in force for a unit on a day, newest first (the first match wins)."""
    rows = session.exec(
        select(DutySwap.slot, Regu.name).join(Regu, col(Regu.id) == DutySwap.regu_id)
        .where(DutySwap.unit_id == unit_id, DutySwap.duty_date == day, _active())
        .order_by(col(DutySwap.id).desc())).all()
    return [RotationOverride(date=day, slot=slot, regu=name) for slot, name in rows]


def moves_on(session: Session, unit_id: int, day: date) -> list[Move]:
    """The person swaps in force for a unit on a day (the newest per person)."""
    rows = session.exec(
        select(DutySwap.employee_id, DutySwap.slot)
        .where(DutySwap.unit_id == unit_id, DutySwap.duty_date == day, _active(),
               col(DutySwap.employee_id).is_not(None))
        .order_by(col(DutySwap.id).desc())).all()
    seen: dict[int, Move] = {}
    for employee_id, slot in rows:
        seen.setdefault(employee_id, Move(employee_id, day, slot))
    return list(seen.values())


def effective_plan(session: Session, settings: Settings, unit_id: int,
                   plan: ApelPlan) -> ApelPlan:
    """The plan with the regu the database's swaps put on it."""
    overrides = regu_overrides(session, unit_id, plan.duty_date)
    if not overrides:
        return plan
    regu = regu_on_duty(settings.unit(plan.unit_code), plan.duty_date, plan.slot, overrides)
    return replace(plan, regu=regu)


def day_plans(session: Session, settings: Settings, unit: Unit, day: date) -> list[ApelPlan]:
    return day_plan(settings.unit(unit.code), day, settings.calendar,
                    regu_overrides(session, unit.id, day))


def _opened(session: Session, unit_id: int, day: date, slots: list[str]) -> bool:
    return session.exec(select(Apel.id).where(
        Apel.unit_id == unit_id, Apel.duty_date == day, col(Apel.slot).in_(slots))
    ).first() is not None


_reply = result_reply("tukar_reply")
_toast = unit_toast


def _slot_of(word: str) -> str | None:
    word = word.lower().removeprefix("apel")
    return word if word in SLOTS else None


# --- /tukar ------------------------------------------------------------------------------------


def command(session: Session, settings: Settings, *, actor: Actor, text: str,
            now: datetime) -> Reply:
    text = " ".join(text.split())
    if not actor.known:
        return _reply("not_registered")
    person_scope = scope_for(session, actor, PERSON_SWAPPERS)
    if person_scope is None:
        return _reply("not_allowed")
    if not text:
        return upcoming(session, settings, actor=actor, scope=person_scope, now=now)
    before, words, after = split_dates(text)
    rest = [w for w in f"{before} {after}".split() if w.lower() != "apel"]
    slot = next((_slot_of(w) for w in rest if _slot_of(w)), None)
    units = {u.code: u for u in session.exec(select(Unit).where(Unit.active))
             if person_scope.allows_unit(u.id)}
    unit_code = next((w.lower() for w in rest if w.lower() in units), None)
    target = " ".join(w for w in rest if not _slot_of(w) and w.lower() != unit_code)
    if words is None or slot is None or not target:
        return Reply("tukar_usage",
                     {"regu_rights": scope_for(session, actor, REGU_SWAPPERS) is not None})
    unit_ids = [units[unit_code].id] if unit_code else [u.id for u in units.values()]
    regus = find_regus(session, target, unit_ids=unit_ids, partial=False)
    if regus:
        regu_scope = scope_for(session, actor, REGU_SWAPPERS)
        if regu_scope is None:
            return _reply("not_allowed_regu")
        if len(regus) > 1:
            return _reply("ambiguous_regu", units=[session.get(Unit, r.unit_id) for r in regus])
        unit = session.get(Unit, regus[0].unit_id)
        dates = words.resolve(local_today(unit.timezone, now))
        if dates is None or dates[0] != dates[1]:
            return _reply("invalid_date")
        return swap_regu(session, settings, actor=actor, regu=regus[0], day=dates[0],
                         slot=slot, now=now)
    scope = (person_scope if not unit_code
             else Jurisdiction(frozenset(unit_ids), person_scope.regu_id))
    people = find_people(session, scope, target)
    if not people:
        return _reply("not_found", query=target)
    unit = session.get(Unit, people[0].unit_id)
    dates = words.resolve(local_today(unit.timezone, now))
    if dates is None or dates[0] != dates[1]:
        return _reply("invalid_date")
    if len(people) > 1:
        if len(people) > MAX_BUTTONS:
            return _reply("ambiguous", people=people[:MAX_BUTTONS], query=target)
        keyboard = [[button("button_person",
                            BUTTONS.encode("person", employee=p.id, day=dates[0],
                                           slot=str(SLOTS.index(slot))), person=p)]
                    for p in people]
        return Reply("cuti_choose_person", {"people": people, "query": target}, keyboard)
    return swap_person(session, settings, actor=actor, employee=people[0], day=dates[0],
                       slot=slot, now=now)


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
    if _opened(session, unit.id, day, touched):
        return _reply("already_open", day=day)
    for old in session.exec(select(DutySwap).where(
            DutySwap.unit_id == unit.id, DutySwap.duty_date == day, _active(),
            col(DutySwap.regu_id).is_not(None), col(DutySwap.slot).in_(touched))):
        old.revoked_at, old.revoked_by = now, actor.telegram_user_id
        session.add(old)
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
    if _opened(session, unit.id, day, touched):
        return _reply("already_open", day=day)
    for old in session.exec(select(DutySwap).where(
            DutySwap.employee_id == employee.id, DutySwap.duty_date == day, _active())):
        old.revoked_at, old.revoked_by = now, actor.telegram_user_id
        session.add(old)
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
        or_(col(DutySwap.id) == head, col(DutySwap.pair_id) == head), _active())))
    if _opened(session, row.unit_id, row.duty_date, [r.slot for r in rows]):
        return PressOutcome(_toast("already_open"))
    for r in rows:
        r.revoked_at, r.revoked_by = now, actor.telegram_user_id
        session.add(r)
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
        col(DutySwap.unit_id).in_(list(units)), DutySwap.duty_date >= lo, _active(),
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


def press(session: Session, settings: Settings, *, actor: Actor, data: str | None,
          now: datetime, origin: Origin | None = None) -> PressOutcome:
    """Every `t:` button, checked, with the presser's rights checked again."""
    pressed = BUTTONS.decode(data)
    if pressed is None:
        return PressOutcome(render("toast_invalid"))
    if pressed.shape == "undo":
        return revoke(session, settings, actor=actor, swap_id=pressed["swap"], now=now,
                      origin=origin)
    day, slot_ix = pressed["day"], pressed["slot"]
    employee = session.get(Employee, pressed["employee"])
    scope = scope_for(session, actor, PERSON_SWAPPERS)
    if employee is None or scope is None or not scope.allows(employee):
        return PressOutcome(_toast("not_allowed"))
    reply = swap_person(session, settings, actor=actor, employee=employee, day=day,
                        slot=SLOTS[int(slot_ix)], now=now)
    return PressOutcome(_toast("ok"), reply)


# --- /jadwal -----------------------------------------------------------------------------------


def schedule(session: Session, settings: Settings, *, actor: Actor, text: str,
             now: datetime) -> Reply:
    """Who stands which apel on a day, in each unit's local time, swaps included."""
    if not actor.known:
        return Reply("jadwal", {"result": "not_registered"})
    scope = reader_scope(session, actor)
    allowed = {u.id: u for u in session.exec(select(Unit).where(Unit.active))
               if (scope is not None and scope.allows_unit(u.id))
               or (actor.employee is not None and u.id == actor.employee.unit_id)}
    words = text.split()
    by_code = {u.code: u for u in allowed.values()}
    chosen = [by_code[w.lower()] for w in words if w.lower() in by_code]
    rest = " ".join(w for w in words if w.lower() not in by_code)
    own = allowed.get(actor.employee.unit_id) if actor.employee is not None else None
    if not chosen:
        if own is not None:
            chosen = [own]
        elif not allowed:  # the person's unit is inactive or gone from config.toml
            return Reply("jadwal", {"result": "usage"})
        elif len(allowed) <= 3:
            chosen = sorted(allowed.values(), key=lambda u: u.name)
        else:
            return Reply("jadwal", {"result": "choose_unit",
                                    "units": sorted(allowed.values(), key=lambda u: u.code)})
    _, day_words, leftover = split_dates(rest)
    if (rest and day_words is None) or leftover:
        return Reply("jadwal", {"result": "usage"})
    blocks = []
    for unit in chosen:
        today = local_today(unit.timezone, now)
        dates = day_words.resolve(today) if day_words else (today, today)
        if dates is None or dates[0] != dates[1]:
            return Reply("jadwal", {"result": "usage"})
        day = dates[0]
        cfg = settings.unit(unit.code)
        overrides = regu_overrides(session, unit.id, day)
        plans = day_plan(cfg, day, settings.calendar, overrides)
        plain = cfg.model_copy(update={"rotation": cfg.rotation.model_copy(
            update={"overrides": []})})  # the rotation alone: what differs is a swap
        base = {p.slot: p.regu for p in day_plan(plain, day, settings.calendar)}
        moves = moves_on(session, unit.id, day)
        moved = []
        if moves:
            people = {e.id: e for e in session.exec(select(Employee).where(
                col(Employee.id).in_([m.employee_id for m in moves])))}
            moved = [(people[m.employee_id], m.slot) for m in moves if m.employee_id in people]
        blocks.append({"unit": unit, "day": day, "plans": plans,
                       "swapped": {p.slot for p in plans if base[p.slot] != p.regu},
                       "moved": sorted(moved, key=lambda x: x[0].name),
                       "off": off_duty_regu(cfg, day, overrides),
                       "in_period": settings.period.start <= day <= settings.period.end})
    return Reply("jadwal", {"result": "ok", "blocks": blocks})
