"""The one classification of a person expected at an apel, in SQL.

Every report reads it (bot/reports/), and so do the per-apel counts kept for closed
apel (bot/apel/counts.py). It follows the rules of the report sent when an apel
closes (bot/apel/closing.py: build_report):

- on time: pledged, not late; late: pledged, `Pledge.late` (after the deadline included);
- leave: not pledged, and a Leave covers the apel's duty date;
- corrected: not pledged, not on leave, excused afterwards by the KPLP or Kalapas (/koreksi);
- missing: not pledged, not on leave, the apel is closed and the group's briefing was delivered
  by the deadline;
- pending: not pledged yet, the apel is still open ("belum", in progress, not yet missing);
- not reached: not pledged, not on leave, the group's briefing was not delivered by the deadline
  (nobody can be blamed for a button they never saw);
- an apel the bot slept through (state "missed") has nobody expected; it is counted apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import Boolean, case, text
from sqlalchemy import select as sa_select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col, select

from bot.apel.models import Apel, ApelExpected, Briefing, Correction, Pledge
from bot.delivery.models import OutboxMessage
from bot.org.models import Leave

ON_TIME, LATE, LEAVE, CORRECTED, MISSING, PENDING, NOT_REACHED = (
    "on_time", "late", "leave", "corrected", "missing", "pending", "not_reached")
STATUSES = (ON_TIME, LATE, LEAVE, CORRECTED, MISSING, PENDING, NOT_REACHED)


def leave_covers(employee_id, day):  # noqa: ANN001, ANN201 (SQL expressions)
    """SQL: some Leave of `employee_id` covers `day` (columns or values)."""
    return select(Leave.id).where(Leave.employee_id == employee_id, Leave.start <= day,
                                  Leave.end >= day).exists()


def briefing_reached(apel_id, regu_id, by):  # noqa: ANN001, ANN201 (SQL expressions)
    """SQL: the briefing of group `regu_id` (None: administration) of `apel_id` was delivered
    by `by`. A group without a delivered briefing is "not reached": its people are not counted
    as missing."""
    return (select(Briefing.id)
            .join(OutboxMessage, col(OutboxMessage.id) == Briefing.outbox_id)
            .where(Briefing.apel_id == apel_id,
                   col(Briefing.regu_id).is_not_distinct_from(regu_id),
                   OutboxMessage.state == "sent", col(OutboxMessage.sent_at) <= by)
            .exists())


def status_expr():  # noqa: ANN201 (an SQL expression)
    """SQL: the status of one ApelExpected row, joined to its Apel and (outer) its Pledge and
    Correction (see expected_rows)."""
    return case(
        (col(Pledge.id).is_not(None), case((col(Pledge.late), LATE), else_=ON_TIME)),
        (leave_covers(ApelExpected.employee_id, Apel.duty_date), LEAVE),
        (col(Correction.id).is_not(None), CORRECTED),
        (Apel.state == "open", PENDING),
        (briefing_reached(ApelExpected.apel_id, ApelExpected.regu_id, Apel.deadline_at), MISSING),
        else_=NOT_REACHED,
    )


def tune(session: Session) -> None:
    """PostgreSQL: no JIT for report queries. Its compile time (0.5-1.5 s on a year of data)
    costs more than it saves on these scans; SET LOCAL ends with the transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def apel_conditions(unit_ids: Sequence[int], start: date, end: date) -> list:
    """SQL conditions: apel of `unit_ids` with duty dates in [start, end]."""
    return [col(Apel.unit_id).in_(list(unit_ids)), Apel.duty_date >= start,
            Apel.duty_date <= end]


class in_apel(FunctionElement):  # noqa: N801 (an SQL construct, used like a function)
    """SQL: `apel_id IN (the ids of a subquery)`, looked up id by id in the primary key.

    PostgreSQL: `= ANY(ARRAY(subquery))`, one index probe per apel, whatever the planner
    guesses of the subquery's size (a plain IN becomes a hash join over the whole table when it
    guesses many). SQLite probes the index for each id of an IN list by itself."""

    type = Boolean()
    inherit_cache = True
    name = "in_apel"


@compiles(in_apel)
def _in_apel(element: in_apel, compiler, **kw) -> str:  # noqa: ANN001
    column, ids = element.clauses
    return f"{compiler.process(column, **kw)} IN {compiler.process(ids, **kw)}"


@compiles(in_apel, "postgresql")
def _in_apel_pg(element: in_apel, compiler, **kw) -> str:  # noqa: ANN001
    column, ids = element.clauses
    return f"{compiler.process(column, **kw)} = ANY(ARRAY{compiler.process(ids, **kw)})"


def expected_rows(columns: Sequence, apel_where: Sequence):  # noqa: ANN201 (a Select)
    """The frozen rosters of the apel matching `apel_where`, joined to their Apel and (outer)
    Pledge and Correction.

    The rosters are read apel by apel (`in_apel`, a subquery of the same statement, so the same
    snapshot): the work follows the apel asked for, however far apart their ids lie (a unit's
    year among every unit's, a few stale apel spread over a year).
    """
    ids = sa_select(Apel.id).where(*apel_where).correlate(None).scalar_subquery()
    return (
        sa_select(*columns)
        .select_from(ApelExpected)
        .join(Apel, col(Apel.id) == ApelExpected.apel_id)
        .outerjoin(Pledge, (col(Pledge.apel_id) == ApelExpected.apel_id)
                   & (col(Pledge.employee_id) == ApelExpected.employee_id))
        .outerjoin(Correction, (col(Correction.apel_id) == ApelExpected.apel_id)
                   & (col(Correction.employee_id) == ApelExpected.employee_id))
        .where(*apel_where, in_apel(col(ApelExpected.apel_id), ids))
    )


def corrections_for(session: Session, apel_ids: Iterable[int]
                    ) -> dict[tuple[int, int], Correction]:
    """Every correction of these apel, by (apel_id, employee_id). One indexed query per 500."""
    ids = sorted(set(apel_ids))
    out: dict[tuple[int, int], Correction] = {}
    for i in range(0, len(ids), 500):
        for row in session.exec(select(Correction).where(
                col(Correction.apel_id).in_(ids[i:i + 500]))):
            out[(row.apel_id, row.employee_id)] = row
    return out
