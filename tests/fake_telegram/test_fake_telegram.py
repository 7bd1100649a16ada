"""The fake Bot API server, exercised through a real python-telegram-bot ``Bot``."""

from __future__ import annotations

import asyncio
import datetime as dtm
import gc
import time

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot, BotCommand, BotCommandScopeChat, InlineKeyboardButton
from telegram import InlineKeyboardMarkup as Markup
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.request import HTTPXRequest

from fake_telegram.chats import BOT_ID, BOT_USERNAME
from fake_telegram.limits import CALLBACK_ANSWER_SECONDS, GROUP_LIMIT
from fake_telegram.server import FakeTelegram

TOKEN = "123456:TEST-token"
GROUP = -1001
OTHER_GROUP = -4002  # a plain group; ids starting with -100 are supergroups
BUDI = 11
SARI = 12


def keyboard(*pairs: tuple[str, str]) -> Markup:
    return Markup([[InlineKeyboardButton(text, callback_data=data) for text, data in pairs]])


def seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def populate(tg: FakeTelegram) -> None:
    tg.add_group(GROUP, "Regu A")
    tg.add_group(OTHER_GROUP, "Regu B")
    tg.add_user(BUDI, "Budi", "Santoso", "budi")
    tg.add_user(SARI, "Sari")


@pytest.fixture
async def tg():
    async with FakeTelegram() as server:
        populate(server)
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram):
    async with Bot(TOKEN, base_url=tg.base_url, base_file_url=tg.base_file_url) as client:
        yield client


async def test_get_me_identifies_the_bot(tg: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.first_name, me.is_bot) == (
        BOT_ID,
        BOT_USERNAME,
        "Apel Bot",
        True,
    )
    assert tg.calls("getMe")[0].ok


