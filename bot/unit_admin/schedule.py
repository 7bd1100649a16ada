"""/jadwal: who stands which apel on a day, in each unit's local time, swaps included."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from bot.apel.day_plan import moves_on, regu_overrides
from bot.calendar.duty import day_plan, off_duty_regu
from bot.org.access import Actor
from bot.org.models import Employee, Unit
from bot.platform.config import Settings
from bot.unit_admin.common import Reply, local_today, reader_scope, split_dates


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
