"""The day plan with duty swaps: the calendar with the database's swaps in force.

A regu swap puts a regu on an apel of one date; if it had another apel that day the displaced
regu takes that one (the two exchange), otherwise the displaced regu is off. A person swap puts
one employee on another apel of that date instead of their own. Swaps are rows in `DutySwap`,
passed to the pure calendar in bot/calendar/duty.py as extra overrides and moves;
`opening.open_apel` (bot/apel/opening.py) honours them when it freezes the expected list. Only
apel not yet opened can be swapped.

/tukar is bot/unit_admin/swap_command.py (its rules: swap_rules.py); /jadwal is
bot/unit_admin/schedule.py. The plan is the core's: every feature reads it through here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sqlmodel import Session, col, select

from bot.apel.models import Apel, DutySwap
from bot.calendar.duty import ApelPlan, Move, day_plan, regu_on_duty
from bot.org.models import Regu, Unit
from bot.platform.config import RotationOverride, Settings


def in_force():  # noqa: ANN201
    """SQL: the swap is not revoked."""
    return col(DutySwap.revoked_at).is_(None)


def regu_overrides(session: Session, unit_id: int, day: date) -> list[RotationOverride]:
    """The regu swaps in force for a unit on a day, newest first (the first match wins)."""
    rows = session.exec(
        select(DutySwap.slot, Regu.name).join(Regu, col(Regu.id) == DutySwap.regu_id)
        .where(DutySwap.unit_id == unit_id, DutySwap.duty_date == day, in_force())
        .order_by(col(DutySwap.id).desc())).all()
    return [RotationOverride(date=day, slot=slot, regu=name) for slot, name in rows]


def moves_on(session: Session, unit_id: int, day: date) -> list[Move]:
    """The person swaps in force for a unit on a day (the newest per person)."""
    rows = session.exec(
        select(DutySwap.employee_id, DutySwap.slot)
        .where(DutySwap.unit_id == unit_id, DutySwap.duty_date == day, in_force(),
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


def apel_opened(session: Session, unit_id: int, day: date, slots: list[str]) -> bool:
    """Whether an apel of these slots has opened that day (its roster is frozen: too late to
    swap)."""
    return session.exec(select(Apel.id).where(
        Apel.unit_id == unit_id, Apel.duty_date == day, col(Apel.slot).in_(slots))
    ).first() is not None
