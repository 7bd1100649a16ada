"""Running the unit from Telegram, end to end: the real Application against the fake Bot API
server. /cuti, /tukar, /jadwal, /pakta, /koreksi, per-role menus and /bantuan, each for an
allowed and a refused role.

Lapas Palu (WITA, UTC+8), Tuesday 26 November 2024: Regu D stands pagi (07.00 WITA, deadline
07.30) with the administration staff, Regu A siang (13.00), Regu B malam (19.00), Regu C is off.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from bot.apel.models import Correction, DutySwap
from bot.org.models import Leave
from bot.platform.clock import FakeClock
from bot.unit_admin.models import LeaveEnding, PaktaSignature
from fake_telegram.harness import BotUnderTest
from fake_telegram.server import FakeTelegram
from tests.factories import (
    AGUS,
    BUDI,
    CITRA,
    DEWI,
    KALAPAS,
    KARUPAM_A,
    KARUPAM_D,
    KPLP,
    RINA,
    SARI,
    UNIT_CREW,
    Member,
    nip,
    running_bot,
    seed_crew,
    utc,
)

pytestmark = pytest.mark.e2e

REGU_A, REGU_C, REGU_D = -1001000000001, -1001000000003, -1001000000004
STRANGER = 9999


@pytest.fixture
async def world(settings, sqlite_db):
    clock = FakeClock(utc(22, 0))  # 06.00 WITA on the 26th
    sqlite_db.call(lambda s: seed_crew(s, settings, clock.now(), UNIT_CREW, extra=[
        Member(9, "Citra Permata", "anggota", "Regu C", CITRA, True)]))
    people = [(KALAPAS, "Ketut"), (KPLP, "Yusuf"), (KARUPAM_D, "Hendra"), (KARUPAM_A, "Andi"),
              (BUDI, "Budi"), (DEWI, "Dewi"), (AGUS, "Agus"), (RINA, "Rina"), (CITRA, "Citra"),
              (SARI, "Sari"), (STRANGER, "Tamu")]
    async with running_bot(settings, sqlite_db, clock, people,
                           started=[uid for uid, _ in people]) as bot:
        await bot.settle()
        yield bot


def say(world: BotUnderTest, user: int, text: str, chat: int | None = None) -> None:
    world.server.send_text(user, user if chat is None else chat, text)


async def answer_of(server: FakeTelegram, query_id: str) -> str:
    await server.wait_for(lambda: query_id in server.callback_answers)
    return server.callback_answers[query_id]["text"]


async def own_message(world: BotUnderTest, user: int):  # noqa: ANN201
    """A bot message in the user's private chat, to forge button presses on."""
    say(world, user, "/bantuan")
    return await world.server.wait_for_message(user, "Bot Apel Netralitas")


async def housekeeping(world: BotUnderTest) -> int:
    queued = await asyncio.to_thread(world.runtime.scheduler.housekeeping)
    await world.settle()
    return queued


# --- /cuti ---------------------------------------------------------------------------------------


