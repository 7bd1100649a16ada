"""Per-apel counts of each status, kept for closed apel so a year of reports adds up rows
instead of classifying millions of people again.

An apel's counts are used while `counted_version == change_version`. Whatever can change how
one of its people counts after it closed bumps `change_version` in the same transaction:
a pledge or a correction (`changed`), a leave over its date (`leave_changed`); both count
the closed apel again at once. Reports fall back to the live classification for an apel whose
counts are stale, so a missed bump costs speed, never a wrong figure; `recount_stale`
(housekeeping, `apel-bot db upgrade`) catches up.

Why it is safe on PostgreSQL under READ COMMITTED: bumps and counts both lock the apel row
first, so a count waits for every earlier writer and its statements see what they committed;
and a count is marked current only for the version it read.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date

from sqlalchemy import Integer, bindparam, cast, delete, func, insert, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from bot.apel.classification import expected_rows, status_expr
from bot.apel.models import Apel, ApelExpected, ApelStatusCount, Briefing
from bot.delivery.models import OutboxMessage

_APEL = Apel.__table__


def counted():  # noqa: ANN201 (an SQL expression)
    """SQL: this apel's ApelStatusCount rows are current."""
    return (Apel.state == "closed") & (col(Apel.counted_version) == col(Apel.change_version))


def stale():  # noqa: ANN201 (an SQL expression)
    """SQL: this apel is closed and its counts are missing or out of date.

    `(counted_version = change_version) IS NOT TRUE`, not `<>`: PostgreSQL keeps statistics
    on that expression (migration 1100), so it knows how few such apel there are; of a column
    compared with a column it would guess nearly all, and read every apel of the year. The
    predicate of the small partial index ix_apel_uncounted is this expression as written."""
    same = col(Apel.counted_version) == col(Apel.change_version)
    return (Apel.state == "closed") & same.is_not(True)


def uncounted():  # noqa: ANN201 (an SQL expression)
    """SQL: this apel's figures are classified live: it is open, or closed with counts missing
    or stale. A missed apel is neither (nobody was expected at it)."""
    return (Apel.state == "open") | stale()


def changed(session: Session, apel_ids: Collection[int]) -> None:
    """Something about these apel changed (a pledge, a correction): count the closed ones
    again, in this transaction."""
    recount(session, _touch(session, apel_ids))


def leave_changed(session: Session, employee_id: int, start: date, end: date) -> None:
    """A leave of `employee_id` over [start, end] was written or changed."""
    changed(session, apel_of_leave(session, employee_id, start, end))


def apel_of_leave(session: Session, employee_id: int, start: date, end: date) -> set[int]:
    """The apel whose figures a leave of `employee_id` over [start, end] changes."""
    return set(session.exec(
        select(ApelExpected.apel_id).join(Apel, col(Apel.id) == ApelExpected.apel_id)
        .where(ApelExpected.employee_id == employee_id, Apel.duty_date >= start,
               Apel.duty_date <= end)).all())


def _touch(session: Session, apel_ids: Collection[int]) -> list[int]:
    """Mark the counts of these apel stale; returns the closed ones. Rows are locked in id
    order (as everywhere), so two writers cannot each hold an apel the other waits for."""
    if not apel_ids:
        return []
    rows = session.execute(
        update(_APEL).where(_APEL.c.id.in_(sorted(apel_ids)))
        .values(change_version=_APEL.c.change_version + 1)
        .returning(_APEL.c.id, _APEL.c.state))
    return [apel_id for apel_id, state in rows if state == "closed"]


def _briefings_settled():  # noqa: ANN202 (an SQL expression)
    """SQL: no briefing of the apel is still queued or in flight. One in flight at the close
    may yet be marked sent as of before the deadline (its group reached after all), so such an
    apel is counted once its briefings have settled, and read live until then."""
    return ~(select(Briefing.id)
             .join(OutboxMessage, col(OutboxMessage.id) == Briefing.outbox_id)
             .where(Briefing.apel_id == Apel.id,
                    col(OutboxMessage.state).in_(("pending", "sending")))
             .exists())


def recount(session: Session, apel_ids: Collection[int]) -> int:
    """Count the closed apel among `apel_ids` afresh; returns how many were counted."""
    if not apel_ids:
        return 0
    # The row lock orders this count with any bump (a pledge, a correction) on PostgreSQL:
    # without it a recount and a bump could wait on each other (the count rows vs the apel).
    # FOR NO KEY UPDATE, not FOR UPDATE: a pledge being inserted holds KEY SHARE on its apel
    # (the foreign key) and must not block a close that then waits for that pledge's bump.
    versions = dict(session.exec(
        select(Apel.id, Apel.change_version)
        .where(col(Apel.id).in_(sorted(apel_ids)), Apel.state == "closed", _briefings_settled())
        .order_by(col(Apel.id)).with_for_update(key_share=True)).all())
    if not versions:
        return 0
    ids = sorted(versions)
    session.execute(delete(ApelStatusCount).where(col(ApelStatusCount.apel_id).in_(ids)))
    status = status_expr().label("status")
    apel_columns = [Apel.unit_id, Apel.duty_date, Apel.slot]
    per_group = (expected_rows([ApelExpected.apel_id, ApelExpected.regu_id, status,
                                func.count(), *apel_columns], [col(Apel.id).in_(ids)])
                 .group_by(ApelExpected.apel_id, ApelExpected.regu_id, status, *apel_columns))
    table = ApelStatusCount.__table__
    session.execute(insert(table).from_select(
        [table.c.apel_id, table.c.regu_id, table.c.status, table.c.n, table.c.unit_id,
         table.c.duty_date, table.c.slot], per_group))
    # Current only if nothing bumped the version since it was read above.
    session.execute(
        update(_APEL).where(_APEL.c.id == bindparam("b_id"),
                            _APEL.c.change_version == bindparam("b_version"))
        .values(counted_version=bindparam("b_version")),
        [{"b_id": i, "b_version": v} for i, v in versions.items()])
    return len(ids)


def stale_ids(session: Session, limit: int) -> list[int]:
    """Closed apel whose counts are missing or out of date (ix_apel_uncounted keeps it cheap)."""
    return list(session.exec(
        select(Apel.id).where(stale(), _briefings_settled())
        .order_by(col(Apel.id)).limit(limit)).all())


def recount_stale(session: Session, limit: int = 50) -> int:
    """One batch of catching up; call until it returns 0."""
    return recount(session, stale_ids(session, limit))


def summed(keys: Sequence[str], unit_ids: Sequence[int], start: date, end: date,
           regu_id: int | None = None):  # noqa: ANN201
    """SQL: (keys..., status, n) from the counts of the counted apel of `unit_ids` with duty
    dates in [start, end], in the shape of the live classification's grouped rows
    (bot/reports/tally.py: tallies).

    The count rows carry their apel's unit, date and slot, so no apel is read for them: only
    the few stale ones (ix_apel_uncounted) are left out, read live instead (`uncounted`)."""
    c = ApelStatusCount
    columns = {"unit": c.unit_id, "apel": c.apel_id, "slot": c.slot, "day": c.duty_date,
               "regu": c.regu_id}
    picked = [columns[k] for k in keys]
    query = (sa_select(*picked, c.status, cast(func.sum(c.n), Integer))
             .where(col(c.unit_id).in_(list(unit_ids)), col(c.duty_date) >= start,
                    col(c.duty_date) <= end,
                    col(c.apel_id).not_in(sa_select(Apel.id).where(stale()))))
    if regu_id is not None:
        query = query.where(c.regu_id == regu_id)
    return query.group_by(*picked, c.status)
