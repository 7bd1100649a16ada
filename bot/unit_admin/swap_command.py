"""/tukar and its `t:` buttons: what was typed or pressed -> which swap, which reply.

The rules (who may swap whom, the recording) are in bot/unit_admin/swap_rules.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from bot.org.access import Actor
from bot.org.models import Employee, Unit
from bot.org.people import find_regus
from bot.platform.config import SLOTS, Settings
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
    result_reply,
    scope_for,
    split_dates,
    unit_toast,
)
from bot.unit_admin.swap_rules import (
    BUTTONS,
    PERSON_SWAPPERS,
    REGU_SWAPPERS,
    revoke,
    swap_person,
    swap_regu,
    upcoming,
)

_reply = result_reply("tukar_reply")
_toast = unit_toast


def _slot_of(word: str) -> str | None:
    word = word.lower().removeprefix("apel")
    return word if word in SLOTS else None


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
