"""Every closed apel's figures recomputed from the chain alone, and compared with what the
reports show.

The chain carries what the figures need: who was expected when the apel opened
(`apel.opened`), each pledge and whether it was late, leave and its early ends, corrections.
The classification is the reports' own (bot/apel/classification.py): pledged on time or
late first, then on leave, then corrected, else absent. "Absent" is missing plus not reached:
whether a group's briefing was delivered is not on the record, so the two are compared as one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Connection, func, select

from bot.apel.classification import (
    CORRECTED,
    LATE,
    LEAVE,
    MISSING,
    NOT_REACHED,
    ON_TIME,
    PENDING,
    expected_rows,
    status_expr,
)
from bot.apel.models import Apel, ApelExpected, ApelStatusCount
from bot.audit.report import Problem
from bot.inspection.ledger import Ledger
from bot.inspection.tables import MISSING as UNSTATED

LAYER = 3  # after the tables


@dataclass(frozen=True)
class Figures:
    expected: int = 0
    on_time: int = 0
    late: int = 0
    leave: int = 0
    corrected: int = 0
    absent: int = 0  # missing + not reached

    @classmethod
    def of(cls, statuses: Counter) -> Figures:
        absent = statuses[MISSING] + statuses[NOT_REACHED] + statuses[PENDING]
        return cls(sum(statuses.values()), statuses[ON_TIME], statuses[LATE], statuses[LEAVE],
                   statuses[CORRECTED], absent)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Figures:
        return cls(**{f.name: int(data.get(f.name, 0)) for f in fields(cls)})


@dataclass(frozen=True)
class ApelFigures:
    """One closed apel: where and when, the figures the chain gives, and those shown."""

    apel_id: int
    unit_id: int | None
    date: str
    slot: str
    seq: int  # its apel.opened entry
    chain: Figures
    shown: Figures | None  # None: not available (a bundle without figures)

    @property
    def matches(self) -> bool:
        return self.shown is None or self.shown == self.chain


def _leave_by_person(ledger: Ledger) -> dict[Any, list[tuple[str, str]]]:
    out: dict[Any, list[tuple[str, str]]] = defaultdict(list)
    for want in ledger.tables.get("leave", {}).values():
        person, start, end = want.get("employee_id"), want.get("start"), want.get("end")
        if UNSTATED not in (person, start, end):
            out[person].append((start, end))
    return out


def _status(ledger: Ledger, leave: dict, apel_id: int, day: str, person: int) -> str:
    pledge = ledger.pledges.get((apel_id, person))
    if pledge is not None:
        return LATE if pledge[0] else ON_TIME
    if any(start <= day <= end for start, end in leave.get(person, ())):  # ISO dates sort
        return LEAVE
    if (apel_id, person) in ledger.corrections:
        return CORRECTED
    return MISSING


def chain_figures(ledger: Ledger) -> dict[int, tuple[dict[str, Any], Figures]]:
    """Closed apel id -> (what apel.opened said, the figures its entries give)."""
    leave = _leave_by_person(ledger)
    out = {}
    for apel_id, apel in ledger.apels.items():
        if apel.get("state") != "closed" or not isinstance(apel.get("expected"), list):
            continue
        day = str(apel.get("date"))
        out[apel_id] = (apel, Figures.of(Counter(
            _status(ledger, leave, apel_id, day, p) for p in apel["expected"])))
    return out


def shown_figures(conn: Connection) -> dict[int, Figures]:
    """What the reports show for each closed apel: its stored counts while they are current
    (bot/apel/counts.py), else the live classification, as the reports do."""
    a, c = Apel.__table__, ApelStatusCount.__table__
    counted = (a.c.state == "closed") & (a.c.counted_version == a.c.change_version)
    statuses: dict[int, Counter] = defaultdict(Counter)
    for apel_id, status, n in conn.execute(
            select(c.c.apel_id, c.c.status, func.sum(c.c.n)).join(a, a.c.id == c.c.apel_id)
            .where(counted).group_by(c.c.apel_id, c.c.status)):
        statuses[apel_id][status] += int(n)
    stale = [Apel.state == "closed", Apel.counted_version != Apel.change_version]
    for apel_id, status in conn.execute(
            expected_rows([ApelExpected.apel_id, status_expr()], stale)):
        statuses[apel_id][status] += 1
    closed = conn.execute(select(a.c.id).where(a.c.state == "closed")).scalars()
    return {apel_id: Figures.of(statuses[apel_id]) for apel_id in closed}


def compare(ledger: Ledger, shown: dict[int, Figures] | None) -> tuple[list[ApelFigures],
                                                                        list[Problem]]:
    """Recomputed figures of every closed apel and, where `shown` differs, one Problem each."""
    result, problems = [], []
    chain = chain_figures(ledger)
    for apel_id, (apel, figures) in sorted(chain.items()):
        seen = None if shown is None else shown.get(apel_id, Figures())
        row = ApelFigures(apel_id, apel.get("unit_id"), str(apel.get("date")),
                          str(apel.get("slot")), apel["seq"], figures, seen)
        result.append(row)
        if not row.matches:
            problems.append(_differs(row))
    for apel_id in sorted(set(shown or {}) - set(chain)):
        problems.append(Problem(None, f"apel {apel_id}: the reports show figures for a closed "
                                "apel the chain has no closed record of", layer=LAYER,
                                code="figures_unrecorded", data={"apel": apel_id}))
    return result, problems


def _differs(row: ApelFigures) -> Problem:
    assert row.shown is not None
    diffs = ", ".join(f"{name} {getattr(row.shown, name)} (chain: {value})"
                      for name, value in row.chain.as_dict().items()
                      if getattr(row.shown, name) != value)
    return Problem(row.seq, f"apel {row.apel_id} ({row.date} {row.slot}, unit {row.unit_id}): "
                   f"the reports show {diffs}", layer=LAYER,
                   code="figures_differ",
                   data={"apel": row.apel_id, "date": row.date, "slot": row.slot})