async def test_cuti_while_apel_open_then_report_and_early_end(world):
    server, clock = world.server, world.clock
    clock.set(utc(23, 0, 20))  # 07.00 WITA
    assert (await world.reconcile()).opened == 1
    await server.wait_for_message(REGU_D, "APEL PAGI")

    clock.set(utc(23, 10))  # the apel is open: the Karupam records Dewi's sick leave
    say(world, KARUPAM_D, "/cuti Dewi Lestari hari ini s.d. 28-11-2024 sakit")
    saved = await server.wait_for_message(KARUPAM_D, "Cuti/izin tercatat")
    assert "Dewi Lestari" in saved.text and "Sakit" in saved.text
    assert "apel yang sedang berlangsung" in saved.text
    await server.wait_for_message(DEWI, "cuti/izin Anda telah dicatat")
    # Refused: another regu's Karupam; a guard; the command in a group.
    say(world, KARUPAM_A, "/cuti Budi besok sakit")
    await server.wait_for_message(KARUPAM_A, "Tidak ada pegawai yang cocok")
    say(world, KARUPAM_D, "/cuti Budi besok", chat=REGU_D)
    await server.wait_for_message(REGU_D, "hanya dapat digunakan di chat pribadi")
    mine = await own_message(world, BUDI)
    forged = server.press(BUDI, BUDI, mine.message_id, "c:d:4:20241127:20241127:s")
    assert "tidak berwenang" in await answer_of(server, forged)

    clock.set(utc(23, 30, 5))  # 07.30: the deadline report does not hold Dewi missing
    assert (await world.reconcile()).closed == 1
    report = await server.wait_for_message(KALAPAS, "Laporan Ikrar")
    assert "Cuti/izin: 1" in report.text
    missing, _, on_leave = report.text.partition("Cuti/izin:\n")
    assert "Sari Wulandari" in missing and "Dewi Lestari" not in missing
    assert on_leave.startswith("  • Dewi Lestari")  # named as on leave instead
    assert not [m for m in server.messages(DEWI) if "belum menerima ikrar" in m.text]

    clock.set(utc(1, 0, day=26))  # 09.00: Dewi is back; the KPLP ends her leave
    say(world, KPLP, "/cuti")
    listing = await server.wait_for_message(KPLP, "Pegawai cuti/izin hari ini")
    assert "Dewi Lestari (Regu D) — Sakit" in listing.text
    server.press(KPLP, KPLP, listing.message_id, listing.button_data("Akhiri cuti: Dewi"))
    confirm = await server.wait_for_message(KPLP, "Akhiri cuti Dewi Lestari")
    q = server.press(KPLP, KPLP, confirm.message_id, confirm.button_data("Ya, akhiri"))
    assert "diakhiri" in await answer_of(server, q)
    ended = await server.wait_for_message(KPLP, "diakhiri lebih awal")
    # Today's pagi counted her as on leave: that record stays, the leave ends today.
    assert "kini berakhir 26-11-2024" in ended.text
    await server.wait_for_message(DEWI, "diakhiri lebih awal")
    await server.wait_for(lambda: "Cuti telah diakhiri" in server.message(
        KPLP, confirm.message_id).text)
    leave = world.db.call(lambda s: s.exec(select(Leave)).one())
    ending = world.db.call(lambda s: s.exec(select(LeaveEnding)).one())
    assert (str(leave.end), str(ending.original_end), ending.ended_by) == (
        "2024-11-26", "2024-11-28", KPLP)


async def test_cuti_request_by_a_guard_approved_by_the_karupam(world):
    server = world.server
    say(world, BUDI, "/cuti 02-12-2024 s.d. 04-12-2024")
    ask = await server.wait_for_message(BUDI, "pilih alasannya")
    server.press(BUDI, BUDI, ask.message_id, ask.button_data("Cuti"))
    sent = await server.wait_for_message(BUDI, "telah diteruskan")
    assert "kepada Hendra Gunawan" in sent.text
    request = await server.wait_for_message(KARUPAM_D, "Permintaan cuti/izin")
    assert "Budi Santoso" in request.text and "02-12-2024 s.d. 04-12-2024" in request.text
    approve = request.button_data("Setujui")
    # Refused: the guard himself, another regu's Karupam (forged onto their own messages).
    for who in (BUDI, KARUPAM_A):
        mine = await own_message(world, who)
        q = server.press(who, who, mine.message_id, approve)
        assert "tidak berwenang" in await answer_of(server, q)
    q = server.press(KARUPAM_D, KARUPAM_D, request.message_id, approve)
    assert "disetujui" in await answer_of(server, q)
    await server.wait_for_message(BUDI, "telah disetujui oleh Hendra Gunawan")
    await server.wait_for(lambda: "Disetujui oleh" in server.message(
        KARUPAM_D, request.message_id).text)
    again = server.press(KARUPAM_D, KARUPAM_D, request.message_id, approve)
    assert "sudah diputuskan" in await answer_of(server, again)
    rows = world.db.call(lambda s: s.exec(select(Leave)).all())
    assert [(str(r.start), str(r.end), r.reason) for r in rows] == [
        ("2024-12-02", "2024-12-04", "Cuti")]
    say(world, BUDI, "/cuti")
    own = await server.wait_for_message(BUDI, "Cuti/izin Anda")
    assert "02-12-2024 s.d. 04-12-2024 — Cuti" in own.text
    say(world, STRANGER, "/cuti besok sakit")
    await server.wait_for_message(STRANGER, "belum terdaftar")


