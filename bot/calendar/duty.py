"""Who stands which apel when: rotation, working days, leave. Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import holidays

from bot.platform.config import (
    OFF_DUTY,
    SLOTS,
    STANDS_NONE,
    STANDS_WITH_ADMINISTRATION,
    AttendanceConfig,
    CalendarConfig,
    PeriodConfig,
    RotationOverride,
    UnitConfig,
)


@dataclass(frozen=True)
class ApelPlan:
    unit_code: str
    duty_date: date
    slot: str
    scheduled_local: datetime
    scheduled_at: datetime  # UTC
    late_after_at: datetime  # UTC: pledges after this are late
    deadline_at: datetime  # UTC: the report goes out, missing people are nudged
    regu: str  # the regu on duty
    includes_administration: bool  # pagi on a working day


@dataclass(frozen=True)
class Person:
    id: int
    regu: str | None  # None: administration staff, outside the regu system
    # False: stands no apel of their own (config `attendance` "none"); a swap may still move
    # them onto one.
    stands: bool = True


def standing(employee_id: int, role: str, regu: str | None,
             attendance: AttendanceConfig) -> Person:
    """How a roster person stands the apel, by jabatan (config `attendance`): with their regu,
    with the administration staff (regu None), or at none (the Kalapas, by default: he
    receives the reports)."""
    stands = attendance.of(role)
    if stands == STANDS_NONE:
        return Person(employee_id, None, stands=False)
    return Person(employee_id, None if stands == STANDS_WITH_ADMINISTRATION else regu)


@dataclass(frozen=True)
class LeaveSpan:
    employee_id: int
    start: date
    end: date  # inclusive

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Move:
    """One person standing `slot` on `day` instead of their own apel (a person swap)."""

    employee_id: int
    day: date
    slot: str


@lru_cache(maxsize=32)
def _national_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("ID", years=year).keys())


def is_working_day(day: date, calendar: CalendarConfig) -> bool:
    """Administration staff work Monday to Friday, except national holidays and cuti bersama."""
    if day.weekday() >= 5:
        return False
    if day in _national_holidays(day.year):
        return False
    return day not in calendar.cuti_bersama and day not in calendar.extra_holidays


def regu_on_duty(unit: UnitConfig, day: date, slot: str,
                 overrides: Iterable[RotationOverride] = ()) -> str:
    """The regu standing `slot` on `day`. `overrides` (e.g. swaps recorded in the database)
    win over the config's rotation.overrides, which win over the rotation."""
    if slot not in SLOTS:
        raise ValueError(f"unknown slot {slot!r}")
    for override in (*overrides, *unit.rotation.overrides):
        if override.date == day and override.slot == slot:
            return override.regu
    order = unit.rotation_order
    cycle = unit.rotation.cycle
    days = (day - unit.rotation.anchor_date).days
    # regu i stands cycle[(i + days) % n]; solve for the i that stands `slot`.
    return order[(cycle.index(slot) - days) % len(cycle)]


def plan_apel(unit: UnitConfig, day: date, slot: str, calendar: CalendarConfig,
              overrides: Iterable[RotationOverride] = ()) -> ApelPlan:
    local = datetime.combine(day, unit.apel_times.of(slot), tzinfo=unit.zone)
    at = local.astimezone(UTC)
    return ApelPlan(
        unit_code=unit.code,
        duty_date=day,
        slot=slot,
        scheduled_local=local,
        scheduled_at=at,
        late_after_at=at + timedelta(minutes=unit.late_after_minutes),
        deadline_at=at + timedelta(minutes=unit.deadline_minutes),
        regu=regu_on_duty(unit, day, slot, overrides),
        includes_administration=slot == "pagi" and is_working_day(day, calendar),
    )


def day_plan(unit: UnitConfig, day: date, calendar: CalendarConfig,
             overrides: Iterable[RotationOverride] = ()) -> list[ApelPlan]:
    overrides = tuple(overrides)
    return [plan_apel(unit, day, slot, calendar, overrides) for slot in SLOTS]


def local_date(unit: UnitConfig, instant: datetime) -> date:
    return instant.astimezone(unit.zone).date()


def plans_due(
    unit: UnitConfig,
    calendar: CalendarConfig,
    period: PeriodConfig,
    since: datetime,
    until: datetime,
) -> Iterator[ApelPlan]:
    """Apel of `unit` scheduled in [since, until], inside the pledge period, oldest first."""
    day = local_date(unit, since)
    last = local_date(unit, until)
    while day <= last:
        if period.start <= day <= period.end:
            for plan in day_plan(unit, day, calendar):
                if since <= plan.scheduled_at <= until:
                    yield plan
        day += timedelta(days=1)


def expected_people(
    plan: ApelPlan, people: Iterable[Person], leaves: Iterable[LeaveSpan],
    moves: Iterable[Move] = (),
) -> list[Person]:
    """The on-duty regu (plus administration at pagi on working days), minus those on leave
    and those who stand no apel.

    A person with a move that day stands the apel of the move instead of their own."""
    on_leave = {lv.employee_id for lv in leaves if lv.covers(plan.duty_date)}
    moved = {m.employee_id: m.slot for m in moves if m.day == plan.duty_date}
    out = []
    for p in people:
        if p.id in on_leave:
            continue
        if p.id in moved:
            if moved[p.id] == plan.slot:
                out.append(p)
            continue
        if p.stands and (p.regu == plan.regu
                         or (p.regu is None and plan.includes_administration)):
            out.append(p)
    return out


def off_duty_regu(unit: UnitConfig, day: date,
                  overrides: Iterable[RotationOverride] = ()) -> list[str]:
    overrides = tuple(overrides)
    on_duty = {regu_on_duty(unit, day, slot, overrides) for slot in SLOTS}
    return [r for r in unit.rotation_order if r not in on_duty]


__all__ = [
    "OFF_DUTY",
    "ApelPlan",
    "LeaveSpan",
    "Move",
    "Person",
    "day_plan",
    "expected_people",
    "is_working_day",
    "local_date",
    "off_duty_regu",
    "plan_apel",
    "plans_due",
    "regu_on_duty",
    "standing",
]
