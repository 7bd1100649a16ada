"""The Kalapas asks, end to end: /rekap, /belum, /status, /regu, /unduh, /grafik and their
buttons, through the real Application and the fake Bot API server.

Lapas Palu (WITA), Tuesday 26 November 2024, apel pagi 07.00 WITA (Regu D + administration),
run for real: briefings out, presses, close at 07.30. Then the questions, at 07.45 WITA.

Regu D (8): Budi on time (07.05); Andi late (07.20); Dewi after the deadline (07.40, late);
    Eko on leave; Hendra, Sari, Rudi and "=HYPERLINK(..)" missing.
    -> terjadwal 8 · tepat waktu 1 · terlambat 2 · cuti 1 · belum 4 -> 3/7 = 43%
Administration (2): Rina and the Kalapas on time -> 100%.
"""

from __future__ import annotations

import io
import logging
from datetime import datetime

import pytest
from openpyxl import load_workbook
from PIL import Image

from bot.org.models import RoleGrant, Unit
from bot.platform.clock import FakeClock
from bot.platform.config import Settings
from fake_telegram.harness import BotUnderTest
from fake_telegram.server import FakeTelegram
from tests.factories import (
    ANDI,
    APEL_CREW,
    BUDI,
    DEWI,
    KALAPAS,
    KARUPAM_D,
    RINA,
    Member,
    running_bot,
    seed_crew,
    utc,
)

pytestmark = pytest.mark.e2e

REGU_D, ADMIN_GROUP = -1001000000004, -1001000000099
KARUPAM = KARUPAM_D
KANWIL_SULTENG, KANWIL_JATENG, ADMIN, ANON = 6001, 6002, 6003, 1087968824
EVIL = '=HYPERLINK("http://evil.example","klik")'


def with_rutan_palu(settings: Settings) -> Settings:
    """The example config plus a second unit in Kanwil Sulawesi Tengah, and an admin."""
    palu = settings.unit("lapas-palu").model_dump(mode="json")
    rutan = {**palu, "code": "rutan-palu", "name": "Rutan Kelas IIA Palu", "kind": "Rutan",
             "kalapas_chat_id": 5000003, "admin_group_chat_id": None,
             "regu": [{"name": r["name"], "chat_id": r["chat_id"] - 2_000_000_000}
                      for r in palu["regu"]]}
    data = settings.model_dump(mode="json")
    data["units"].append(rutan)
    data["telegram"]["admin_user_ids"] = [ADMIN]
    # This Kalapas pledges at the apel pagi with the administration staff, as the figures
    # below assume (by default he stands no apel: he receives the reports).
    data["attendance"]["kalapas"] = "administration"
    return Settings.model_validate(data)


@pytest.fixture
async def world(settings, sqlite_db):
    settings = with_rutan_palu(settings)
    clock = FakeClock(utc(22, 0))  # 06.00 WITA on the 26th

    def seed(s):
        seed_crew(s, settings, clock.now(), APEL_CREW, extra=[
            Member(10, EVIL, "anggota", "Regu D"),
            Member(11, "Kalapas Palu", "kalapas", None, KALAPAS, True)])
        for uid, kanwil in ((KANWIL_SULTENG, "Kanwil Sulawesi Tengah"),
                            (KANWIL_JATENG, "Kanwil Jawa Tengah")):
            s.add(RoleGrant(telegram_user_id=uid, role="kanwil", kanwil=kanwil,
                            granted_at=clock.now()))

    sqlite_db.call(seed)
    users = [(KARUPAM, "Hendra"), (BUDI, "Budi"), (ANDI, "Andi"), (DEWI, "Dewi"), (RINA, "Rina"),
             (KALAPAS, "Kalapas Palu"), (KANWIL_SULTENG, "Kanwil"),
             (KANWIL_JATENG, "Kanwil Jateng"), (ADMIN, "Admin"), (ANON, "Group"),
             (5000003, "Karutan Palu")]
    async with running_bot(settings, sqlite_db, clock, users,
                           start=[uid for uid, _ in users]) as bot:
        yield bot


async def answer_of(server: FakeTelegram, query_id: str) -> str:
    await server.wait_for(lambda: query_id in server.callback_answers)
    return server.callback_answers[query_id]["text"]


