"""A command whose database connection goes while it is handled (a restart, a cut, a session
PostgreSQL ended while the process was frozen) is handled again, not lost: nothing of it was
kept, and the person gets the one answer."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import OperationalError

from bot.platform.clock import FakeClock
from bot.telegram.handlers import start as start_handlers
from bot.telegram.updates import AGAIN_AFTER
from tests.factories import APEL_CREW, KARUPAM_D, running_bot, seed_crew, utc


async def test_a_command_whose_connection_went_is_answered_after_all(db, settings, monkeypatch):
    clock = FakeClock(utc(22, 0))
    db.call(lambda s: seed_crew(s, settings, clock.now(), APEL_CREW))
    real_help_context = start_handlers.help_context
    cuts = {"left": 1}

    def connection_cut_once(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if cuts["left"]:
            cuts["left"] -= 1
            raise OperationalError("SELECT ...", {}, Exception(
                "terminating connection due to idle-in-transaction timeout"),
                connection_invalidated=True)
        return real_help_context(*args, **kwargs)

    monkeypatch.setattr(start_handlers, "help_context", connection_cut_once)
    async with running_bot(settings, db, clock, [(KARUPAM_D, "Hendra")],
                           started=[KARUPAM_D]) as bot:
        bot.server.send_text(KARUPAM_D, KARUPAM_D, "/bantuan")
        async with asyncio.timeout(10):
            while cuts["left"]:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        assert not bot.server.messages(KARUPAM_D)  # not yet: it waits its turn again
        clock.advance(AGAIN_AFTER)
        clock.advance(seconds=1)
        await bot.server.wait_for_message(KARUPAM_D, "Bot Apel Netralitas")
        await asyncio.sleep(0.5)  # a second answer would arrive now
    answers = [m for m in bot.server.messages(KARUPAM_D) if "Bot Apel Netralitas" in m.text]
    assert len(answers) == 1