# --- /tukar and /jadwal ------------------------------------------------------------------------


async def test_tukar_regu_changes_the_deadline_report(world):
    server, clock = world.server, world.clock
    say(world, KPLP, "/tukar hari ini pagi Regu C")
    saved = await server.wait_for_message(KPLP, "Pertukaran jaga tercatat")
    assert "Regu C apel pagi menggantikan Regu D; Regu D libur" in saved.text
    await server.wait_for_message(REGU_C, "Perubahan jadwal apel")
    await server.wait_for_message(REGU_D, "Perubahan jadwal apel")
    # Refused: a Karupam may not move regu; a guard may not swap at all.
    say(world, KARUPAM_D, "/tukar hari ini pagi Regu A")
    await server.wait_for_message(KARUPAM_D, "hanya dapat dicatat oleh KPLP")
    say(world, BUDI, "/tukar besok siang Budi")
    await server.wait_for_message(BUDI, "pertukaran jaga hanya dapat dicatat")

    clock.set(utc(23, 0, 20))
    assert (await world.reconcile()).opened == 1
    briefing = await server.wait_for_message(REGU_C, "APEL PAGI")
    assert not [m for m in server.messages(REGU_D) if "APEL PAGI" in m.text]
    clock.set(utc(23, 5))
    q = server.press(RINA, -1001000000099,
                     (await server.wait_for_message(-1001000000099, "APEL PAGI")).message_id,
                     briefing.button_data("Saya berikrar"))
    await answer_of(server, q)
    clock.set(utc(23, 30, 5))
    assert (await world.reconcile()).closed == 1
    report = await server.wait_for_message(KALAPAS, "Laporan Ikrar")
    assert "Regu C" in report.text and "Citra Permata" in report.text
    for absent in ("Regu D", "Budi Santoso", "Sari Wulandari", "Dewi Lestari"):
        assert absent not in report.text
    # Opened: the swap of this apel can no longer be undone.
    q = server.press(KPLP, KPLP, saved.message_id, saved.button_data("Batalkan"))
    assert "sudah dimulai" in await answer_of(server, q)


async def test_tukar_person_jadwal_and_undo(world):
    server, clock = world.server, world.clock
    say(world, KARUPAM_D, "/tukar hari ini siang Dewi Lestari")
    saved = await server.wait_for_message(KARUPAM_D, "Pertukaran jaga tercatat")
    assert "Dewi Lestari mengikuti apel siang (13.00 WITA, bersama Regu A)" in saved.text
    await server.wait_for_message(DEWI, "Anda dijadwalkan mengikuti apel siang")
    say(world, KARUPAM_A, "/tukar hari ini malam Budi")  # not his regu
    await server.wait_for_message(KARUPAM_A, "Tidak ada regu atau pegawai yang cocok")

    say(world, BUDI, "/jadwal")
    table = await server.wait_for_message(BUDI, "Jadwal apel")
    assert "Apel pagi 07.00 WITA: Regu D + staf administrasi" in table.text
    assert "Dewi Lestari — apel siang" in table.text and "Libur: Regu C" in table.text
    say(world, AGUS, "/jadwal besok", chat=REGU_A)  # allowed in a group
    await server.wait_for_message(REGU_A, "Rabu, 27 November 2024")
    say(world, STRANGER, "/jadwal")
    await server.wait_for_message(STRANGER, "belum terdaftar")

    clock.set(utc(23, 0, 20))
    await world.reconcile()
    clock.set(utc(23, 30, 5))
    await world.reconcile()
    report = await server.wait_for_message(KALAPAS, "Laporan Ikrar")
    assert "Sari Wulandari" in report.text and "Dewi Lestari" not in report.text
    clock.set(utc(5, 0, 20, day=26))  # 13.00 WITA: siang, with Dewi
    await world.reconcile()
    dm = await server.wait_for_message(DEWI, "APEL SIANG")
    assert "bersama Regu A (tukar jaga)" in dm.text
    q = server.press(DEWI, DEWI, dm.message_id, dm.button_data("Saya berikrar"))
    assert "tercatat pukul 13.00 WITA" in await answer_of(server, q)

    say(world, KPLP, "/tukar besok malam Budi")
    undo = await server.wait_for_message(KPLP, "Budi Santoso mengikuti apel malam")
    mine = await own_message(world, BUDI)
    q = server.press(BUDI, BUDI, mine.message_id, undo.button_data("Batalkan"))
    assert "tidak berwenang" in await answer_of(server, q)
    q = server.press(KPLP, KPLP, undo.message_id, undo.button_data("Batalkan"))
    assert "dibatalkan" in await answer_of(server, q)
    await server.wait_for_message(KPLP, "Pertukaran dibatalkan")
    rows = world.db.call(lambda s: s.exec(select(DutySwap).order_by(DutySwap.id)).all())
    assert [r.revoked_at is not None for r in rows] == [False, True]