async def run_the_apel(world: BotUnderTest) -> None:
    server, clock = world.server, world.clock
    clock.set(utc(23, 0, 20))  # 07.00 WITA
    assert (await world.reconcile()).opened == 2  # lapas-palu and rutan-palu
    briefing = await server.wait_for_message(REGU_D, "APEL PAGI")
    admin = await server.wait_for_message(ADMIN_GROUP, "APEL PAGI")
    for when, uid, chat, msg in [((23, 5), BUDI, REGU_D, briefing),
                                 ((23, 6), RINA, ADMIN_GROUP, admin),
                                 ((23, 7), KALAPAS, ADMIN_GROUP, admin),
                                 ((23, 20), ANDI, REGU_D, briefing)]:
        clock.set(utc(*when))
        await answer_of(server, server.press(uid, chat, msg.message_id,
                                             msg.button_data("Saya berikrar")))
    clock.set(utc(23, 30, 5))  # the deadline
    assert (await world.reconcile()).closed == 2
    await server.wait_for_message(KALAPAS, "Laporan Ikrar")
    clock.set(utc(23, 40))
    await answer_of(server, server.press(DEWI, REGU_D, briefing.message_id,
                                         briefing.button_data("Saya berikrar")))
    clock.set(utc(23, 45))  # 07.45 WITA


async def ask(world: BotUnderTest, user: int, text: str, contains: str):  # noqa: ANN201
    before = len(world.server.messages(user))
    world.server.send_text(user, user, text)
    await world.server.wait_for(lambda: len(world.server.messages(user)) > before,
                                what=f"an answer to {text!r}")
    return await world.server.wait_for_message(user, contains)


