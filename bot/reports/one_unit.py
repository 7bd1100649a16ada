"""One unit's figures: the rekap of a day or a period (per apel, slot and regu), the chart's
daily series, the workbook's rows, and the last apel (/belum)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from bot.apel.classification import apel_conditions, expected_rows, status_expr, tune
from bot.apel.models import Apel, ApelExpected, Correction, Pledge
from bot.calendar.periods import Span
from bot.org.models import Employee, Unit
from bot.platform.config import SLOTS
from bot.reports.tally import Tally, regu_names, tallies, total


@dataclass(frozen=True)
class ApelInfo:
    id: int
    unit_id: int
    duty_date: date
    slot: str
    state: str
    scheduled_at: datetime
    deadline_at: datetime


def apels_in(session: Session, unit_ids: Sequence[int], start: date, end: date,
             states: Sequence[str] | None = None) -> list[ApelInfo]:
    query = (select(Apel.id, Apel.unit_id, Apel.duty_date, Apel.slot, Apel.state,
                    Apel.scheduled_at, Apel.deadline_at)
             .where(col(Apel.unit_id).in_(list(unit_ids)), Apel.duty_date >= start,
                    Apel.duty_date <= end)
             .order_by(col(Apel.scheduled_at)))
    if states is not None:
        query = query.where(col(Apel.state).in_(list(states)))
    return [ApelInfo(*r) for r in session.exec(query)] if unit_ids else []


def _group_order(item: tuple[int | None, str]) -> tuple:
    """(regu id, name): regu by name, administration staff last."""
    regu_id, name = item
    return (regu_id is None, name)


# --- the rekap ------------------------------------------------------------------------------------


@dataclass
class ApelLine:
    apel: ApelInfo
    groups: list[tuple[str, Tally]]
    total: Tally


@dataclass
class UnitRekap:
    unit: Unit
    span: Span
    total: Tally
    by_slot: list[tuple[str, Tally]]
    by_regu: list[tuple[str, Tally]]
    apels: list[ApelLine]  # per apel: only for a single day
    missed: list[ApelInfo]
    apel_count: int  # apel held (open or closed)


def unit_rekap(session: Session, unit: Unit, span: Span) -> UnitRekap:
    names = regu_names(session, [unit.id])
    apels = apels_in(session, [unit.id], span.start, span.end)
    held = [a for a in apels if a.state != "missed"]
    missed = [a for a in apels if a.state == "missed"]
    apel_lines: list[ApelLine] = []
    slot_t: dict[str, Tally] = defaultdict(Tally)
    regu_t: dict[int | None, Tally] = defaultdict(Tally)
    if span.single_day:
        rows = tallies(session, [unit.id], span.start, span.end, ("apel", "regu"))
        per_apel: dict[int, dict[int | None, Tally]] = defaultdict(dict)
        for (apel_id, regu_id), t in rows.items():
            per_apel[apel_id][regu_id] = t
        for a in held:
            groups = per_apel.get(a.id, {})
            ordered = sorted(((r, names.get(r, "?")) for r in groups), key=_group_order)
            line = ApelLine(a, [(name, groups[r]) for r, name in ordered],
                            total(groups.values()))
            apel_lines.append(line)
            slot_t[a.slot].add(line.total)
            for r, t in groups.items():
                regu_t[r].add(t)
    else:
        rows = tallies(session, [unit.id], span.start, span.end, ("slot", "regu"))
        for (slot, regu_id), t in rows.items():
            slot_t[slot].add(t)
            regu_t[regu_id].add(t)
    by_slot = [(s, slot_t[s]) for s in SLOTS if s in slot_t]
    by_regu = [(name, regu_t[r]) for r, name in
               sorted(((r, names.get(r, "?")) for r in regu_t), key=_group_order)]
    return UnitRekap(unit=unit, span=span, total=total(slot_t.values()), by_slot=by_slot,
                     by_regu=by_regu, apels=apel_lines, missed=missed, apel_count=len(held))


# --- daily series (the chart) and the rows of the workbook --------------------------------------


@dataclass
class DailySeries:
    unit: Unit
    span: Span
    days: list[date]
    # per group name (regu order, administration last): {day: Tally}; a day without an entry:
    # the group stood no apel (off duty, or the apel was missed)
    series: list[tuple[str, dict[date, Tally]]]
    total: Tally
    missed_days: list[date]
    missed_apel: int


def daily_series(session: Session, unit: Unit, span: Span) -> DailySeries:
    names = regu_names(session, [unit.id])
    rows = tallies(session, [unit.id], span.start, span.end, ("day", "regu"))
    per_group: dict[int | None, dict[date, Tally]] = defaultdict(dict)
    for (day, regu_id), t in rows.items():
        per_group[regu_id][day] = t
    ordered = sorted(((r, names.get(r, "?")) for r in per_group), key=_group_order)
    missed = apels_in(session, [unit.id], span.start, span.end, states=("missed",))
    return DailySeries(unit=unit, span=span, days=sorted({d for d, _ in rows}),
                       series=[(name, per_group[r]) for r, name in ordered],
                       total=total(rows.values()),
                       missed_days=sorted({a.duty_date for a in missed}), missed_apel=len(missed))


def detail_rows(session: Session, unit: Unit, span: Span) -> list[tuple]:
    """One tuple per expected person per apel, in apel order then regu then name:
    (duty_date, slot, regu_id, nip, name, status, pledged_at UTC or None, after_deadline,
    correction reason or None)."""
    tune(session)
    status = status_expr().label("status")
    query = (expected_rows([Apel.duty_date, Apel.slot, ApelExpected.regu_id, Employee.nip,
                            Employee.name, status, Pledge.pledged_at, Pledge.after_deadline,
                            Correction.reason], apel_conditions([unit.id], span.start, span.end))
             .join(Employee, col(Employee.id) == ApelExpected.employee_id)
             .order_by(col(Apel.scheduled_at), col(ApelExpected.regu_id).is_(None),
                       ApelExpected.regu_id, col(Employee.name)))
    return [tuple(r) for r in session.execute(query)]


# --- the last apel, for /belum -----------------------------------------------------------------


def last_apel(session: Session, unit: Unit, now: datetime) -> Apel | None:
    """The current apel if one is open, else the most recent one (missed included)."""
    return session.exec(
        select(Apel).where(Apel.unit_id == unit.id, Apel.scheduled_at <= now)
        .order_by(col(Apel.scheduled_at).desc()).limit(1)).first()