# --- /pakta --------------------------------------------------------------------------------------


async def test_pakta_read_sign_status_and_reminders(world):
    server, clock = world.server, world.clock
    say(world, BUDI, "/pakta")
    pact = await server.wait_for_message(BUDI, "PAKTA INTEGRITAS")
    assert nip(2) in pact.text and "ketik NIP Anda" in pact.text
    say(world, BUDI, nip(4))
    await server.wait_for_message(BUDI, "tidak sesuai dengan NIP akun Anda")
    say(world, BUDI, f" {nip(2)} ")
    signed = await server.wait_for_message(BUDI, "telah Anda tandatangani")
    assert "06.00 WITA" in signed.text
    # Refused: a stranger (pointed to /daftar); a guard gets the pact, never the list.
    say(world, STRANGER, nip(3))
    await server.wait_for_message(STRANGER, f"/daftar {nip(3)}")
    say(world, DEWI, "/pakta")
    await server.wait_for_message(DEWI, "PAKTA INTEGRITAS")
    assert not [m for m in server.messages(DEWI) if "sudah menandatangani" in m.text]

    say(world, KALAPAS, "/pakta")
    status = await server.wait_for_message(KALAPAS, "Pakta integritas — Pilkada 2024")
    assert "1 dari 10 pegawai sudah menandatangani" in status.text
    assert "Dewi Lestari (Regu D)" in status.text and "Budi Santoso" not in status.text
    server.press(KALAPAS, KALAPAS, status.message_id, status.button_data("Baca dan tanda"))
    await server.wait_for_message(KALAPAS, "PAKTA INTEGRITAS")
    say(world, KALAPAS, nip(10))
    await server.wait_for_message(KALAPAS, "telah Anda tandatangani")

    clock.set(utc(1, 0, day=27))  # 09.00 WITA on the 27th: a reminder day (every 3rd)
    assert await housekeeping(world) >= 7
    reminder = await server.wait_for_message(DEWI, "belum menandatangani")
    assert not [m for m in server.messages(BUDI) if "belum menandatangani" in m.text]
    assert await housekeeping(world) == 0  # once a day
    server.press(DEWI, DEWI, reminder.message_id, reminder.button_data("Baca dan tanda"))
    await server.wait_for(lambda: len([m for m in server.messages(DEWI)
                                       if "PAKTA INTEGRITAS" in m.text]) == 2)
    sigs = world.db.call(lambda s: s.exec(select(PaktaSignature).where(
        PaktaSignature.signed_at.is_not(None))).all())  # type: ignore[union-attr]
    assert len(sigs) == 2


# --- /koreksi ------------------------------------------------------------------------------------


