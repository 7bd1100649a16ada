"""Delivery marks that tell the truth: a row is 'sending' only while its request is on the
wire, and a send Telegram accepted is never sent again unmarked, even when recording it fails."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select
from telegram.error import Forbidden, NetworkError, TimedOut

from bot.delivery import outbox
from bot.delivery.models import OutboxMessage
from bot.delivery.outbox import Due
from bot.platform.clock import FakeClock
from bot.telegram.pacing import ChatWindows, GlobalPace, Limits
from bot.telegram.send_outcomes import Outcomes
from bot.telegram.sender import OutboxSender
from tests.delivery.test_faults import (
    GROUPS,
    OPERATOR,
    all_settled,
    delivered_texts,
    queue,
    running,
)

# Two sends a second: the rest of a batch waits its turn in the sender, not on the wire.
SLOW = Limits(global_per_window=2, global_window_seconds=1.0, retry_base_seconds=0.05,
              retry_cap_seconds=0.2, send_timeout_seconds=2.0)


async def test_rows_waiting_their_turn_are_not_marked_in_flight(settings, sqlite_db):
    async with running(settings, sqlite_db, limits=SLOW) as bot:
        queue(bot, 8)
        bot.runtime.wake_sender()
        await asyncio.sleep(1.2)  # two or three sent, the others waiting for their slot
        states = bot.db.call(lambda s: s.exec(select(OutboxMessage.state).where(
            OutboxMessage.key.startswith("t:"))).all())  # type: ignore[attr-defined]
        # A crash now would resend (marked) only what may really have left: at most one.
        assert states.count("sending") <= 1, states
        assert states.count("pending") >= 4, states
        rows = [r for r in await all_settled(bot, timeout=20) if r.key.startswith("t:")]
    assert all(r.state == "sent" for r in rows)


async def test_an_accepted_send_whose_recording_fails_is_not_sent_again(settings, sqlite_db,
                                                                        monkeypatch):
    failures = {"left": 3}
    real_mark_sent = outbox.mark_sent

    def flaky_mark_sent(*args, **kwargs):  # noqa: ANN002, ANN003
        if failures["left"]:
            failures["left"] -= 1  # the database connection is cut right after Telegram's yes
            raise OperationalError("UPDATE outboxmessage", {}, Exception("connection lost"))
        return real_mark_sent(*args, **kwargs)

    async with running(settings, sqlite_db) as bot:
        monkeypatch.setattr(outbox, "mark_sent", flaky_mark_sent)
        queue(bot, 1, chat_ids=GROUPS[:1])
        bot.runtime.wake_sender()
        rows = [r for r in await all_settled(bot) if r.key.startswith("t:")]
        await asyncio.sleep(0.5)  # a second copy would arrive now
    assert failures["left"] == 0 and rows[0].state == "sent"
    assert delivered_texts(bot.server) == ["pesan 0"]  # once, and unmarked


# --- a leader that froze, lost the lead and woke (tests/e2e/test_standby.py, end to end) -------

SENT_AT = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def one_row(db) -> OutboxMessage:  # noqa: ANN001
    return db.call(lambda s: s.exec(select(OutboxMessage).where(
        OutboxMessage.key == "t:0")).one())


def outcomes_of_a_process(db) -> Outcomes:  # noqa: ANN001
    limits = Limits()
    return Outcomes(db, FakeClock(SENT_AT), limits, pace=GlobalPace(limits),
                    windows=ChatWindows(limits), moved={}, wake=lambda: None,
                    stopping=lambda: False, operator_chat_id=OPERATOR)


def taken_over_and_resent(db) -> Due:  # noqa: ANN001
    """The old leader's send of row t:0 went on the wire; then the new leader recovered the row
    and resent it (marked). Returns the old leader's view of its send."""
    db.call(lambda s: outbox.send_message(s, key="t:0", chat_id=GROUPS[0], text="pesan",
                                          now=SENT_AT))
    old = db.call(lambda s: outbox.due(s, SENT_AT, 10))[0]
    assert db.call(lambda s: outbox.mark_sending(s, old.id, old.attempts))
    db.call(lambda s: outbox.recover_in_flight(s, SENT_AT))  # the new leader's start
    new = db.call(lambda s: outbox.due(s, SENT_AT, 10))[0]
    assert new.uncertain and db.call(lambda s: outbox.mark_sending(s, new.id, new.attempts))
    new_left = replace(new, on_wire=True).left
    db.call(lambda s: outbox.mark_sent(s, new.id, 42, SENT_AT, left=new_left))
    return replace(old, on_wire=True)


