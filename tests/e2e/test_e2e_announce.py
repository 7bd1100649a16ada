"""Announcements end to end: the real Application against the fake Bot API server.

Yusuf, a Satgas member of Lapas Palu with a grant for Kanwil Sulawesi Tengah, composes an
announcement with a photo and sends it to the Kanwil's three units (13 groups, 12 people).
Monday 25 November 2024, 09.00 WITA.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from bot.announcements.models import Announcement
from bot.delivery.models import OutboxMessage
from bot.platform.clock import FakeClock
from fake_telegram.harness import BotUnderTest
from fake_telegram.server import FakeTelegram
from tests.announcements.test_announce_world import (
    AGUS,
    ANDI,
    BUDI,
    FAJAR,
    KALAPAS_PALU,
    KALAPAS_RUTAN,
    LINA,
    LPKA_1,
    LPKA_ADMIN,
    MAYA,
    PALU_A,
    PALU_ADMIN,
    PALU_B,
    RAHMAT,
    RUTAN_1,
    RUTAN_2,
    SARI,
    SATGAS,
    STRANGER,
    kanwil_settings,
    seed,
)
from tests.factories import running_bot

pytestmark = pytest.mark.e2e

START = datetime(2024, 11, 25, 1, 0, tzinfo=UTC)  # 09.00 WITA
CILACAP = [-1002000000001, -1002000000002, -1002000000003, -1002000000004, -1002000000099]


@asynccontextmanager
async def make_world(settings, db) -> AsyncIterator[BotUnderTest]:
    clock = FakeClock(START)
    db.call(lambda s: seed(s, settings, clock.now()))
    users = [(SATGAS, "Yusuf"), (KALAPAS_PALU, "Kalapas Palu"), (BUDI, "Budi"), (SARI, "Sari"),
             (ANDI, "Andi"), (RAHMAT, "Rahmat"), (LINA, "Lina"), (KALAPAS_RUTAN, "Kalapas Rutan"),
             (FAJAR, "Fajar"), (MAYA, "Maya"), (AGUS, "Agus"), (STRANGER, "Tamu")]
    starting = (SATGAS, KALAPAS_PALU, BUDI)
    async with running_bot(settings, db, clock, users, start=starting) as bot:
        for user in starting:  # answered first: a queued reply would hold the next one back
            await bot.server.wait_for_message(user, "Bot Apel Netralitas")
        yield bot


@pytest.fixture
async def world(sqlite_db):
    async with make_world(kanwil_settings(), sqlite_db) as bot:
        yield bot


@pytest.fixture
async def impatient_world(sqlite_db):
    async with make_world(kanwil_settings(compose_timeout_minutes=0.05), sqlite_db) as bot:
        yield bot


async def answer_of(server: FakeTelegram, query_id: str) -> str:
    await server.wait_for(lambda: query_id in server.callback_answers)
    return server.callback_answers[query_id]["text"]


def send_formatted(server: FakeTelegram, user_id: int, text: str, bold: str) -> None:
    """A private message with Telegram formatting (a bold entity), as a client sends it."""
    user = server.user(user_id)
    start = text.index(bold)
    server.push_update({"message": {
        "message_id": 900 + len(server.pending_updates), "date": int(START.timestamp()),
        "from": user.to_json(),
        "chat": {"id": user_id, "type": "private", "first_name": user.first_name},
        "text": text, "entities": [{"type": "bold", "offset": start, "length": len(bold)}]}})


async def refresh(world: BotUnderTest) -> int:
    queued = await asyncio.to_thread(world.runtime.scheduler.refresh_announcements)
    await world.settle()
    return queued


def posts(server: FakeTelegram, chat_id: int) -> list:
    return [m for m in server.messages(chat_id) if m.photo is not None]


async def test_guard_is_refused(world):
    server = world.server
    server.send_text(BUDI, BUDI, "/umumkan")
    refusal = await server.wait_for_message(BUDI, "hanya dapat digunakan oleh anggota Satgas")
    assert refusal.buttons() == []
    server.send_text(BUDI, PALU_A, "/umumkan")  # in a group: private chat only
    await server.wait_for_message(PALU_A, "hanya dapat digunakan di chat pribadi")
    server.send_text(BUDI, BUDI, "/dibaca")
    await server.wait_for_message(BUDI, "Belum ada pengumuman yang dapat Anda lihat")
    server.send_text(BUDI, BUDI, "/pengumuman")
    await server.wait_for_message(BUDI, "hanya tersedia bagi anggota Satgas")


async def test_announcement_end_to_end(world):
    server, clock, db = world.server, world.clock, world.db
    # --- compose: formatted text, then a photo; target; preview ---------------------------
    server.send_text(SATGAS, SATGAS, "/umumkan")
    await server.wait_for_message(SATGAS, "Silakan kirim teks pengumuman")
    text = "Surat edaran: pegawai dilarang berfoto dengan gestur pasangan calon."
    send_formatted(server, SATGAS, text, "Surat edaran")
    await server.wait_for_message(SATGAS, "Teks pengumuman telah diterima")
    server.send_photo(SATGAS, SATGAS, "poster-netralitas.jpg", b"\xff\xd8\xff poster")
    targets = await server.wait_for_message(SATGAS, "Kepada siapa")
    assert [b["text"] for b in targets.buttons()] == [
        "Unit ini: Lapas Kelas IIA Palu", "Unit se-Kanwil Sulawesi Tengah (3 unit)", "✖️ Batal"]
    chosen = server.press(SATGAS, SATGAS, targets.message_id, targets.button_data("se-Kanwil"))
    assert "Pratinjau" in await answer_of(server, chosen)
    summary = await server.wait_for_message(SATGAS, "Pengumuman akan dikirim ke")
    assert "13 grup di 3 unit" in summary.text and "12 pegawai" in summary.text
    await server.wait_for(lambda: any(m.photo for m in server.messages(SATGAS)))
    preview = [m for m in server.messages(SATGAS) if m.photo][0]
    assert "<b>Surat edaran</b>: pegawai dilarang berfoto" in preview.sent_caption
    assert preview.buttons() == []  # the preview cannot be confirmed by mistake
    photo_id = preview.photo.file_id
    assert all(server.messages(chat) == [] for chat in (PALU_A, RUTAN_1, LPKA_ADMIN))

    # --- send: a double tap sends once ---------------------------------------------------------
    send_data = summary.button_data("Kirim")
    tap1 = server.press(SATGAS, SATGAS, summary.message_id, send_data)
    tap2 = server.press(SATGAS, SATGAS, summary.message_id, send_data)
    answers = {await answer_of(server, tap1), await answer_of(server, tap2)}
    assert "Pengumuman dikirim." in answers and len(answers) == 2
    done = await server.wait_for_message(SATGAS, "sedang dikirim ke 13 grup")
    await world.settle()
    ann = db.call(lambda s: s.exec(select(Announcement)).one())
    assert f"/dibaca {ann.id}" in done.text
    group_chats = [PALU_A, PALU_B, -1001000000003, -1001000000004, PALU_ADMIN, RUTAN_1, RUTAN_2,
                   -1003000000003, LPKA_1, -1004000000002, -1004000000003, -1004000000004,
                   LPKA_ADMIN]
    for chat in group_chats:
        [post] = posts(server, chat)
        assert post.photo.file_id == photo_id
        assert "PENGUMUMAN SATGAS NETRALITAS" in post.caption
        assert "<b>Surat edaran</b>" in post.sent_caption
        assert post.button_data("Sudah dibaca") == f"a:{ann.id}"
    assert all(server.messages(chat) == [] for chat in CILACAP)
    uploads = [c for c in server.calls("sendPhoto") if c.files]
    assert uploads == []  # re-sent by file_id: nothing uploaded again
    [summary_now] = [m for m in server.messages(SATGAS) if m.message_id == summary.message_id]
    assert summary_now.buttons() == []  # "Kirim" is gone from the summary

    # --- confirmations -------------------------------------------------------------------------
    clock.set(START + timedelta(minutes=5))
    post_a = posts(server, PALU_A)[0]
    data = post_a.button_data("Sudah dibaca")
    q = server.press(BUDI, PALU_A, post_a.message_id, data)
    assert "tercatat pukul 09.05 WITA" in await answer_of(server, q)
    q = server.press(BUDI, PALU_A, post_a.message_id, data)
    assert "sudah tercatat sebelumnya" in await answer_of(server, q)
    q = server.press(AGUS, PALU_A, post_a.message_id, data)  # Cilacap: not in the target
    assert "tidak ditujukan untuk unit Anda" in await answer_of(server, q)
    q = server.press(STRANGER, PALU_A, post_a.message_id, data)
    assert "/daftar" in await answer_of(server, q)
    for user, chat in ((RAHMAT, RUTAN_1), (MAYA, LPKA_ADMIN), (KALAPAS_PALU, PALU_ADMIN)):
        post = posts(server, chat)[0]
        q = server.press(user, chat, post.message_id, data)
        assert "Terima kasih" in await answer_of(server, q)
    q = server.press(BUDI, PALU_A, post_a.message_id, "a:99999")
    assert "tidak tersedia" in await answer_of(server, q)

    clock.set(START + timedelta(minutes=6))
    assert await refresh(world) == 4  # Palu Regu A and admin, Rutan Regu 1, LPKA admin
    assert "1 dari 2 pegawai di grup ini sudah membaca" in posts(server, PALU_A)[0].caption
    assert "1 dari 1 pegawai" in posts(server, RUTAN_1)[0].caption
    assert posts(server, PALU_A)[0].button_data("Sudah dibaca") == data
    assert posts(server, PALU_B)[0].edits == []
    assert await refresh(world) == 0

    # --- /dibaca: exactly the people missing -------------------------------------------------
    server.send_text(SATGAS, SATGAS, f"/dibaca {ann.id}")
    report = await server.wait_for_message(SATGAS, f"Konfirmasi Pengumuman #{ann.id}")
    assert "Sudah membaca: 4 dari 12 pegawai (33%)" in report.text
    missing = set(re.findall(r"• (.+)", report.text))
    assert missing == {"Yusuf Satgas", "Sari Wulandari", "Andi Pratama", "Lina Kartika",
                       "Kalapas Rutan", "Fajar Nugroho", "=Tono Formula", "Hadi Saputra"}
    assert "Rutan Kelas IIA Palu — 1/3" in report.text
    server.send_text(KALAPAS_PALU, KALAPAS_PALU, "/dibaca")
    own = await server.wait_for_message(KALAPAS_PALU, "Konfirmasi Pengumuman")
    assert set(re.findall(r"• (.+)", own.text)) == {"Yusuf Satgas", "Sari Wulandari",
                                                     "Andi Pratama"}
    assert "Rutan" not in own.text and [b["text"] for b in own.buttons()] == ["📥 Unduh XLSX"]
    server.send_text(BUDI, BUDI, f"/dibaca {ann.id}")
    await server.wait_for_message(BUDI, "hanya dapat dilihat oleh pengirimnya")
    q = server.press(SATGAS, SATGAS, report.message_id, report.button_data("Unduh XLSX"))
    assert "XLSX" in await answer_of(server, q)
    await server.wait_for(lambda: any(m.document for m in server.messages(SATGAS)))
    sheet = [m for m in server.messages(SATGAS) if m.document][0]
    rows = list(load_workbook(io.BytesIO(sheet.document.content)).active.iter_rows(
        values_only=True))
    assert len(rows) == 13 and "=Tono Formula" in {r[2] for r in rows}

    # --- the reminder, once ------------------------------------------------------------------
    clock.set(START + timedelta(minutes=119))
    assert await refresh(world) == 0
    clock.set(START + timedelta(minutes=121))
    assert await refresh(world) == 6
    reminded = {chat for chat in group_chats
                if any("Pengingat" in (m.text or "") for m in server.messages(chat))}
    assert reminded == {PALU_A, PALU_B, PALU_ADMIN, RUTAN_2, LPKA_1, LPKA_ADMIN}
    nudge = server.last_message(PALU_A)
    assert "Sari Wulandari" in nudge.text and "Budi" not in nudge.text
    assert nudge.reply_to_message_id == post_a.message_id
    assert "Fajar Nugroho" in server.last_message(LPKA_1).text
    clock.set(START + timedelta(hours=5))
    assert await refresh(world) == 0

    # --- withdrawal --------------------------------------------------------------------------
    server.fail_next("deleteMessage", status=400,
                     description="Bad Request: message can't be deleted", chat_id=RUTAN_2)
    server.send_text(SATGAS, SATGAS, f"/tarik {ann.id}")
    confirm = await server.wait_for_message(SATGAS, f"Tarik pengumuman #{ann.id}?")
    q = server.press(SATGAS, SATGAS, confirm.message_id, confirm.button_data("Ya, tarik"))
    assert "ditarik" in await answer_of(server, q)
    await server.wait_for_message(SATGAS, "telah ditarik")
    await world.settle()
    for chat in group_chats:
        if chat != RUTAN_2:
            assert all(m.deleted for m in server.messages(chat)), chat
    assert sum(not m.deleted for m in server.messages(RUTAN_2)) == 1  # that delete failed: fine
    ann = db.call(lambda s: s.get(Announcement, ann.id))
    assert ann.withdrawn_at == clock.now() and ann.withdrawn_by == SATGAS
    refusal = server.messages(BUDI)[0]
    q = server.press(BUDI, BUDI, refusal.message_id, f"a:{ann.id}")
    assert "telah ditarik" in await answer_of(server, q)
    server.send_text(SATGAS, SATGAS, "/pengumuman")
    listing = await server.wait_for_message(SATGAS, "Pengumuman terbaru")
    assert f"#{ann.id}" in listing.text and "Dibaca 4/12 (33%)" in listing.text
    assert "ditarik" in listing.text
    await world.settle()  # the listing's row is marked sent just after it arrives
    stuck = db.call(lambda s: s.exec(select(OutboxMessage).where(
        OutboxMessage.state.in_(("pending", "sending")))).all())  # type: ignore[union-attr]
    assert stuck == []


async def test_caption_cancel_and_idle_timeout(impatient_world):
    world = impatient_world
    server = world.server
    # A photo with its caption is the whole announcement: straight to the target.
    server.send_text(SATGAS, SATGAS, "/umumkan")
    first = await server.wait_for_message(SATGAS, "Silakan kirim teks pengumuman")
    server.send_photo(SATGAS, SATGAS, "tps.jpg", b"\xff\xd8 tps", caption="TPS khusus 27 Nov")
    targets = await server.wait_for_message(SATGAS, "Kepada siapa")
    q = server.press(SATGAS, SATGAS, targets.message_id, targets.button_data("Batal"))
    assert "Dibatalkan" in await answer_of(server, q)
    await server.wait_for_message(SATGAS, "dibatalkan. Tidak ada yang dikirim")
    q = server.press(SATGAS, SATGAS, first.message_id, first.button_data("Batal"))
    assert "sudah tidak berlaku" in await answer_of(server, q)
    # Left idle (here 3 s): the draft is dropped, politely.
    server.send_text(SATGAS, SATGAS, "/umumkan")
    await server.wait_for(lambda: len([m for m in server.messages(SATGAS)
                                       if "Silakan kirim teks" in (m.text or "")]) == 2)
    await server.wait_for_message(SATGAS, "tidak ada tanggapan selama 0,05 menit", timeout=8)
    second = [m for m in server.messages(SATGAS) if "Silakan kirim teks" in (m.text or "")][-1]
    q = server.press(SATGAS, SATGAS, second.message_id, second.button_data("Batal"))
    assert "sudah tidak berlaku" in await answer_of(server, q)
    # Text after the timeout is not taken as an announcement.
    server.send_text(SATGAS, SATGAS, "Apakah masih berlaku?")
    await server.wait_for_message(SATGAS, "tidak dikenali")
    assert world.db.call(lambda s: s.exec(select(Announcement)).all()) == []