async def test_koreksi_excuses_a_missing_person(world):
    server, clock = world.server, world.clock
    clock.set(utc(23, 0, 20))
    await world.reconcile()
    await server.wait_for_message(REGU_D, "APEL PAGI")
    clock.set(utc(23, 30, 5))
    await world.reconcile()
    report = await server.wait_for_message(KALAPAS, "Laporan Ikrar")
    assert "Dewi Lestari" in report.text

    clock.set(utc(1, 0, day=26))
    say(world, KARUPAM_D, "/koreksi")  # refused
    await server.wait_for_message(KARUPAM_D, "hanya dapat dilakukan oleh KPLP, Kalapas")
    say(world, KPLP, "/koreksi")
    listing = await server.wait_for_message(KPLP, "Koreksi catatan ikrar")
    server.press(KPLP, KPLP, listing.message_id, listing.button_data("26-11-2024 pagi"))
    missing = await server.wait_for_message(KPLP, "Belum berikrar hingga batas waktu")
    server.press(KPLP, KPLP, missing.message_id, missing.button_data("Dewi Lestari"))
    reasons = await server.wait_for_message(KPLP, "Pilih alasannya")
    data = reasons.button_data("Pengarahan tidak sampai")
    mine = await own_message(world, BUDI)
    q = server.press(BUDI, BUDI, mine.message_id, data)
    assert "tidak berwenang" in await answer_of(server, q)
    q = server.press(KPLP, KPLP, reasons.message_id, data)
    assert "tercatat" in await answer_of(server, q)
    saved = await server.wait_for_message(KPLP, "Koreksi tercatat")
    assert "dikoreksi" in saved.text
    note = await server.wait_for_message(KALAPAS, "Koreksi catatan ikrar")
    assert "Dewi Lestari" in note.text and "dikoreksi oleh Yusuf Kurniawan" in note.text
    # The Kalapas goes straight to the apel: Dewi is no longer in its missing list.
    say(world, KALAPAS, "/koreksi hari ini pagi")
    again = await server.wait_for_message(KALAPAS, "Belum berikrar hingga batas waktu")
    assert "Dewi Lestari" not in again.text and "Sari Wulandari" in again.text
    rows = world.db.call(lambda s: s.exec(select(Correction)).all())
    assert [(r.reason_code, r.by) for r in rows] == [("sampai", KPLP)]


# --- menus, help, unknown input ------------------------------------------------------------------


def commands(server: FakeTelegram, user: int | None = None) -> list[str]:
    scope = None if user is None else {"type": "chat", "chat_id": user}
    return [c["command"] for c in server.commands(scope)]


async def test_menus_by_role_help_and_unknown_input(world):
    server = world.server
    default = commands(server)
    assert "daftar" in default and "bantuan" in default
    assert not {"cuti", "tukar", "koreksi", "jadwal", "pakta"} & set(default)
    assert {"cuti", "tukar", "koreksi", "jadwal", "pakta"} <= set(commands(server, KPLP))
    karupam = commands(server, KARUPAM_D)
    assert {"cuti", "tukar", "jadwal", "pakta"} <= set(karupam) and "koreksi" not in karupam
    guard = commands(server, BUDI)
    assert {"cuti", "jadwal", "pakta"} <= set(guard) and not {"tukar", "koreksi"} & set(guard)
    kalapas = commands(server, KALAPAS)
    assert {"koreksi", "pakta", "cuti", "jadwal"} <= set(kalapas) and "tukar" not in kalapas
    cuti = {c["command"]: c["description"] for c in server.commands(
        {"type": "chat", "chat_id": BUDI})}["cuti"]
    assert cuti == "Mengajukan cuti/izin"
    assert commands(server, SARI) == []  # not registered: the default menu

    # Sari registers; once approved, the housekeeping gives her the guard's menu.
    say(world, SARI, f"/daftar {nip(3)}")
    request = await server.wait_for_message(KARUPAM_D, "Permintaan pendaftaran")
    server.press(KARUPAM_D, KARUPAM_D, request.message_id, request.button_data("Setujui"))
    await server.wait_for_message(SARI, "telah disetujui")
    await housekeeping(world)
    await server.wait_for(lambda: "pakta" in commands(server, SARI))

    say(world, KPLP, "/bantuan")
    help_kplp = await server.wait_for_message(KPLP, "Bot Apel Netralitas")
    assert "/koreksi 26-11-2024 pagi" in help_kplp.text and "/tukar 27-11-2024 pagi Regu C" \
        in help_kplp.text
    help_guard = await own_message(world, BUDI)
    assert "/cuti besok sakit" in help_guard.text and "/koreksi" not in help_guard.text
    say(world, BUDI, "/entahlah")
    await server.wait_for_message(BUDI, "tidak dikenali")
    say(world, BUDI, "halo pak")
    await server.wait_for(lambda: len([m for m in server.messages(BUDI)
                                       if "tidak dikenali" in m.text]) == 2)


