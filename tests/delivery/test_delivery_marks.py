"""Delivery marks that tell the truth: a row is 'sending' only while its request is on the
wire, and a send Telegram accepted is never sent again unmarked, even when recording it fails."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import OperationalError
from sqlmodel import select

from bot.delivery import outbox
from bot.delivery.models import OutboxMessage
from bot.telegram.pacing import Limits
from tests.delivery.test_faults import GROUPS, all_settled, delivered_texts, queue, running

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