async def test_kalapas_asks_everything(world, caplog):
    server = world.server
    await run_the_apel(world)

    # /rekap: per apel and regu, today by default.
    rekap = await ask(world, KALAPAS, "/rekap", "Rekap Ikrar Netralitas")
    text = rekap.text
    assert "Lapas Kelas IIA Palu" in text and "Hari ini, Selasa, 26 November 2024" in text
    assert "Apel pagi, 07.00 WITA — selesai" in text
    assert ("Regu D: 43% — terjadwal 8 · tepat waktu 1 · terlambat 2 · cuti 1 · belum 4"
            in text)
    assert "Staf administrasi: 100% — terjadwal 2 · tepat waktu 2 · terlambat 0" in text
    assert "Seluruhnya (1 apel): 56% berikrar" in text  # 5 of 9 due
    assert "Rutan" not in text  # the Kalapas sees his own unit only
    assert "⬅️ Kembali" not in [b["text"] for b in rekap.buttons()]

    # Switch the period with a button: the same message is edited.
    q = server.press(KALAPAS, KALAPAS, rekap.message_id, rekap.button_data("Kemarin"))
    assert await answer_of(server, q) == ""
    await server.wait_for(lambda: "Kemarin, Senin, 25 November 2024" in server.message(
        KALAPAS, rekap.message_id).text)
    assert "Belum ada apel" in server.message(KALAPAS, rekap.message_id).text
    q = server.press(KALAPAS, KALAPAS, rekap.message_id, rekap.button_data("Periode"))
    await server.wait_for(lambda: "Periode Pilkada 2024" in server.message(
        KALAPAS, rekap.message_id).text)
    assert "Per regu" in server.message(KALAPAS, rekap.message_id).text

    # A typed range and a bad one.
    ranged = await ask(world, KALAPAS, "/rekap 25-11-2024 s.d. 26-11-2024", "Rekap Ikrar")
    assert "25-11-2024 s.d. 26-11-2024" in ranged.text
    assert "• Regu D: 43%" in ranged.text
    bad = await ask(world, KALAPAS, "/rekap kemarin lusa", "tidak dikenali")
    assert "minggu ini" in bad.text

    # /belum: the last apel, by regu, names and NIP; Dewi pledged late, so she is not listed.
    belum = await ask(world, KALAPAS, "/belum", "Belum berikrar")
    for name in ("Hendra Gunawan", "Sari Wulandari", "Rudi Hartono", "=HYPERLINK"):
        assert name in belum.text
    for name in ("Dewi Lestari", "Budi Santoso", "Eko Saputra", "Rina Marlina"):
        assert name not in belum.text
    assert "Apel sudah ditutup" in belum.text

    # /status: one match shows the record; several give buttons.
    sari = await ask(world, KALAPAS, "/status sari", "Sari Wulandari")
    assert "Terjadwal: 1 apel" in sari.text and "❌ Belum berikrar: 1" in sari.text
    assert "26-11-2024 apel pagi: Belum berikrar" in sari.text
    several = await ask(world, KALAPAS, "/status an", "Silakan pilih")
    labels = [b["text"] for b in several.buttons()]
    assert any("Andi Pratama" in label for label in labels)
    assert any("Budi Santoso" in label for label in labels)  # "Santoso"
    q = server.press(KALAPAS, KALAPAS, several.message_id, several.button_data("Andi Pratama"))
    await answer_of(server, q)
    await server.wait_for(lambda: "⏰ Terlambat: 1" in server.message(
        KALAPAS, several.message_id).text)
    dewi = await ask(world, KALAPAS, "/status 198507252009120005", "Dewi Lestari")
    assert "ikrar pukul 07.40 WITA, setelah batas waktu" in dewi.text
    nobody = await ask(world, KALAPAS, "/status Zainuddin", "Tidak ditemukan")
    assert "Zainuddin" in nobody.text

    # /regu: person by person.
    regu = await ask(world, KALAPAS, "/regu d", "Regu D — Lapas Kelas IIA Palu")
    assert "• Budi Santoso: 100% — tepat waktu 1, terlambat 0, cuti 0, belum 0 dari 1" in regu.text
    assert "• Dewi Lestari: 100% — tepat waktu 0, terlambat 1" in regu.text
    assert "• Eko Saputra: - — tepat waktu 0, terlambat 0, cuti 1" in regu.text
    assert "• Sari Wulandari: 0%" in regu.text

    # /unduh: an XLSX, opened here.
    await ask(world, KALAPAS, "/unduh hari ini", "")
    await server.wait_for(lambda: any(m.document for m in server.messages(KALAPAS)))
    doc = [m for m in server.messages(KALAPAS) if m.document][-1]
    assert doc.document.filename == "rekap-ikrar-lapas-palu-20241126-20241126.xlsx"
    assert "Rekap ikrar netralitas (XLSX)" in doc.caption
    wb = load_workbook(io.BytesIO(doc.document.content))
    assert wb.sheetnames == ["Ringkasan", "Per Pegawai", "Rincian", "Belum Berikrar"]
    detail = wb["Rincian"]
    rows = list(detail.iter_rows(values_only=True))
    assert rows[0] == ("Tanggal", "Apel", "Regu", "NIP", "Nama", "Status",
                       "Waktu Ikrar (WITA)", "Keterangan")
    assert len(rows) == 1 + 10  # Regu D (8) + administration (2)
    by_name = {r[4]: r for r in rows[1:]}
    assert by_name["Budi Santoso"][:3] == (datetime(2024, 11, 26), "Pagi", "Regu D")
    assert by_name["Budi Santoso"][5:7] == ("Tepat waktu", datetime(2024, 11, 26, 7, 5))
    assert by_name["Dewi Lestari"][5:] == ("Terlambat", datetime(2024, 11, 26, 7, 40),
                                           "Ikrar setelah batas waktu")
    assert by_name["Eko Saputra"][5] == "Cuti/izin"
    assert by_name["Rina Marlina"][2] == "Staf administrasi"
    assert by_name["Sari Wulandari"][3] == "198507252009120003"  # NIP as text, all 18 digits
    evil = by_name[EVIL]  # shown as typed, no apostrophe, but text (below)
    assert evil[5] == "Belum berikrar"
    quoted = set()
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"formula in {sheet.title}!{cell.coordinate}"
                if isinstance(cell.value, str):
                    assert cell.data_type == "s"
                    looks_like_formula = cell.value.startswith(("=", "+", "-", "@", "\t", "\r"))
                    assert cell.quotePrefix == looks_like_formula, cell.coordinate
                    if cell.quotePrefix:
                        quoted.add((sheet.title, cell.value))
    assert quoted == {("Per Pegawai", EVIL), ("Rincian", EVIL), ("Belum Berikrar", EVIL)}
    assert detail.freeze_panes == "A2" and detail.auto_filter.ref == "A1:H11"
    assert detail.column_dimensions["E"].width == 32
    assert detail["A2"].number_format == "DD-MM-YYYY" and detail["A2"].is_date
    missing = [r[4] for r in wb["Belum Berikrar"].iter_rows(min_row=2, values_only=True)]
    assert sorted(missing) == sorted(["Hendra Gunawan", "Sari Wulandari", "Rudi Hartono",
                                      EVIL])
    summary = {r[0]: r for r in wb["Ringkasan"].iter_rows(values_only=True) if r[0]}
    assert summary["Regu D"][1:8] == (8, 1, 2, 1, 0, 4, 0)
    assert summary["Regu D"][9] == pytest.approx(3 / 7)
    assert summary["Unit"][1] == "Lapas Kelas IIA Palu"

    # /grafik: a PNG, decoded here.
    await ask(world, KALAPAS, "/grafik minggu ini", "")
    await server.wait_for(lambda: any(m.photo for m in server.messages(KALAPAS)))
    photo = [m for m in server.messages(KALAPAS) if m.photo][-1]
    assert photo.photo.content[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(photo.photo.content))
    image.load()
    assert image.format == "PNG" and image.size == (1280, 720)
    assert "Grafik kepatuhan ikrar per regu" in photo.caption
    assert "Minggu ini, 25-11-2024 s.d. 26-11-2024" in photo.caption

    # The buttons under a rekap download too, for the unit and period shown.
    q = server.press(KALAPAS, KALAPAS, rekap.message_id, rekap.button_data("Unduh XLSX"))
    assert "disiapkan" in await answer_of(server, q)
    await server.wait_for(lambda: len([m for m in server.messages(KALAPAS) if m.document]) == 2)
    assert "refused" not in caplog.text


