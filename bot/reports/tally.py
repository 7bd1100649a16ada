"""Counting who pledged: a Tally per group, `tallies` (the one statement that counts them), and
the names and order of the groups.

Every figure comes from the one classification of the frozen roster (ApelExpected) in
bot/apel/classification.py, the rules of the report sent when an apel closes. Closed apel
are read from their kept counts (bot/apel/counts.py), the rest classified live; the
database groups and counts (`tallies`) and Python only pivots the few resulting rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, union_all
from sqlmodel import Session, col, select

from bot.apel import counts as apel_counts
from bot.apel.classification import STATUSES, apel_conditions, expected_rows, status_expr, tune
from bot.apel.models import Apel, ApelExpected
from bot.org.models import Regu
from bot.platform.texts import render


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


def regu_names(session: Session, unit_ids: Iterable[int]) -> dict[int | None, str]:
    """The names of the groups of a tally by regu: regu id -> name, None -> administration."""
    names: dict[int | None, str] = {r.id: r.name for r in session.exec(
        select(Regu).where(col(Regu.unit_id).in_(list(unit_ids))))}
    names[None] = render("admin_group_name")
    return names


def worst_first(t: Tally, name: str) -> tuple:
    """Sort key: the lowest share pledged first, then the most missing; nothing due last."""
    return (t.ratio is None, t.ratio or 0.0, -t.missing, -t.late, name)
