"""The apel cycle end to end: the real Application against the fake Bot API server.

Lapas Palu (WITA, UTC+8), Tuesday 26 November 2024, apel pagi at 07.00 WITA: Regu D stands it,
with the administration staff. Deadline 07.30, pledges after 07.15 are late.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.apel import counts as apel_counts
from bot.apel.models import Apel, Pledge
from bot.delivery.models import InboxUpdate
from bot.platform.clock import FakeClock
from fake_telegram.server import FakeTelegram
from tests.factories import (
    AGUS,
    ANDI,
    APEL_CREW,
    BUDI,
    DEWI,
    KALAPAS,
    KARUPAM_D,
    RINA,
    SARI,
    nip,
    running_bot,
    seed_crew,
    utc,
)

pytestmark = pytest.mark.e2e

REGU_D = -1001000000004
ADMIN_GROUP = -1001000000099
KALAPAS_CILACAP, STRANGER = 5000002, 9999
KARUPAM = KARUPAM_D


@pytest.fixture
async def world(settings, sqlite_db):
    clock = FakeClock(utc(22, 0))  # 06.00 WITA on the 26th
    sqlite_db.call(lambda s: seed_crew(s, settings, clock.now(), APEL_CREW))
    users = [(KARUPAM, "Hendra"), (BUDI, "Budi"), (SARI, "Sari"), (ANDI, "Andi"), (DEWI, "Dewi"),
             (RINA, "Rina"), (AGUS, "Agus"), (STRANGER, "Tamu"), (KALAPAS, "Kalapas Palu"),
             (KALAPAS_CILACAP, "Kalapas Cilacap")]
    async with running_bot(settings, sqlite_db, clock, users,
                           start=(KARUPAM, DEWI, KALAPAS, KALAPAS_CILACAP, BUDI)) as bot:
        yield bot


async def answer_of(server: FakeTelegram, query_id: str) -> str:
    await server.wait_for(lambda: query_id in server.callback_answers)
    return server.callback_answers[query_id]["text"]


async def test_registration_with_approval(world):
    server = world.server
    server.user_start(SARI)
    server.send_text(SARI, SARI, f"/daftar {nip(3)}")
    request = await server.wait_for_message(KARUPAM, "Sari Wulandari")
    assert "Permintaan pendaftaran" in request.text
    # A guard forging the approve button on a bot message in his own chat is refused.
    server.send_text(BUDI, BUDI, "/bantuan")
    own = await server.wait_for_message(BUDI, "Bot Apel Netralitas")
    forged = server.press(BUDI, BUDI, own.message_id, request.button_data("✅ Setujui"))
    assert "tidak berwenang" in await answer_of(server, forged)
    # The Karupam of the regu can approve.
    approved = server.press(KARUPAM, KARUPAM, request.message_id,
                            request.button_data("✅ Setujui"))
    assert "disetujui" in await answer_of(server, approved)
    await world.settle()
    done = await server.wait_for_message(SARI, "telah disetujui")
    await world.settle()
    assert "Sari Wulandari" in done.text
    replies = [m.text for m in server.messages(SARI)]
    assert any("diteruskan kepada Karupam" in t for t in replies)
    assert not any("Sari Wulandari" in t for t in replies[:-1])  # no name before approval
    # The officer's copy loses its buttons and says who decided.
    await server.wait_for(lambda: "Disetujui oleh" in server.message(
        KARUPAM, request.message_id).text)


async def test_apel_cycle_with_report_and_nudges(world):
    server, clock = world.server, world.clock
    clock.set(utc(22, 59))
    assert (await world.reconcile()).opened == 0  # 06.59 WITA: nothing yet
    clock.set(utc(23, 0, 20))  # 07.00 WITA
    assert (await world.reconcile()).opened == 1
    assert (await world.reconcile()).opened == 0  # once, however often the bell rings
    briefing = await server.wait_for_message(REGU_D, "APEL PAGI")
    assert "07.00 WITA" in briefing.text and "Selasa, 26 November 2024" in briefing.text
    assert "Menolak politik uang" in briefing.text
    admin_briefing = await server.wait_for_message(ADMIN_GROUP, "APEL PAGI")
    for other in (-1001000000001, -1001000000002, -1001000000003):  # off-duty regu: nothing
        assert server.messages(other) == []
    data = briefing.button_data("Saya berikrar")
    assert data.startswith("p:")

    clock.set(utc(23, 5))
    q1 = server.press(BUDI, REGU_D, briefing.message_id, data)
    assert "Ikrar Anda tercatat pukul 07.05 WITA" in await answer_of(server, q1)
    q1b = server.press(BUDI, REGU_D, briefing.message_id, data)
    assert "sudah tercatat sebelumnya" in await answer_of(server, q1b)
    q_stranger = server.press(STRANGER, REGU_D, briefing.message_id, data)
    assert "/daftar" in await answer_of(server, q_stranger)
    q_agus = server.press(AGUS, REGU_D, briefing.message_id, data)
    assert "tidak terjadwal" in await answer_of(server, q_agus)
    q_rina = server.press(RINA, ADMIN_GROUP, admin_briefing.message_id,
                          admin_briefing.button_data("Saya berikrar"))
    assert "tercatat" in await answer_of(server, q_rina)
    q_forged = server.press(BUDI, REGU_D, briefing.message_id, "p:99999")
    assert "tidak berlaku" in await answer_of(server, q_forged)
    q_junk = server.press(BUDI, REGU_D, briefing.message_id, "x:1;DROP")
    assert "tidak berlaku" in await answer_of(server, q_junk)

    clock.set(utc(23, 6))
    await world.refresh_tallies()
    # Regu D expects Hendra, Budi, Sari, Andi, Dewi, Rudi (Eko is on leave): 1 of 6 so far.
    await server.wait_for(lambda: "1 dari 6 pegawai sudah berikrar" in server.message(
        REGU_D, briefing.message_id).text)

    clock.set(utc(23, 20))  # 07.20: after the on-time window
    q3 = server.press(ANDI, REGU_D, briefing.message_id, data)
    assert "terlambat" in await answer_of(server, q3)
    q_karupam = server.press(KARUPAM, REGU_D, briefing.message_id, data)
    await answer_of(server, q_karupam)

    clock.set(utc(23, 30, 5))  # 07.30: the deadline
    assert (await world.reconcile()).closed == 1
    report = await server.wait_for_message(KALAPAS, "Laporan Ikrar")
    text = report.text
    assert "Wajib ikrar: 7 orang" in text  # Regu D's 7 minus Eko on leave, plus Rina
    assert "Cuti/izin: 1" in text
    assert "Cuti/izin:\n  • Eko Saputra" in text  # who is on leave, not only how many
    assert "Belum berikrar: 3" in text
    assert "Dewi Lestari" in text and "Rudi Hartono" in text
    assert "Sari Wulandari" in text  # never registered, so never pressed
    for pledged in ("Budi Santoso", "Agus Salim", "Rina Marlina"):
        assert pledged not in text
    assert "Terlambat:" in text and "Andi Pratama" in text
    nudge = await server.wait_for_message(REGU_D, "Pengingat ikrar")
    assert all(n in nudge.text for n in ("Dewi Lestari", "Rudi Hartono", "Sari Wulandari"))
    assert 'href="tg://user?id=3004"' in nudge.sent_text  # a real mention for the registered
    assert "Budi" not in nudge.text and "Andi" not in nudge.text
    named = [line for line in nudge.text.splitlines() if line.startswith("• ")]
    assert len(named) == 3 and not any(line.endswith(",") for line in named)  # a list, no commas
    dm = await server.wait_for_message(DEWI, "belum menerima ikrar")
    assert "Dewi Lestari" in dm.text
    assert not [m for m in server.messages(BUDI) if "belum menerima" in m.text]  # Dewi only

    clock.set(utc(23, 40))  # after the deadline: still recorded, marked late
    q4 = server.press(DEWI, REGU_D, briefing.message_id, data)
    assert "terlambat" in await answer_of(server, q4)
    assert (await world.reconcile()).closed == 0  # the report goes once

    pledges = world.db.call(lambda s: s.exec(select(Pledge)).all())
    assert len(pledges) == 6  # Budi (once), Agus, Rina, Andi, Hendra, Dewi
    dewi = [p for p in pledges if p.telegram_user_id == DEWI][0]
    assert dewi.after_deadline and dewi.late
    reports = [m for m in server.messages(KALAPAS) if "Laporan Ikrar" in m.text]
    assert len(reports) == 1

    # The Kalapas asks: the closed apel is read from its kept counts, Dewi's late press in them.
    assert world.db.read(lambda s: s.exec(select(Apel).where(apel_counts.counted())).all())
    server.send_text(KALAPAS, KALAPAS, "/rekap hari ini")
    rekap = await server.wait_for_message(KALAPAS, "Rekap Ikrar")
    assert "terjadwal 8 · tepat waktu 2 · terlambat 3 · cuti 1 · belum 2" in rekap.text


async def test_catch_up_after_downtime(world):
    server, clock = world.server, world.clock
    # Down through pagi (07.00-07.30 WITA); back at 13.10 WITA, during siang's window.
    clock.set(utc(5, 10, day=26))
    summary = await world.reconcile()
    # Palu: pagi missed, siang (13.00 WITA) opened late; Cilacap: pagi (07.30 WIB) missed.
    assert summary.missed == 2 and summary.opened == 1
    missed = await server.wait_for_message(KALAPAS, "tidak terlaksana")
    assert "pagi" in missed.text
    apels = world.db.call(lambda s: s.exec(select(Apel).where(Apel.unit_id == 1)
                                           .order_by(Apel.id)).all())
    assert [(a.slot, a.state, a.opened_late) for a in apels] == [
        ("pagi", "missed", False), ("siang", "open", True)]


async def test_a_press_answered_too_late_is_recorded_and_told_privately(world):
    """A press handled from the inbox after a restart: Telegram no longer takes the toast, so
    the person learns in the private chat that the pledge is recorded, at the time pressed."""
    server, clock = world.server, world.clock
    clock.set(utc(23, 0, 20))
    await world.reconcile()
    briefing = await server.wait_for_message(REGU_D, "APEL PAGI")
    server.fail_next("answerCallbackQuery", status=400, description=(
        "Bad Request: query is too old and response timeout expired or query ID is invalid"))
    clock.set(utc(23, 5))
    server.press(BUDI, REGU_D, briefing.message_id, briefing.button_data("Saya berikrar"))
    note = await server.wait_for_message(BUDI, "telah tercatat")
    assert "pukul 07.05 WITA" in note.text and "Tidak perlu menekan tombol lagi" in note.text
    assert len(world.db.read(lambda s: s.exec(select(Pledge)).all())) == 1


async def test_a_press_is_marked_handled_with_its_pledge_in_one_write(world):
    """The pledge commits its update's handled mark; the pump writes no second mark for it
    (one write less per burst batch on SQLite's single writer), and the row is handled."""
    server, clock = world.server, world.clock
    clock.set(utc(23, 0, 20))
    await world.reconcile()
    briefing = await server.wait_for_message(REGU_D, "APEL PAGI")
    pump = world.runtime.pump
    await server.wait_for(lambda: not pump._working)  # the /start updates, marked by the pump
    marks_before = pump._marks.batches
    clock.set(utc(23, 5))
    query = server.press(BUDI, REGU_D, briefing.message_id, briefing.button_data("Saya berikrar"))
    assert "tercatat" in await answer_of(server, query)
    await server.wait_for(lambda: not pump._working)
    assert pump._marks.batches == marks_before
    assert all(world.db.read(lambda s: s.exec(select(InboxUpdate.handled_at)).all()))
