"""Pledging: a batch of presses recorded with a handful of set-based queries; each press bound
to its presser, and counted only in a chat where its apel's briefing was posted."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Row
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot.apel import counts as apel_counts
from bot.apel.models import Apel, ApelExpected, Briefing, Pledge
from bot.apel.opening import private_briefing_key
from bot.audit.log import Event, format_at, record_events
from bot.delivery import inbox
from bot.delivery.models import ChatMigration, OutboxMessage
from bot.org.models import Employee, Unit
from bot.platform.db import insert_ignoring_duplicates

log = logging.getLogger(__name__)


class PledgeResult(enum.Enum):
    RECORDED = "recorded"
    RECORDED_LATE = "recorded_late"
    ALREADY = "already"
    NOT_REGISTERED = "not_registered"
    NOT_EXPECTED = "not_expected"  # recorded, with a note
    UNKNOWN_APEL = "unknown_apel"
    WRONG_CHAT = "wrong_chat"  # the apel's briefing was not posted in this chat: nothing done


@dataclass(frozen=True)
class PledgeOutcome:
    result: PledgeResult
    apel_id: int | None = None
    employee_name: str | None = None
    pledged_at: datetime | None = None
    timezone: str = "Asia/Jakarta"  # the unit's, for the time in the toast


@dataclass(frozen=True)
class Press:
    """One press of the pledge button: who Telegram says pressed, where, when."""

    apel_id: int
    telegram_user_id: int
    chat_id: int
    at: datetime
    inbox_id: int | None = None  # the stored update: marked handled with the pledge itself


def pledge(session: Session, *, apel_id: int, telegram_user_id: int, chat_id: int,
           now: datetime) -> PledgeOutcome:
    """Record the presser's pledge. The person is whoever Telegram says pressed, nothing else."""
    return pledge_many(session, [Press(apel_id, telegram_user_id, chat_id, now)])[0]


def pledge_many(session: Session, presses: list[Press]) -> list[PledgeOutcome]:
    """Record a batch of presses with a handful of set-based queries (bursts of thousands).

    Doubles in the batch, in the database, or written meanwhile by another process all come
    back as ALREADY; exactly one Pledge row and one audit entry exist per (apel, employee).
    """
    # The hot path of a burst: columns, not ORM objects, run on the session's connection
    # (the ORM's execution layer doubled the cost of each query, issue 17 profile).
    conn = session.connection()
    apels = {a.id: a for a in conn.execute(
        select(Apel.id, Apel.unit_id, Apel.state, Apel.late_after_at, Apel.deadline_at,
               Unit.timezone)
        .join(Unit, col(Unit.id) == Apel.unit_id)
        .where(col(Apel.id).in_({p.apel_id for p in presses})))}
    people, done, expected = _presser_state(conn, presses, list(apels))
    posted = _briefed_chats(session, presses, people)

    outcomes: list[PledgeOutcome | None] = []
    rows: list[dict] = []
    for press in presses:
        apel = apels.get(press.apel_id)
        if apel is None or apel.state == "missed":
            outcomes.append(PledgeOutcome(PledgeResult.UNKNOWN_APEL))
            continue
        zone = apel.timezone
        if (apel.id, press.chat_id) not in posted:  # another unit's (or group's) apel id
            log.warning("pledge press for apel %d in chat %d, where it was not posted",
                        apel.id, press.chat_id)
            outcomes.append(PledgeOutcome(PledgeResult.WRONG_CHAT, apel.id, timezone=zone))
            continue
        person = people.get(press.telegram_user_id)
        if person is None:
            outcomes.append(PledgeOutcome(PledgeResult.NOT_REGISTERED, apel.id, timezone=zone))
            continue
        if person.unit_id != apel.unit_id:  # a guest in another unit's group: not his apel
            outcomes.append(PledgeOutcome(PledgeResult.WRONG_CHAT, apel.id, timezone=zone))
            continue
        key = (apel.id, person.id)
        if key in done:
            outcomes.append(PledgeOutcome(PledgeResult.ALREADY, apel.id, person.name,
                                          done[key], zone))
            continue
        done[key] = press.at
        rows.append({"apel_id": apel.id, "employee_id": person.id,
                     "telegram_user_id": press.telegram_user_id, "chat_id": press.chat_id,
                     "pledged_at": press.at, "late": press.at > apel.late_after_at,
                     "after_deadline": press.at > apel.deadline_at,
                     "expected": key in expected})
        outcomes.append(None)  # decided once we know the row went in
    inserted = _insert_new_pledges(session, rows)
    # A pledge to a closed apel (late, after the deadline) changes its counts.
    apel_counts.changed(session, {a for a, _ in inserted})
    pending = iter(rows)
    events: list[Event] = []
    for i, outcome in enumerate(outcomes):
        if outcome is not None:
            continue
        row = next(pending)
        apel = apels[row["apel_id"]]
        name, zone = people[row["telegram_user_id"]].name, apel.timezone
        pledge_id = inserted.get((row["apel_id"], row["employee_id"]))
        if pledge_id is None:  # another process recorded it a moment ago
            outcomes[i] = PledgeOutcome(PledgeResult.ALREADY, apel.id, name, row["pledged_at"],
                                        zone)
            continue
        events.append(Event("pledge.recorded", f"tg:{row['telegram_user_id']}", {
            "pledge_id": pledge_id, "apel_id": apel.id, "employee_id": row["employee_id"],
            "late": row["late"], "after_deadline": row["after_deadline"],
            "expected": row["expected"], "pledged_at": format_at(row["pledged_at"])},
            row["pledged_at"]))
        if not row["expected"]:
            result = PledgeResult.NOT_EXPECTED
        elif row["late"]:
            result = PledgeResult.RECORDED_LATE
        else:
            result = PledgeResult.RECORDED
        outcomes[i] = PledgeOutcome(result, apel.id, name, row["pledged_at"], zone)
    record_events(session, events)
    # The presses' updates are handled exactly when their pledges are: one commit.
    inbox.mark_handled(session, [p.inbox_id for p in presses if p.inbox_id is not None],
                       max(p.at for p in presses))
    return outcomes  # type: ignore[return-value]