async def test_send_press_get_updates_and_answer(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(GROUP, "Apel pagi", reply_markup=keyboard(("Hadir", "h:1")))
    assert sent.message_id == 1 and sent.chat.title == "Regu A"
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "h:1"
    (stored,) = tg.messages(GROUP)
    assert stored.text == "Apel pagi" and stored.button_data("Hadir") == "h:1"

    query_id = tg.press(BUDI, GROUP, sent.message_id, "h:1")
    (update,) = await bot.get_updates(timeout=1)
    query = update.callback_query
    assert (query.id, query.data, query.from_user.id) == (query_id, "h:1", BUDI)
    assert query.message.message_id == sent.message_id and query.message.text == "Apel pagi"

    assert await query.answer("Tercatat")
    assert tg.callback_answers[query_id]["text"] == "Tercatat"
    assert tg.callback_answers[query_id]["latency"] >= 0
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(query_id)
    # The offset confirms the update; it is not delivered again.
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()


async def test_edit_text_and_not_modified(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(GROUP, "Belum", reply_markup=keyboard(("Hadir", "h")))
    edited = await bot.edit_message_text("Sudah", GROUP, sent.message_id)
    assert edited.text == "Sudah" and edited.reply_markup is None  # no markup: keyboard removed
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("Sudah", GROUP, sent.message_id)
    await bot.edit_message_reply_markup(GROUP, sent.message_id, reply_markup=keyboard(("X", "x")))
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("?", GROUP, 999)

    msg = tg.message(GROUP, sent.message_id)
    assert msg.text == "Sudah" and msg.button_data("X") == "x"
    assert [edit.text for edit in msg.edits] == ["Belum", "Sudah"]
    assert tg.edit_count == 2 and tg.sent_count == 1


async def test_delete_message(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(GROUP, "Hapus saya")
    assert await bot.delete_message(GROUP, sent.message_id)
    assert tg.messages(GROUP)[0].deleted and tg.last_message(GROUP) is None
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(GROUP, sent.message_id)


async def test_html_is_rendered_and_validated(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(GROUP, "<b>Hadir</b> &amp; siap", parse_mode=ParseMode.HTML)
    assert sent.text == "Hadir & siap"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 5)]
    stored = tg.message(GROUP, sent.message_id)
    assert (stored.text, stored.sent_text) == ("Hadir & siap", "<b>Hadir</b> &amp; siap")
    # Same rendering, different markup of the source: still "not modified".
    with pytest.raises(BadRequest, match="(?i)not modified"):
        await bot.edit_message_text(
            "<strong>Hadir</strong> &amp; siap", GROUP, sent.message_id, parse_mode=ParseMode.HTML
        )
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(GROUP, "a <foo>b</foo>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(GROUP, "<b>tidak ditutup", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(GROUP, "x", reply_markup=keyboard(("Panjang", "x" * 65)))


async def test_unreachable_chats(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(-4242, "halo")
    with pytest.raises(Forbidden, match="(?i)can't initiate conversation"):
        await bot.send_message(BUDI, "halo")
    tg.user_start(BUDI)
    assert tg.user_started(BUDI)
    assert (await bot.send_message(BUDI, "halo")).chat.first_name == "Budi"

    tg.kick_bot(OTHER_GROUP)
    with pytest.raises(Forbidden, match="(?i)kicked from the group chat"):
        await bot.send_message(OTHER_GROUP, "halo")

    tg.add_group(-4003, "Regu C")
    tg.migrate_group(-4003, -1009876)
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(-4003, "halo")
    assert migrated.value.new_chat_id == -1009876
    assert (await bot.send_message(-1009876, "halo")).chat.type == "supergroup"


@pytest.mark.filterwarnings("ignore:Deprecated since version v22.2")
async def test_flood_limits_with_an_injected_clock() -> None:
    clock = ManualClock()
    async with FakeTelegram(clock=clock) as tg:
        populate(tg)
        tg.user_start(BUDI)
        async with Bot(TOKEN, base_url=tg.base_url) as bot:
            for _ in range(20):
                await bot.send_message(GROUP, "x")
            with pytest.raises(RetryAfter) as per_group:
                await bot.send_message(GROUP, "x")
            assert seconds(per_group.value.retry_after) == 60

            for _ in range(10):  # 30 in this second across chats
                await bot.send_message(OTHER_GROUP, "x")
            with pytest.raises(RetryAfter) as overall:
                await bot.send_message(OTHER_GROUP, "x")
            assert seconds(overall.value.retry_after) == 1

            clock.now += 1.0
            await bot.send_message(BUDI, "x")  # private chats: one a second
            with pytest.raises(RetryAfter):
                await bot.send_message(BUDI, "x")
            clock.now += 1.0
            await bot.send_message(BUDI, "x")

            clock.now += 59.0
            await bot.send_message(GROUP, "x")
    assert tg.count_429 == 3
    assert tg.stats()["per_chat"][str(GROUP)] == {"sent": 21, "429": 1}


@pytest.mark.filterwarnings("ignore:Deprecated since version v22.2")
async def test_fail_next_and_fault_hook(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next("sendMessage")
    with pytest.raises(NetworkError, match="(?i)Internal Server Error"):
        await bot.send_message(GROUP, "x")
    tg.fail_next(
        "sendMessage",
        status=429,
        description="Too Many Requests: retry after 3",
        retry_after=3,
        chat_id=OTHER_GROUP,
    )
    await bot.send_message(GROUP, "not this chat")
    with pytest.raises(RetryAfter):
        await bot.send_message(OTHER_GROUP, "x")
    assert [m.text for m in tg.messages(GROUP)] == ["not this chat"]
    assert tg.count_429 == 1

    tg.fault_hook = lambda method, params: (
        (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
        if method == "getChat"
        else None
    )
    with pytest.raises(NetworkError, match="(?i)Bad Gateway"):
        await bot.get_chat(GROUP)
    assert (await bot.send_message(GROUP, "ok")).text == "ok"


async def test_dropped_answer_still_delivers(tg: FakeTelegram) -> None:
    tg.drop_response_next("sendMessage", delay=1.0)
    request = HTTPXRequest(read_timeout=0.2)
    async with Bot(TOKEN, base_url=tg.base_url, request=request) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(GROUP, "terkirim")
    assert [m.text for m in tg.messages(GROUP)] == ["terkirim"]


async def test_document_upload_is_recorded(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_document(
        GROUP,
        b"PK\x03\x04data",
        filename="rekap.xlsx",
        caption="Rekap",
        reply_markup=keyboard(("Ulang", "again")),
    )
    assert sent.document.file_name == "rekap.xlsx" and sent.caption == "Rekap"
    (msg,) = tg.messages(GROUP)
    assert (msg.document.filename, msg.document.content) == ("rekap.xlsx", b"PK\x03\x04data")
    assert msg.caption == "Rekap" and msg.button_data("Ulang") == "again"
    photo = await bot.send_photo(GROUP, b"\xff\xd8jpeg", caption="Foto")
    assert (
        photo.photo[-1].file_size == 6 and tg.last_message(GROUP).photo.content == b"\xff\xd8jpeg"
    )
    # A file the bot uploaded can be sent again by file_id.
    again = await bot.send_document(GROUP, sent.document.file_id)
    assert tg.message(GROUP, again.message_id).document.content == b"PK\x03\x04data"


async def test_user_files_are_downloadable(tg: FakeTelegram, bot: Bot) -> None:
    tg.send_document(BUDI, GROUP, "izin.pdf", b"%PDF-1.4", caption="Surat izin")
    tg.send_photo(SARI, GROUP, "bukti.jpg", b"\xff\xd8img")
    doc_update, photo_update = await bot.get_updates(timeout=1)
    document = doc_update.message.document
    assert (document.file_name, doc_update.message.caption) == ("izin.pdf", "Surat izin")
    assert bytes(await (await document.get_file()).download_as_bytearray()) == b"%PDF-1.4"
    photo_file = await photo_update.message.photo[-1].get_file()
    assert bytes(await photo_file.download_as_bytearray()) == b"\xff\xd8img"


async def test_long_poll_wakes_on_injected_update(tg: FakeTelegram, bot: Bot) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    tg.send_text(BUDI, GROUP, "/apel@apel_test_bot sekarang")
    (update,) = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 1.5
    message = update.message
    assert message.text == "/apel@apel_test_bot sekarang" and message.chat.id == GROUP
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bot_command", 0, 19)]

    # An empty poll returns after its timeout.
    started = time.monotonic()
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0.2) == ()
    assert 0.15 < time.monotonic() - started < 1.5


async def test_duplicate_update_is_redelivered(tg: FakeTelegram, bot: Bot) -> None:
    first = tg.send_text(BUDI, GROUP, "halo")
    (update,) = await bot.get_updates(timeout=0)
    tg.push_update(first)  # the same update_id again
    (again,) = await bot.get_updates(offset=update.update_id + 1, timeout=0)
    assert again.update_id == update.update_id and again.message.text == "halo"


async def test_commands_chat_and_member(tg: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("apel", "Mulai apel")])
    await bot.set_my_commands([BotCommand("rekap", "Rekap")], scope=BotCommandScopeChat(GROUP))
    assert [c.command for c in await bot.get_my_commands()] == ["apel"]
    scoped = await bot.get_my_commands(scope=BotCommandScopeChat(GROUP))
    assert [c.command for c in scoped] == ["rekap"]
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == () and tg.commands(BotCommandScopeChat(GROUP).to_dict())

    chat = await bot.get_chat(GROUP)
    assert (chat.title, chat.type) == ("Regu A", "supergroup")
    member = await bot.get_chat_member(GROUP, BUDI)
    assert (member.status, member.user.username) == ("member", "budi")
    tg.set_member_status(GROUP, BUDI, "administrator")
    assert (await bot.get_chat_member(GROUP, BUDI)).status == "administrator"


async def test_control_api(tg: FakeTelegram, bot: Bot) -> None:
    async with aiohttp.ClientSession(tg.control_url + "/") as http:

        async def post(path: str, **body: object) -> object:
            async with http.post(path, json=body) as response:
                assert response.status == 200, await response.text()
                return await response.json()

        async def get(path: str, **query: object) -> object:
            async with http.get(path, params={k: str(v) for k, v in query.items()}) as response:
                assert response.status == 200, await response.text()
                return await response.json()

        await post("user", id=21, first_name="Joko")
        await post("group", id=-1003, title="Regu C")
        await post("start", user_id=21)
        await post("text", user_id=21, chat_id=-1003, text="hadir")
        assert [u.message.text for u in await bot.get_updates(timeout=0)] == ["/start", "hadir"]

        sent = await bot.send_message(-1003, "Pilih", reply_markup=keyboard(("Ya", "yes")))
        (listed,) = await get("messages", chat_id=-1003)
        assert listed["text"] == "Pilih" and listed["message_id"] == sent.message_id
        pressed = await post(
            "press", user_id=21, chat_id=-1003, message_id=sent.message_id, data="yes"
        )
        await bot.answer_callback_query(pressed["callback_query_id"], text="ok")
        answers = await get("callback_answers")
        assert answers[pressed["callback_query_id"]]["text"] == "ok"

        await post("fail", method="sendMessage", status=500)
        with pytest.raises(NetworkError):
            await bot.send_message(-1003, "x")
        stats = await get("stats")
        assert stats["sent_count"] == 1 and stats["per_chat"]["-1003"]["sent"] == 1
        await post("reset_stats")
        assert (await get("stats"))["sent_count"] == 0

        async with http.post("text", json={"user_id": 99, "chat_id": 1, "text": "x"}) as bad:
            assert bad.status == 400 and "unknown user" in (await bad.json())["error"]


async def test_unknown_method_and_wait_for(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(Exception, match="(?i)not found"):  # PTB: "Endpoint ... not found"
        await bot.do_api_request("sendNothing", api_kwargs={"chat_id": GROUP})
    assert tg.requests[-1].status == 404
    with pytest.raises(AssertionError, match="never"):
        await tg.wait_for(lambda: False, timeout=0.05, what="never")
    await bot.send_message(GROUP, "Apel selesai")
    assert (await tg.wait_for_message(GROUP, "selesai", timeout=1)).message_id == 1


# --------------------------------------------------------------------------- strict refusals
# The fake refuses what Telegram refuses; each test below once passed on a more forgiving fake.


@pytest.mark.filterwarnings("ignore:Deprecated since version v22.2")
async def test_flood_limits_are_on_by_default(tg: FakeTelegram, bot: Bot) -> None:
    for _ in range(GROUP_LIMIT):
        await bot.send_message(GROUP, "x")
    with pytest.raises(RetryAfter):
        await bot.send_message(GROUP, "x")


@pytest.mark.filterwarnings("ignore:Deprecated since version v22.2")
async def test_a_private_chat_gets_one_message_per_second_without_a_burst() -> None:
    clock = ManualClock()
    async with FakeTelegram(clock=clock) as tg:
        populate(tg)
        tg.user_start(BUDI)
        tg.user_start(SARI)
        async with Bot(TOKEN, base_url=tg.base_url) as bot:
            first = clock.now
            await bot.send_message(BUDI, "satu")
            with pytest.raises(RetryAfter) as refused:
                await bot.send_message(BUDI, "dua")
            assert seconds(refused.value.retry_after) == 1
            clock.now = first + 0.999
            with pytest.raises(RetryAfter):
                await bot.send_message(BUDI, "dua")
            clock.now = first + 1.0
            await bot.send_message(BUDI, "dua")
            await bot.send_message(SARI, "lain")  # another chat has its own second
    assert [m.text for m in tg.messages(BUDI)] == ["satu", "dua"]


async def test_text_length_is_counted_in_utf16_units_after_parsing(
    tg: FakeTelegram, bot: Bot
) -> None:
    # Tags count nothing and an entity counts one, so this is exactly 4,096 long.
    fits = "<b>" + "a" * 4000 + "</b>" + "&amp;" * 96
    assert len((await bot.send_message(GROUP, fits, parse_mode=ParseMode.HTML)).text) == 4096
    emoji = "🙏"  # outside the BMP: two UTF-16 code units, one Python character
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(GROUP, "a" * 4094 + emoji * 2)  # 4,096 characters, 4,098 units
    sent = await bot.send_message(GROUP, "pendek")
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.edit_message_text("a" * 4095 + emoji, GROUP, sent.message_id)


async def test_caption_length_is_counted_in_utf16_units_after_parsing(
    tg: FakeTelegram, bot: Bot
) -> None:
    fits = "<i>" + "a" * 1000 + "</i>" + "&lt;" * 24
    sent = await bot.send_document(GROUP, b"x", filename="a.txt", caption=fits,
                                   parse_mode=ParseMode.HTML)
    assert len(sent.caption) == 1024
    with pytest.raises(BadRequest, match="(?i)caption is too long"):
        await bot.send_document(GROUP, b"x", filename="b.txt", caption="a" * 1023 + "🙏")
    with pytest.raises(BadRequest, match="(?i)caption is too long"):
        await bot.edit_message_caption(GROUP, sent.message_id, caption="a" * 1020 + "🙏" * 3)


@pytest.mark.parametrize(
    "html",
    [
        "<b>tebal",  # unclosed
        "<b>tebal <i>miring</b></i>",  # bad nesting
        "<p>paragraf</p>",  # unknown tag
        "baris<br>baru",  # unknown tag, even without an end tag
        "</b>",  # end tag without a start
        "a < b",  # a bare "<"
        "catatan <!-- disembunyikan -->",  # comments are not HTML Telegram knows
        "<!DOCTYPE html>halo",
        "<?xml version='1.0'?>halo",
    ],
)
async def test_malformed_html_is_refused(tg: FakeTelegram, bot: Bot, html: str) -> None:
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(GROUP, html, parse_mode=ParseMode.HTML)
    assert tg.messages(GROUP) == []


async def test_callback_data_over_64_bytes_is_refused(tg: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(GROUP, "ok", reply_markup=keyboard(("Ya", "é" * 32)))  # 64 bytes
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):  # 33 characters, 66 bytes
        await bot.send_message(GROUP, "x", reply_markup=keyboard(("Ya", "é" * 33)))
    sent = await bot.send_message(GROUP, "y")
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.edit_message_reply_markup(
            GROUP, sent.message_id, reply_markup=keyboard(("Ya", "p:" + "9" * 63))
        )


async def test_an_edit_names_a_message_of_that_chat(tg: FakeTelegram, bot: Bot) -> None:
    """Message ids are not reused across chats, so an edit sent to the wrong chat is refused
    (on Telegram too: a private chat or group never holds another chat's message id)."""
    tg.user_start(BUDI)
    tg.user_start(SARI)
    await bot.send_message(OTHER_GROUP, "grup lain")
    in_group = await bot.send_message(GROUP, "grup")
    to_sari = await bot.send_message(SARI, "untuk Sari")
    for chat, message_id in ((BUDI, to_sari.message_id), (OTHER_GROUP, in_group.message_id),
                             (GROUP, to_sari.message_id)):
        with pytest.raises(BadRequest, match="(?i)message to edit not found"):
            await bot.edit_message_text("diubah", chat, message_id)
    assert [m.text for chat in (OTHER_GROUP, GROUP, SARI) for m in tg.messages(chat)] == [
        "grup lain", "grup", "untuk Sari"]
    assert tg.messages(BUDI) == []


async def test_an_edit_that_changes_nothing_is_refused(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(GROUP, "Tetap", reply_markup=keyboard(("Ya", "y")))
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("Tetap", GROUP, sent.message_id,
                                    reply_markup=keyboard(("Ya", "y")))
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_reply_markup(GROUP, sent.message_id,
                                            reply_markup=keyboard(("Ya", "y")))
    assert tg.message(GROUP, sent.message_id).edits == []


async def test_a_callback_query_is_answered_once_and_in_time() -> None:
    clock = ManualClock()
    async with FakeTelegram(clock=clock) as tg:
        populate(tg)
        async with Bot(TOKEN, base_url=tg.base_url) as bot:
            sent = await bot.send_message(GROUP, "Tekan", reply_markup=keyboard(("Ya", "y")))
            sent_id = sent.message_id
            in_time = tg.press(BUDI, GROUP, sent_id, "y")
            clock.now += CALLBACK_ANSWER_SECONDS
            assert await bot.answer_callback_query(in_time)
            with pytest.raises(BadRequest, match="(?i)query is too old"):  # twice
                await bot.answer_callback_query(in_time)
            too_late = tg.press(SARI, GROUP, sent_id, "y")
            clock.now += CALLBACK_ANSWER_SECONDS + 0.001
            with pytest.raises(BadRequest, match="(?i)query is too old"):
                await bot.answer_callback_query(too_late, text="Tercatat")
    assert list(tg.callback_answers) == [in_time]


async def test_chats_the_bot_is_not_in_are_refused(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)chat not found"):  # never added
        await bot.send_message(-1009999, "halo")
    tg.kick_bot(GROUP)
    with pytest.raises(Forbidden, match="(?i)bot was kicked from the supergroup chat"):
        await bot.send_message(GROUP, "halo")
    with pytest.raises(Forbidden, match="(?i)kicked"):
        await bot.edit_message_text("x", GROUP, 1)
    with pytest.raises(Forbidden, match="(?i)bot can't initiate conversation with a user"):
        await bot.send_message(SARI, "halo")
    tg.user_start(SARI)
    tg.kick_bot(SARI)  # Sari blocks the bot
    with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
        await bot.send_message(SARI, "halo")


async def test_the_webhook_gets_an_update_at_once_when_idle(tg: FakeTelegram, bot: Bot) -> None:
    """Telegram pushes an update as it happens; the fake once waited up to a second when its
    pusher was idle (it waited on an event the update queue had replaced)."""
    arrived: list[float] = []

    async def hook(request: web.Request) -> web.Response:
        await request.json()
        arrived.append(time.monotonic())
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook")
        await asyncio.sleep(0.2)  # the pusher is idle, waiting
        for expected in (1, 2):
            sent = time.monotonic()
            tg.send_text(BUDI, GROUP, f"halo {expected}")
            await tg.wait_for(lambda n=expected: len(arrived) >= n, timeout=3)
            assert arrived[-1] - sent < 0.3, arrived[-1] - sent
            await asyncio.sleep(0.2)
    finally:
        await bot.delete_webhook()
        await runner.cleanup()


async def test_a_round_trip_delays_the_call_and_then_its_answer() -> None:
    """Telegram is 0.2-0.3 s away from Indonesia: a call arrives half a round trip after it
    was sent (its flood window counts from then) and its answer half a round trip later."""
    async with FakeTelegram(round_trip=0.2) as tg:
        populate(tg)
        async with Bot(TOKEN, base_url=tg.base_url) as bot:
            await bot.get_me()  # the connection is open: what follows is the round trip alone
            sent_at = time.monotonic()
            await bot.send_message(GROUP, "Apel pagi")
            took = time.monotonic() - sent_at
    (call,) = tg.calls("sendMessage")
    assert 0.1 <= call.time - sent_at < 0.15
    assert 0.2 <= took < 0.3


async def test_a_delivery_on_its_way_ends_with_the_webhook() -> None:
    """A webhook delivery still travelling (a round trip) when the webhook is deleted stays
    pending for getUpdates, and posts nothing on the pusher's closed session."""
    failures: list[dict] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: failures.append(ctx))
    async with FakeTelegram(round_trip=0.4) as tg:
        populate(tg)
        async with Bot(TOKEN, base_url=tg.base_url) as bot:
            await bot.set_webhook("http://127.0.0.1:9/hook")  # nobody listens: never delivered
            tg.send_text(BUDI, GROUP, "halo")
            await asyncio.sleep(0.05)  # on its way
            tg.webhook.clear()  # what deleteWebhook does, without the call's own round trip
            await asyncio.sleep(0.5)
            gc.collect()  # a failed task nobody awaited reports itself when collected
            (update,) = await bot.get_updates(timeout=0)
            assert update.message.text == "halo"
    assert failures == []


async def test_max_connections_is_clamped_into_telegrams_range(tg: FakeTelegram,
                                                                bot: Bot) -> None:
    for given, kept in ((0, 1), (500, 100), (None, 40), (100, 100)):
        await bot.set_webhook("http://127.0.0.1:9/hook", max_connections=given)
        assert tg.webhook.hook is not None and tg.webhook.hook.max_connections == kept
    await bot.delete_webhook()