@pytest.mark.parametrize("command", ["/rekap", "/belum", "/status budi", "/regu D",
                                     "/unduh", "/grafik"])
async def test_refused_politely_and_logged(world, caplog, command):
    server = world.server
    caplog.set_level(logging.WARNING, logger="bot.reports.scope")
    for user in (BUDI, KARUPAM):  # a guard and a Karupam: no report role
        answer = await ask(world, user, command, "Mohon maaf")
        assert "Kalapas/Karutan/Kepala LPKA, Satgas Netralitas, petugas Kanwil" in answer.text
        assert not any(m.document or m.photo for m in server.messages(user))
    assert caplog.text.count("report request refused") == 2
    assert f"by tg:{BUDI}" in caplog.text and "anggota" in caplog.text
    # In a group the Kalapas is told to use the private chat; nothing is shown there.
    before = len(server.messages(REGU_D))
    server.send_text(KALAPAS, REGU_D, command)
    reply = await server.wait_for_message(REGU_D, "chat pribadi")
    assert len(server.messages(REGU_D)) == before + 1 and "Regu D:" not in reply.text


async def test_anonymous_admin_and_forged_buttons(world, caplog):
    server = world.server
    server.send_text(ANON, REGU_D, "/rekap")  # Telegram's GroupAnonymousBot
    await server.wait_for_message(REGU_D, "akun anonim")
    assert "report request refused: rekap by tg:1087968824" in caplog.text
    # Budi forges drill-down data on a bot message in his own chat: refused, logged.
    own = await ask(world, BUDI, "/rekap", "Mohon maaf")
    palu_id = world.db.call(lambda s: s.exec(
        __import__("sqlmodel").select(Unit.id).where(Unit.code == "lapas-palu")).one())
    for data in (f"q:unit:{palu_id}:h", f"q:unduh:{palu_id}:p", "q:rekap:h"):
        q = server.press(BUDI, BUDI, own.message_id, data)
        assert "tidak berwenang" in await answer_of(server, q)
    assert not any(m.document for m in server.messages(BUDI))
    for junk in ("q:unit:abc:h", "q:unit:1:zz", "q:nope:1:h", "q:unit:1", "q:" + "9" * 70):
        q = server.press(BUDI, BUDI, own.message_id, junk)
        assert "tidak berlaku" in await answer_of(server, q)
    # The Jawa Tengah Kanwil officer may not open a Sulawesi Tengah unit, even by forging.
    jateng = await ask(world, KANWIL_JATENG, "/rekap", "Rekap Ikrar")
    assert "Lapas Kelas IIA Kembangkuning" in jateng.text and "Palu" not in jateng.text
    q = server.press(KANWIL_JATENG, KANWIL_JATENG, jateng.message_id, f"q:unit:{palu_id}:h")
    assert "tidak berwenang" in await answer_of(server, q)
    q = server.press(KANWIL_JATENG, KANWIL_JATENG, jateng.message_id, "q:status:1:p")
    assert "tidak berwenang" in await answer_of(server, q)
    assert caplog.text.count("report request refused") >= 6


