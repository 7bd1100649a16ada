"""The live tally on each delivered briefing ("12 dari 30 pegawai sudah berikrar")."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.apel.buttons import pledge_callback
from bot.apel.classification import leave_covers
from bot.apel.models import Apel, ApelExpected, Briefing, Pledge
from bot.apel.opening import briefing_text
from bot.delivery import outbox, tallies
from bot.delivery.models import OutboxMessage
from bot.platform.texts import render

# Late pledges still move the tally for a day after the apel.
_TALLY_HORIZON = timedelta(days=1)


def refresh_tallies(session: Session, now: datetime, min_interval_s: float) -> int:
    """Queue an edit for each delivered briefing whose count changed, at most once per interval."""
    rows = session.exec(
        select(Briefing, OutboxMessage.state)
        .join(Apel, col(Apel.id) == Briefing.apel_id)
        .join(OutboxMessage, col(OutboxMessage.id) == Briefing.outbox_id)
        .where(col(Apel.state).in_(("open", "closed")),
               col(Apel.scheduled_at) >= now - _TALLY_HORIZON)
    ).all()
    if not rows:
        return 0
    apel_ids = {b.apel_id for b, _ in rows}
    totals = _group_counts(session, apel_ids, pledged=False, skip_leave=True)
    pledged = _group_counts(session, apel_ids, pledged=True)

    def count_of(briefing: Briefing) -> int:
        return pledged.get((briefing.apel_id, briefing.regu_id), 0)

    def total_of(briefing: Briefing) -> int:  # leave recorded meanwhile lowers it
        return totals.get((briefing.apel_id, briefing.regu_id), 0)

    def edit_of(briefing: Briefing, count: int) -> tuple[str, dict]:
        apel = session.get(Apel, briefing.apel_id)
        return "editMessageText", outbox.html_message(
            briefing_text(session, apel, (count, total_of(briefing))),
            [[outbox.button(render("button_pledge"), pledge_callback(apel.id))]])

    return tallies.refresh_posts(session, rows, count_of, edit_of, key_prefix="tally", now=now,
                                 min_interval_s=min_interval_s, base_of=total_of).queued


def _group_counts(session: Session, apel_ids: set[int], *, pledged: bool,
                  skip_leave: bool = False) -> dict:
    query = select(ApelExpected.apel_id, ApelExpected.regu_id, func.count()).where(
        col(ApelExpected.apel_id).in_(apel_ids))
    if skip_leave:
        # The apel is joined, not looked up in a subquery: nested inside the leave check, such a
        # subquery would not correlate with this row (PostgreSQL: more than one row; SQLite: the
        # first apel's date for every row).
        query = (query.join(Apel, col(Apel.id) == ApelExpected.apel_id)
                 .where(~leave_covers(ApelExpected.employee_id, Apel.duty_date)))
    if pledged:
        query = query.join(Pledge, (col(Pledge.apel_id) == ApelExpected.apel_id)
                           & (col(Pledge.employee_id) == ApelExpected.employee_id))
    query = query.group_by(ApelExpected.apel_id, ApelExpected.regu_id)
    return {(a, r): n for a, r, n in session.exec(query)}