# --- help and menus per role (built from one table), both copies of a request closed -----------

KALAPAS_CILACAP = 5000002  # lapas-cilacap's kalapas_chat_id: the Kalapas, not on the roster
GRANTED_ADMIN = 7000001  # an admin by role grant, not on the roster


def help_commands(text: str) -> list[str]:
    """The commands /bantuan explains, one line each: '• /rekap — ...'."""
    return [line.split()[1].lstrip("/") for line in text.splitlines()
            if line.startswith("• /")]


@pytest.fixture
async def roles_world(settings, sqlite_db):
    from bot.org.models import RoleGrant

    clock = FakeClock(utc(22, 0))

    def seed(s):
        seed_crew(s, settings, clock.now(), UNIT_CREW)
        s.add(RoleGrant(telegram_user_id=GRANTED_ADMIN, role="admin", granted_at=clock.now()))

    sqlite_db.call(seed)
    people = [(KALAPAS, "Ketut"), (KALAPAS_CILACAP, "Kalapas Cilacap"), (GRANTED_ADMIN, "Admin"),
              (KPLP, "Yusuf"), (KARUPAM_D, "Hendra"), (BUDI, "Budi"), (SARI, "Sari"),
              (STRANGER, "Tamu")]
    async with running_bot(settings, sqlite_db, clock, people,
                           started=[uid for uid, _ in people]) as bot:
        await bot.settle()
        yield bot


async def test_help_and_menus_follow_the_roles(roles_world):
    world, server = roles_world, roles_world.server
    assert "daftar" in commands(server)  # the default menu, for people the bot does not know
    helps = {}
    for user in (KALAPAS, KALAPAS_CILACAP, GRANTED_ADMIN, KPLP, BUDI, STRANGER):
        say(world, user, "/bantuan")
        helps[user] = (await server.wait_for_message(user, "Bot Apel Netralitas")).text
        menu = commands(server, user) or commands(server)  # the stranger: the default menu
        # /bantuan explains exactly the commands of the person's menu, each once.
        assert help_commands(helps[user]) == menu, (user, helps[user])
        if user != STRANGER:
            assert "belum terdaftar" not in helps[user] and "daftar" not in menu, user
    readers = {"rekap", "belum", "status", "regu", "unduh", "grafik", "dibaca", "pengumuman"}
    assert readers <= set(commands(server, KALAPAS_CILACAP))
    assert "pimpinan Lapas Kelas IIA Kembangkuning" in helps[KALAPAS_CILACAP]
    assert readers | {"umumkan", "tarik"} <= set(commands(server, GRANTED_ADMIN))
    assert "admin" in helps[GRANTED_ADMIN]
    assert readers <= set(commands(server, KALAPAS)) and "/cuti besok" not in helps[KALAPAS]
    assert "belum terdaftar" in helps[STRANGER] and "/daftar" in helps[STRANGER]

    # The Kalapas by chat id is the Kalapas for the unit commands too.
    say(world, KALAPAS_CILACAP, "/cuti")
    leave_today = await server.wait_for_message(KALAPAS_CILACAP, "cuti")
    assert "belum terdaftar" not in leave_today.text


async def test_both_copies_of_a_registration_request_lose_their_buttons(roles_world):
    world, server = roles_world, roles_world.server
    say(world, SARI, f"/daftar {nip(3)}")
    mine = await server.wait_for_message(KARUPAM_D, "Permintaan pendaftaran")
    other = await server.wait_for_message(KPLP, "Permintaan pendaftaran")
    assert other.buttons()
    server.press(KARUPAM_D, KARUPAM_D, mine.message_id, mine.button_data("Setujui"))
    await server.wait_for_message(SARI, "telah disetujui")
    await server.wait_for(lambda: not other.buttons() and not mine.buttons())
    assert "Disetujui oleh Hendra" in other.text
