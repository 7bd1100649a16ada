"""Which chats the bot serves, end to end against the fake Bot API server: a group nobody
configured gets no answer (the operator is told once), any private message proves a private
chat works, and an update_id Telegram reuses does not swallow an answer.

Lapas Palu (WITA), Tuesday 26 November 2024, 06.00 WITA; Regu D stands pagi.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.clock import FakeClock
from bot.testing.fake_telegram import FakeTelegram
from tests.factories import (
    BUDI,
    DEWI,
    KARUPAM_D,
    KPLP,
    UNIT_CREW,
    Member,
    running_bot,
    seed_crew,
    utc,
)

pytestmark = pytest.mark.e2e

REGU_D = -1001000000004
OPERATOR = -1009999999999
FOREIGN = -1007777777777  # a group someone added the bot to; in no config
FOREIGN_BEFORE = -1007777777778  # a group the bot was in before it watched for additions


@pytest.fixture
async def world(settings, db):
    clock = FakeClock(utc(22, 0))
    settings = settings.model_copy(update={"telegram": settings.telegram.model_copy(
        update={"operator_chat_id": OPERATOR})})
    # Hendra, Budi's Karupam, has never sent /start (started=False).
    crew = [m if m.tg != KARUPAM_D else Member(m.n, m.name, m.role, m.regu, m.tg, False)
            for m in UNIT_CREW]
    db.call(lambda s: seed_crew(s, settings, clock.now(), crew))
    people = [(KARUPAM_D, "Hendra"), (KPLP, "Yusuf"), (BUDI, "Budi"), (DEWI, "Dewi")]
    async with running_bot(settings, db, clock, people,
                           started=[BUDI, DEWI, KPLP]) as bot:
        bot.server.add_group(OPERATOR, "apel-bot operator")
        await bot.settle()
        yield bot


async def quiet(world) -> None:  # noqa: ANN001
    """Every update taken and handled, every answer sent."""
    await world.server.wait_for(lambda: not world.server.pending_updates)
    await asyncio.sleep(0.3)
    await world.settle()


def texts(server: FakeTelegram, chat_id: int) -> list[str]:
    return [m.text or "" for m in server.messages(chat_id)]


async def test_a_reused_update_id_does_not_swallow_the_answer(world):
    server = world.server
    first = server.send_text(DEWI, DEWI, "/bantuan")
    await server.wait_for_message(DEWI, "Bot Apel Netralitas")
    # The same update delivered twice is answered once ...
    server.push_update(first)
    # ... but Telegram numbers updates afresh for a new token, or after a week without any:
    # a different message arrives under the same update_id, and it gets its own answer.
    later = dict(first["message"], message_id=first["message"]["message_id"] + 50)
    server.push_update({"update_id": first["update_id"], "message": later})
    await server.wait_for(lambda: len(server.messages(DEWI)) == 2)
    await quiet(world)
    assert len(server.messages(DEWI)) == 2
