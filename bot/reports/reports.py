"""What the Kalapas asks: who pledged, per apel, regu, unit, day or person, over a period.

Every figure comes from the one classification of the frozen roster (ApelExpected) in
bot/apel/classification.py, the rules of the report sent when an apel closes. Closed apel
are read from their kept counts (bot/apel/counts.py), the rest classified live; the
database groups and counts (`tallies`) and Python only pivots the few resulting rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, union_all
from sqlmodel import Session, col, select

from bot.apel import counts as apel_counts
from bot.apel.classification import (
    CORRECTED,
    LATE,
    MISSING,
    NOT_REACHED,
    PENDING,
    STATUSES,
    apel_conditions,
    expected_rows,
    status_expr,
    tune,
)
from bot.calendar.periods import Span
from bot.models import Apel, ApelExpected, Employee, Leave, Pledge, Regu, Unit
from bot.platform.config import SLOTS
from bot.platform.texts import render
from bot.unit_admin.models import Correction


@dataclass
class Tally:
    expected: int = 0  # on the frozen roster of the apel (leave included)
    on_time: int = 0
    late: int = 0
    leave: int = 0
    corrected: int = 0
    missing: int = 0
    pending: int = 0
    not_reached: int = 0

    def count(self, status: str, n: int) -> None:
        setattr(self, status, getattr(self, status) + n)
        self.expected += n

    def add(self, other: Tally) -> None:
        for name in ("expected", *STATUSES):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def pledged(self) -> int:
        return self.on_time + self.late

    @property
    def due(self) -> int:
        """Those who had to pledge: the roster minus leave and corrections (the base of the
        percentage, as in the report sent when the apel closes)."""
        return self.expected - self.leave - self.corrected

    @property
    def ratio(self) -> float | None:
        return self.pledged / self.due if self.due else None


def total(tallies: Iterable[Tally]) -> Tally:
    out = Tally()
    for t in tallies:
        out.add(t)
    return out


GROUP_KEYS = {
    "unit": Apel.unit_id,
    "apel": Apel.id,
    "slot": Apel.slot,
    "day": Apel.duty_date,
    "regu": ApelExpected.regu_id,
    "employee": ApelExpected.employee_id,
}


def tallies(session: Session, unit_ids: Sequence[int], start: date, end: date,
            by: Sequence[str], *, employee_id: int | None = None,
            regu_id: int | None = None) -> dict[tuple, Tally]:
    """Counts per group (keys named in `by`, see GROUP_KEYS) over apel with duty dates in
    [start, end]. One SQL statement (one snapshot): the kept counts of counted apel, plus the
    live classification of the others (every apel when asked per person)."""
    if not unit_ids:
        return {}
    out: dict[tuple, Tally] = defaultdict(Tally)
    for row in session.execute(tally_query(session, unit_ids, start, end, by,
                                           employee_id=employee_id, regu_id=regu_id)):
        *key, st, n = row
        out[tuple(key)].count(st, n)
    return dict(out)


def tally_query(session: Session, unit_ids: Sequence[int], start: date, end: date,
                by: Sequence[str], *, employee_id: int | None = None,
                regu_id: int | None = None):  # noqa: ANN201 (a Select)
    """The statement of `tallies`: rows (keys..., status, n)."""
    tune(session)
    in_range = apel_conditions(unit_ids, start, end)
    per_person = employee_id is not None or "employee" in by
    keys = [GROUP_KEYS[k] for k in by]
    status = status_expr().label("status")
    live = expected_rows([*keys, status, func.count()],
                         in_range if per_person else [*in_range, apel_counts.uncounted()])
    if employee_id is not None:
        live = live.where(ApelExpected.employee_id == employee_id)
    if regu_id is not None:
        live = live.where(ApelExpected.regu_id == regu_id)
    query = live.group_by(*keys, status)
    if not per_person:
        query = union_all(query, apel_counts.summed(by, unit_ids, start, end, regu_id))
    return query


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


def regu_names(session: Session, unit_ids: Iterable[int]) -> dict[int | None, str]:
    names: dict[int | None, str] = {r.id: r.name for r in session.exec(
        select(Regu).where(col(Regu.unit_id).in_(list(unit_ids))))}
    names[None] = render("admin_group_name")
    return names


def _group_order(item: tuple[int | None, str]) -> tuple:
    regu_id, name = item
    return (regu_id is None, name)


def worst_first(t: Tally, name: str) -> tuple:
    """Sort key: the lowest share pledged first, then the most missing; nothing due last."""
    return (t.ratio is None, t.ratio or 0.0, -t.missing, -t.late, name)


# --- one unit ----------------------------------------------------------------------------------


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


# --- many units --------------------------------------------------------------------------------


@dataclass
class RollupLine:
    key_unit_id: int  # the unit to drill into (for a Kanwil line: any unit of that Kanwil)
    name: str
    total: Tally
    missed: int = 0
    apel_count: int = 0
    units: int = 1


@dataclass
class Rollup:
    kanwil: str | None  # None: several Kanwil, one line each
    span: Span
    lines: list[RollupLine]
    total: Tally = field(default_factory=Tally)
    missed: int = 0


def unit_totals(session: Session, units: Sequence[Unit],
                spans: dict[int, Span]) -> dict[int, RollupLine]:
    """Per unit: its tally, apel held and missed. One grouped query per distinct date range
    (units in different time zones may be on different dates)."""
    by_range: dict[tuple[date, date], list[int]] = defaultdict(list)
    for u in units:
        by_range[(spans[u.id].start, spans[u.id].end)].append(u.id)
    out = {u.id: RollupLine(u.id, u.name, Tally()) for u in units}
    for (start, end), ids in by_range.items():
        for (unit_id,), t in tallies(session, ids, start, end, ("unit",)).items():
            out[unit_id].total = t
        counts = session.exec(
            select(Apel.unit_id, Apel.state, func.count())
            .where(col(Apel.unit_id).in_(ids), Apel.duty_date >= start, Apel.duty_date <= end)
            .group_by(Apel.unit_id, Apel.state))
        for unit_id, state, n in counts:
            if state == "missed":
                out[unit_id].missed += n
            else:
                out[unit_id].apel_count += n
    return out


def rollup(session: Session, units: Sequence[Unit], spans: dict[int, Span],
           span: Span, *, by_kanwil: bool) -> Rollup:
    lines = unit_totals(session, units, spans)
    if by_kanwil:
        grouped: dict[str, RollupLine] = {}
        for u in units:
            line = lines[u.id]
            g = grouped.get(u.kanwil)
            if g is None:
                g = grouped[u.kanwil] = RollupLine(u.id, u.kanwil, Tally(), units=0)
            g.total.add(line.total)
            g.missed += line.missed
            g.apel_count += line.apel_count
            g.units += 1
        out = list(grouped.values())
        kanwil = None
    else:
        out = [lines[u.id] for u in units]
        kanwil = units[0].kanwil if units else None
    out.sort(key=lambda line: worst_first(line.total, line.name))
    return Rollup(kanwil=kanwil, span=span, lines=out, total=total(x.total for x in out),
                  missed=sum(x.missed for x in out))


# --- one regu, one person ----------------------------------------------------------------------


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