@pytest.mark.parametrize("late_outcome", ["no answer", "refused", "network error"])
async def test_a_woken_leaders_late_outcome_leaves_the_new_leaders_send_alone(db, late_outcome):
    """Woken, the old leader's request times out (or fails): before, it set the row pending
    again and the new leader sent the briefing a third time."""
    old_send = taken_over_and_resent(db)
    outcomes = outcomes_of_a_process(db)
    errors = {"no answer": TimedOut(), "refused": Forbidden("bot was kicked"),
              "network error": NetworkError("Bad Gateway")}
    await outcomes.refused(old_send, errors[late_outcome])
    row = one_row(db)
    assert (row.state, row.message_id, row.attempts) == ("sent", 42, 2)
    alerts = db.call(lambda s: s.exec(select(OutboxMessage).where(
        OutboxMessage.chat_id == OPERATOR)).all())
    assert alerts == []  # nor is the operator told of a failure that did not happen


async def test_an_outcome_this_process_is_still_owed_is_written(db):
    db.call(lambda s: outbox.send_message(s, key="t:0", chat_id=GROUPS[0], text="pesan",
                                          now=SENT_AT))
    item = db.call(lambda s: outbox.due(s, SENT_AT, 10))[0]
    assert db.call(lambda s: outbox.mark_sending(s, item.id, item.attempts))
    await outcomes_of_a_process(db).refused(replace(item, on_wire=True), TimedOut())
    row = one_row(db)
    assert (row.state, row.uncertain, row.attempts) == ("pending", True, 1)


class NoWire:
    """A Bot whose every request is a failure of the test: nothing may go on the wire."""

    requests = 0

    async def do_api_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        NoWire.requests += 1
        raise AssertionError("sent while fenced")


async def test_a_fence_closed_while_marking_leaves_the_row_for_the_new_leader(db):
    """The process froze while it marked the row 'sending' and woke fenced: the request does
    not go, and the row is pending again as it was, so the new leader sends it, unmarked."""
    db.call(lambda s: outbox.send_message(s, key="t:0", chat_id=GROUPS[0], text="pesan",
                                          now=SENT_AT))
    asked = []

    def may_send() -> bool:  # leading when the turn comes, no longer once the mark is written
        asked.append(True)
        return len(asked) == 1

    sender = OutboxSender(db, NoWire(), FakeClock(SENT_AT), may_send=may_send)
    running_sender = asyncio.create_task(sender.run())
    try:
        for _ in range(300):  # until the row's turn is over, either way
            if NoWire.requests or len(asked) >= 2:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
    finally:
        await sender.stop()
        await running_sender
    row = one_row(db)
    assert NoWire.requests == 0
    assert (row.state, row.attempts, row.uncertain) == ("pending", 0, False)


class Recorder:
    """A Bot that takes every request."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def do_api_request(self, method, api_kwargs, **kwargs):  # noqa: ANN001, ANN003, ANN201
        self.texts.append(api_kwargs["text"])
        return {"message_id": len(self.texts)}


async def test_leading_on_after_another_leader_resends_what_that_one_left_on_the_wire(db):
    """This process lost its session and was fenced; another process led meanwhile, marked a
    row 'sending' and died. Nobody else took the lock, so this one leads on: the row goes again,
    marked, instead of staying 'sending' for ever."""
    db.call(lambda s: outbox.send_message(s, key="t:0", chat_id=GROUPS[0], text="pesan",
                                          now=SENT_AT))
    leading = {"now": False}
    bot = Recorder()
    sender = OutboxSender(db, bot, FakeClock(SENT_AT), may_send=lambda: leading["now"])
    running_sender = asyncio.create_task(sender.run())
    try:
        await asyncio.sleep(0.2)  # fenced: takes nothing
        item = db.call(lambda s: outbox.due(s, SENT_AT, 10))[0]
        assert db.call(lambda s: outbox.mark_sending(s, item.id, item.attempts))  # the other
        leading["now"] = True
        for _ in range(300):
            if one_row(db).state == "sent":
                break
            await asyncio.sleep(0.01)
    finally:
        await sender.stop()
        await running_sender
    assert one_row(db).state == "sent"
    assert len(bot.texts) == 1 and bot.texts[0].startswith("<i>[Kiriman ulang")


def test_leading_on_keeps_only_its_own_send_of_a_row_on_the_wire(db):
    """Its own send of the row is still on the wire (attempt 1); another leader has since sent
    the row again (attempt 2) and died: that second send is what is recovered, by attempts."""
    db.call(lambda s: outbox.send_message(s, key="t:0", chat_id=GROUPS[0], text="pesan",
                                          now=SENT_AT))
    mine = db.call(lambda s: outbox.due(s, SENT_AT, 10))[0]
    assert db.call(lambda s: outbox.mark_sending(s, mine.id, mine.attempts))
    keep = [(mine.id, mine.attempts + 1)]
    assert db.call(lambda s: outbox.recover_in_flight(s, SENT_AT, keep)) == 0
    db.call(lambda s: outbox.recover_in_flight(s, SENT_AT))  # the other leader's start
    theirs = db.call(lambda s: outbox.due(s, SENT_AT, 10))[0]
    assert db.call(lambda s: outbox.mark_sending(s, theirs.id, theirs.attempts))
    assert db.call(lambda s: outbox.recover_in_flight(s, SENT_AT, keep)) == 1
    row = one_row(db)
    assert (row.state, row.uncertain, row.attempts) == ("pending", True, 2)