def unanswered_press_note(session: Session, telegram_user_id: int,
                          outcome: PledgeOutcome) -> dict | None:
    """What the private note about a pledge whose toast came too late says; None when the
    person's private chat with the bot is not known to work (nothing to send then)."""
    person = session.exec(select(Employee).where(
        Employee.telegram_user_id == telegram_user_id, Employee.active)).first()
    apel = session.get(Apel, outcome.apel_id) if outcome.apel_id else None
    if person is None or apel is None or not person.private_chat_ok:
        return None
    return {"name": person.name, "slot": apel.slot, "at": outcome.pledged_at,
            "zone": outcome.timezone, "late": outcome.result == PledgeResult.RECORDED_LATE}


def _presser_state(conn: Connection, presses: list[Press], apel_ids: list[int]) -> tuple[
        dict[int, Row], dict[tuple[int, int], datetime], set[tuple[int, int]]]:
    """The pressers, by Telegram id, with what they already pledged and were expected at among
    these apel: one query (each round trip of the batch's transaction waits for the GIL while
    the event loop is busy, so fewer of them shorten every press's wait, issue 17)."""
    pledged = aliased(Pledge.__table__)
    expected_at = aliased(ApelExpected.__table__)
    rows = conn.execute(
        select(Employee.id, Employee.name, Employee.telegram_user_id, Employee.unit_id,
               pledged.c.apel_id, pledged.c.pledged_at, expected_at.c.apel_id.label("expected"))
        .outerjoin(pledged, (pledged.c.employee_id == Employee.id)
                   & pledged.c.apel_id.in_(apel_ids))
        .outerjoin(expected_at, (expected_at.c.employee_id == Employee.id)
                   & expected_at.c.apel_id.in_(apel_ids))
        .where(col(Employee.telegram_user_id).in_({p.telegram_user_id for p in presses}),
               Employee.active)).all()
    people = {row.telegram_user_id: row for row in rows}
    done = {(row.apel_id, row.id): row.pledged_at for row in rows if row.apel_id is not None}
    expected = {(row.expected, row.id) for row in rows if row.expected is not None}
    return people, done, expected


def _briefed_chats(session: Session, presses: list[Press],
                   people: dict) -> set[tuple[int, int]]:
    """(apel id, chat id) wherever the apel's briefing was posted among these presses' apel:
    its groups (as queued, as sent, and the supergroup a group became since), and the private
    chats of people moved onto it (/tukar). A pledge counts only from one of these chats."""
    conn = session.connection()
    # Old ids too: a group Telegram upgraded to a supergroup meanwhile is pressed in by its new.
    moved_queued, moved_sent = aliased(ChatMigration.__table__), aliased(ChatMigration.__table__)
    queued = col(Briefing.chat_id)
    sent = col(OutboxMessage.chat_id)
    rows = conn.execute(
        select(Briefing.apel_id, queued, sent, moved_queued.c.new_chat_id,
               moved_sent.c.new_chat_id)
        .join(OutboxMessage, col(OutboxMessage.id) == Briefing.outbox_id, isouter=True)
        .outerjoin(moved_queued, moved_queued.c.old_chat_id == queued)
        .outerjoin(moved_sent, moved_sent.c.old_chat_id == sent)
        .where(col(Briefing.apel_id).in_({p.apel_id for p in presses}))).all()
    posted = {(apel_id, chat) for apel_id, *chats in rows for chat in chats if chat is not None}
    # A private chat's id is its person's user id; their briefing is keyed by employee.
    private = {private_briefing_key(p.apel_id, people[p.telegram_user_id].id): p.apel_id
               for p in presses
               if p.chat_id == p.telegram_user_id and p.telegram_user_id in people}
    if private:
        posted |= {(private[key], chat) for key, chat in conn.execute(
            select(OutboxMessage.key, OutboxMessage.chat_id).where(
                col(OutboxMessage.key).in_(private)))}
    return posted


def _insert_new_pledges(session: Session, rows: list[dict]) -> dict[tuple[int, int], int]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: {(apel id, employee id): pledge id}."""
    if not rows:
        return {}
    table = Pledge.__table__
    statement = (insert_ignoring_duplicates(session, table, ["apel_id", "employee_id"])
                 .returning(table.c.apel_id, table.c.employee_id, table.c.id))
    return {(a, e): i for a, e, i in session.connection().execute(statement, rows)}