async def test_kanwil_rolls_up_then_drills_down(world):
    server = world.server
    await run_the_apel(world)
    roll = await ask(world, KANWIL_SULTENG, "/rekap", "Kanwil Sulawesi Tengah")
    text = roll.text
    assert "• Lapas Kelas IIA Palu: 56% — belum 4, terlambat 2" in text
    assert "• Rutan Kelas IIA Palu: -" in text  # nobody on its roster
    assert "Kembangkuning" not in text
    unit_buttons = [b["text"] for b in roll.buttons() if b["callback_data"].startswith("q:unit")]
    assert unit_buttons == ["Lapas Kelas IIA Palu · 56%", "Rutan Kelas IIA Palu · -"]
    q = server.press(KANWIL_SULTENG, KANWIL_SULTENG, roll.message_id,
                     roll.button_data("Lapas Kelas IIA Palu"))
    await answer_of(server, q)
    await server.wait_for(lambda: "Apel pagi, 07.00 WITA" in server.message(
        KANWIL_SULTENG, roll.message_id).text)
    drilled = server.message(KANWIL_SULTENG, roll.message_id)
    assert "Regu D: 43%" in drilled.text
    q = server.press(KANWIL_SULTENG, KANWIL_SULTENG, roll.message_id,
                     drilled.button_data("Kembali"))
    await answer_of(server, q)
    await server.wait_for(lambda: "Pilih unit" in server.message(
        KANWIL_SULTENG, roll.message_id).text)
    # /unduh for several units: choose one from the roll-up first.
    choose = await ask(world, KANWIL_SULTENG, "/unduh", "Anda dapat melihat beberapa unit")
    assert "Unduh XLSX" in choose.text
    # /grafik for several units: their ranking, worst first; and from the roll-up's button.
    await ask(world, KANWIL_SULTENG, "/grafik", "")
    await server.wait_for(lambda: any(m.photo for m in server.messages(KANWIL_SULTENG)))
    photo = [m for m in server.messages(KANWIL_SULTENG) if m.photo][-1]
    assert Image.open(io.BytesIO(photo.photo.content)).width == 1280
    assert "Peringkat kepatuhan ikrar" in photo.caption
    assert "Kanwil Sulawesi Tengah" in photo.caption
    q = server.press(KANWIL_SULTENG, KANWIL_SULTENG, roll.message_id,
                     roll.button_data("Grafik peringkat"))
    assert "disiapkan" in await answer_of(server, q)
    await server.wait_for(lambda: len([m for m in server.messages(KANWIL_SULTENG)
                                       if m.photo]) == 2)
    # The admin sees every Kanwil, one line each.
    national = await ask(world, ADMIN, "/rekap", "Seluruh Kanwil")
    assert "• Kanwil Sulawesi Tengah (2 unit): 56%" in national.text
    assert "• Kanwil Jawa Tengah (1 unit)" in national.text
    q = server.press(ADMIN, ADMIN, national.message_id,
                     national.button_data("Kanwil Sulawesi Tengah"))
    await answer_of(server, q)
    await server.wait_for(lambda: "Rekap Ikrar Netralitas — Kanwil Sulawesi Tengah" in
                          server.message(ADMIN, national.message_id).text)
