"""A pledge press is parsed without the briefing it carries; every other update is whole."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.apel.buttons import pledge_callback
from bot.platform.clock import FakeClock
from bot.telegram.handlers.pledge import slim_press
from bot.telegram.updates import UpdatePump
from tests.factories import utc

GROUP = {"id": -1001234, "type": "supergroup", "title": "Regu A"}
PRESSER = {"id": 42, "is_bot": False, "first_name": "Budi"}


def press_payload(data: str) -> dict:
    briefing = {
        "message_id": 77, "date": 1_764_460_800, "chat": GROUP,
        "from": {"id": 1, "is_bot": True, "first_name": "Apel"},
        "text": "Apel pagi. " * 300,
        "entities": [{"type": "bold", "offset": 0, "length": 4}] * 40,
        "reply_markup": {"inline_keyboard": [[{"text": "Saya berikrar", "callback_data": data}]]},
    }
    return {"update_id": 9, "callback_query": {
        "id": "q1", "from": PRESSER, "chat_instance": "c", "data": data, "message": briefing}}


def test_a_pledge_press_keeps_what_its_handlers_read_and_drops_the_briefing():
    payload = press_payload(pledge_callback(5))
    update = Update.de_json(slim_press(payload), None)
    query = update.callback_query
    assert (query.id, query.data, query.from_user.id) == ("q1", pledge_callback(5), 42)
    assert (update.effective_chat.id, update.effective_chat.type) == (-1001234, "supergroup")
    assert update.effective_chat.title == "Regu A"  # the chat guard names a foreign group
    assert query.message.message_id == 77 and query.message.sender_chat is None
    assert query.message.text is None and query.message.reply_markup is None
    assert "text" in payload["callback_query"]["message"]  # the stored update is untouched


def test_other_updates_are_left_whole():
    menu = press_payload("m:rekap")
    assert slim_press(menu) is menu
    message = {"update_id": 3, "message": {"message_id": 1, "date": 0, "chat": GROUP,
                                           "text": "/rekap"}}
    assert slim_press(message) is message
    assert slim_press({"update_id": 4}) == {"update_id": 4}


async def test_the_pump_prepares_each_update_before_parsing_it(sqlite_db):
    seen: list[Update] = []

    class App:
        bot = None

        async def process_update(self, update: Update) -> None:
            seen.append(update)

    pump = UpdatePump(App(), sqlite_db, FakeClock(utc(23, 0)), allowed_updates=[],
                      prepare=slim_press)
    await pump.receive([press_payload(pledge_callback(5))])
    async with asyncio.timeout(10):
        while not seen:
            await asyncio.sleep(0.01)
    await pump.stop()
    assert seen[0].callback_query.message.text is None
