"""Figures person by person: a regu's people (/regu), a unit's people worst first (the workbook,
the weekly digest), and one person's record (/status)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.apel.classification import (
    CORRECTED,
    LATE,
    MISSING,
    NOT_REACHED,
    PENDING,
    apel_conditions,
    expected_rows,
    status_expr,
    tune,
)
from bot.apel.models import Apel, ApelExpected, Pledge
from bot.calendar.periods import Span
from bot.org.models import Employee, Leave, Regu, Unit
from bot.reports.tally import Tally, regu_names, tallies, total, worst_first


@dataclass
class PersonLine:
    employee_id: int
    name: str
    nip: str
    total: Tally
    regu: str | None = None  # the person's regu today (None: administration staff)


@dataclass
class ReguRekap:
    regu: Regu
    unit: Unit
    span: Span
    people: list[PersonLine]
    total: Tally


def regu_rekap(session: Session, regu: Regu, unit: Unit, span: Span) -> ReguRekap:
    """Person by person, over the apel this regu stood (the frozen roster's regu)."""
    lines = sorted(_people(session, [unit.id], span, regu_id=regu.id),
                   key=lambda p: (p.name, p.nip))
    return ReguRekap(regu=regu, unit=unit, span=span, people=lines,
                     total=total(p.total for p in lines))


def person_totals(session: Session, unit: Unit, span: Span) -> list[PersonLine]:
    """Every person expected at some apel of the unit in the span, worst first (the one who
    misses again and again on top): the workbook's per-person sheet and the weekly digest."""
    lines = _people(session, [unit.id], span)
    return sorted(lines, key=lambda p: worst_first(p.total, p.name))


def _people(session: Session, unit_ids: Sequence[int], span: Span, *,
            regu_id: int | None = None) -> list[PersonLine]:
    rows = tallies(session, unit_ids, span.start, span.end, ("employee",), regu_id=regu_id)
    if not rows:
        return []
    people = {e.id: e for e in session.exec(
        select(Employee).where(col(Employee.id).in_(list(k[0] for k in rows))))}
    names = regu_names(session, unit_ids)
    return [PersonLine(eid, people[eid].name, people[eid].nip, t,
                       names.get(people[eid].regu_id) if people[eid].regu_id else None)
            for (eid,), t in rows.items()]


@dataclass(frozen=True)
class PersonApel:
    duty_date: date
    slot: str
    status: str
    pledged_at: datetime | None
    after_deadline: bool


@dataclass
class PersonRecord:
    employee: Employee
    unit: Unit
    regu_name: str | None
    span: Span
    total: Tally
    notable: list[PersonApel]  # late, missing, not reached, pending: what the Kalapas acts on
    leaves: list[Leave]
    not_scheduled_pledges: int  # pressed although not on the roster (kept, with a note)


def person_record(session: Session, employee: Employee, unit: Unit, span: Span) -> PersonRecord:
    tune(session)
    status = status_expr().label("status")
    query = expected_rows([Apel.duty_date, Apel.slot, status, Pledge.pledged_at,
                           Pledge.after_deadline], apel_conditions([unit.id], span.start, span.end))
    query = query.where(ApelExpected.employee_id == employee.id).order_by(col(Apel.scheduled_at))
    t = Tally()
    notable: list[PersonApel] = []
    for day, slot, st, pledged_at, after in session.execute(query):
        t.count(st, 1)
        if st in (LATE, CORRECTED, MISSING, NOT_REACHED, PENDING):
            notable.append(PersonApel(day, slot, st, pledged_at, bool(after)))
    leaves = list(session.exec(
        select(Leave).where(Leave.employee_id == employee.id, Leave.start <= span.end,
                            Leave.end >= span.start).order_by(col(Leave.start))))
    extra = session.exec(
        select(func.count()).select_from(Pledge).join(Apel, col(Apel.id) == Pledge.apel_id)
        .where(Pledge.employee_id == employee.id, col(Pledge.expected).is_(False),
               Apel.duty_date >= span.start, Apel.duty_date <= span.end)).one()
    regu = session.get(Regu, employee.regu_id) if employee.regu_id else None
    return PersonRecord(employee=employee, unit=unit, regu_name=regu.name if regu else None,
                        span=span, total=t, notable=notable, leaves=leaves,
                        not_scheduled_pledges=int(extra))
