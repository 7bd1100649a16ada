"""Many units side by side (/rekap of a Kanwil or of every Kanwil in scope): one line per unit
or per Kanwil, worst first."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.apel.models import Apel
from bot.calendar.periods import Span
from bot.org.models import Unit
from bot.reports.tally import Tally, tallies, total, worst_first


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
