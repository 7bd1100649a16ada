"""Announcement services on SQLite and PostgreSQL: targets, fan-out, confirmations, tallies,
reminders, follow-up and withdrawal."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from bot.announcements import (
    listing,
    read_report,
    readers_xlsx,
    sending,
    tally,
    targets,
    views,
    withdrawal,
)
from bot.announcements.buttons import parse_ack_callback
from bot.announcements.confirmations import AckResult, acknowledge
from bot.announcements.models import (
    Acknowledgement,
    Announcement,
    AnnouncementExpected,
    AnnouncementPost,
)
from bot.announcements.posts import PRIORITY_ANNOUNCEMENT, excerpt
from bot.announcements.reminders import send_reminders
from bot.audit.models import AuditEntry
from bot.delivery import outbox
from bot.delivery.html_parts import visible_length
from bot.delivery.models import OutboxMessage
from bot.org import menus
from bot.org.access import actor_for
from bot.org.models import Employee, Unit
from bot.platform.xlsx_cells import formula_like, safe_text
from bot.telegram import app
from bot.telegram.handlers import announce as announce_handlers
from tests.announcements.test_announce_world import (
    ADMIN,
    AGUS,
    ANDI,
    BUDI,
    KALAPAS_PALU,
    KALAPAS_RUTAN,
    LPKA_ADMIN,
    MAYA,
    PALU_A,
    PALU_ADMIN,
    RAHMAT,
    SATGAS,
    SATGAS_UNIT,
    STRANGER,
    kanwil_settings,
    seed,
    unit_id,
)

NOW = datetime(2024, 11, 25, 1, 0, tzinfo=UTC)


@pytest.fixture
def kw():
    return kanwil_settings()


@pytest.fixture
def world(db, kw):
    db.call(lambda s: seed(s, kw, NOW))
    return db


def _send(db, settings, scope="kanwil", key="k1", sender=SATGAS, media=("photo", "AgAC-1"),
          now=NOW, text="<b>Surat edaran</b> netralitas"):
    return db.call(lambda s: sending.send(
        s, settings, sender_user_id=sender, draft_key=f"{sender}:{key}", text_html=text,
        media_kind=media[0] if media else None, media_file_id=media[1] if media else None,
        scope=scope, now=now))


def _mark_all_sent(db, now=NOW):
    def work(s):
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.state == "pending")).all()
        for i, row in enumerate(rows, start=1):
            outbox.mark_sent(s, row.id, 100 + i, now)
    db.call(work)


def test_target_options_follow_the_grant(world, kw):
    def options(user_id):
        return world.call(lambda s: [(o.scope, o.label, len(o.unit_ids)) for o in
                                     targets.target_options(s, actor_for(s, kw, user_id))])

    assert options(SATGAS) == [("unit", "Lapas Kelas IIA Palu", 1),
                               ("kanwil", "Kanwil Sulawesi Tengah", 3)]
    assert options(SATGAS_UNIT) == [("unit", "Rutan Kelas IIA Palu", 1)]  # its unit only
    assert options(ADMIN) == [("all", "", 4)]  # not on the roster: no "this unit"
    assert options(BUDI) == [] and options(KALAPAS_PALU) == [] and options(STRANGER) == []
    reach = world.call(lambda s: targets.reach_of(s, targets.target_for(
        s, actor_for(s, kw, SATGAS), "kanwil").unit_ids))
    assert (reach.units, reach.groups, reach.people) == (3, 13, 12)


def test_send_fans_out_once_per_group_with_the_file_id(world, kw):
    outcome = _send(world, kw)
    assert outcome.result is sending.SendResult.SENT
    ann = outcome.announcement
    assert (ann.group_count, ann.expected_count) == (13, 12)
    assert ann.remind_at == NOW + timedelta(minutes=120)
    rows = world.call(lambda s: s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())
    assert len(rows) == 13 and {r.method for r in rows} == {"sendPhoto"}
    assert {r.priority for r in rows} == {PRIORITY_ANNOUNCEMENT}
    assert outbox.PRIORITY_BRIEFING < PRIORITY_ANNOUNCEMENT < outbox.PRIORITY_TALLY
    payload = rows[0].payload
    assert payload["photo"] == "AgAC-1" and "<b>Surat edaran</b>" in payload["caption"]
    assert payload["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == f"a:{ann.id}"
    assert {r.chat_id for r in rows} >= {PALU_A, PALU_ADMIN, LPKA_ADMIN}
    assert -1002000000001 not in {r.chat_id for r in rows}  # Cilacap is another Kanwil
    posts = world.call(lambda s: s.exec(select(AnnouncementPost)).all())
    by_chat = {p.chat_id: p.expected for p in posts}
    assert by_chat[PALU_A] == 2 and by_chat[PALU_ADMIN] == 2 and by_chat[LPKA_ADMIN] == 2
    # The same draft again (double tap, redelivered update): nothing new.
    again = _send(world, kw)
    assert again.result is sending.SendResult.ALREADY and again.announcement.id == ann.id
    assert world.call(lambda s: len(s.exec(select(OutboxMessage)).all())) == 13
    kinds = world.call(lambda s: s.exec(select(AuditEntry.kind)).all())
    assert kinds.count("announcement.sent") == 1


def test_send_refuses_what_the_sender_cannot_reach(world, kw):
    assert _send(world, kw, scope="kanwil", sender=SATGAS_UNIT).result is \
        sending.SendResult.NOT_ALLOWED
    assert _send(world, kw, scope="all", sender=BUDI).result is sending.SendResult.NOT_ALLOWED
    text_only = _send(world, kw, scope="unit", sender=SATGAS_UNIT, media=None)
    assert text_only.result is sending.SendResult.SENT
    assert text_only.announcement.group_count == 3  # Rutan Palu: three regu, no admin group
    rows = world.call(lambda s: s.exec(select(OutboxMessage)).all())
    assert {r.method for r in rows} == {"sendMessage"}


def test_acknowledgements(world, kw):
    ann = _send(world, kw).announcement

    def press(user, chat=PALU_A, at=NOW + timedelta(minutes=5)):
        return world.call(lambda s: acknowledge(
            s, announcement_id=ann.id, telegram_user_id=user, chat_id=chat, now=at))

    first = press(BUDI)
    assert first.result is AckResult.RECORDED and first.name == "Budi Santoso"
    assert first.timezone == "Asia/Makassar"
    again = press(BUDI, at=NOW + timedelta(minutes=9))
    assert again.result is AckResult.ALREADY and again.at == NOW + timedelta(minutes=5)
    assert press(AGUS).result is AckResult.NOT_TARGET
    assert press(STRANGER).result is AckResult.NOT_REGISTERED
    assert press(RAHMAT).result is AckResult.RECORDED
    assert world.call(lambda s: acknowledge(
        s, announcement_id=ann.id + 50, telegram_user_id=BUDI, chat_id=PALU_A,
        now=NOW)).result is AckResult.UNKNOWN
    acks = world.call(lambda s: s.exec(select(Acknowledgement)).all())
    assert sorted(a.telegram_user_id for a in acks) == [BUDI, RAHMAT]
    kinds = world.call(lambda s: s.exec(select(AuditEntry.kind)).all())
    assert kinds.count("announcement.acknowledged") == 2


def test_tallies_wait_for_delivery_and_respect_the_interval(world, kw):
    ann = _send(world, kw, media=None).announcement
    world.call(lambda s: acknowledge(s, announcement_id=ann.id, telegram_user_id=BUDI,
                                         chat_id=PALU_A, now=NOW))
    # Nothing delivered yet: no edit, and the watermark stays so a later pass edits.
    assert world.call(lambda s: tally.refresh_tallies(s, NOW, 5)) == 0
    _mark_all_sent(world)
    assert world.call(lambda s: tally.refresh_tallies(s, NOW, 5)) == 1
    edits = world.call(lambda s: s.exec(select(OutboxMessage).where(
        OutboxMessage.method == "editMessageText")).all())
    assert len(edits) == 1 and edits[0].chat_id == PALU_A
    assert "1 dari 2 pegawai" in edits[0].payload["text"]
    assert edits[0].payload["reply_markup"]["inline_keyboard"]  # the button stays
    assert edits[0].priority == outbox.PRIORITY_TALLY
    world.call(lambda s: acknowledge(s, announcement_id=ann.id, telegram_user_id=KALAPAS_PALU,
                                         chat_id=PALU_ADMIN, now=NOW))
    world.call(lambda s: acknowledge(s, announcement_id=ann.id, telegram_user_id=ANDI,
                                         chat_id=PALU_A, now=NOW))
    # Regu A was edited a moment ago; the admin group and Regu B were not.
    assert world.call(lambda s: tally.refresh_tallies(s, NOW + timedelta(seconds=1), 5)) == 2
    assert world.call(lambda s: tally.refresh_tallies(s, NOW + timedelta(seconds=9), 5)) == 0
    assert world.call(lambda s: s.get(Announcement, ann.id).tally_ack_id) > 0


def test_reminder_goes_once_to_groups_with_people_missing(world, kw):
    ann = _send(world, kw, media=None).announcement
    _mark_all_sent(world)
    for user, chat in ((BUDI, PALU_A), (MAYA, LPKA_ADMIN), (RAHMAT, -1003000000001)):
        world.call(lambda s, u=user, c=chat: acknowledge(
            s, announcement_id=ann.id, telegram_user_id=u, chat_id=c, now=NOW))
    assert world.call(lambda s: send_reminders(s, NOW + timedelta(minutes=119))) == 0
    later = NOW + timedelta(minutes=121)
    assert world.call(lambda s: send_reminders(s, later)) > 0
    reminders = world.call(lambda s: s.exec(select(OutboxMessage).where(
        OutboxMessage.key.startswith(f"ann:{ann.id}:remind:"))).all())  # type: ignore
    texts = {r.chat_id: r.payload["text"] for r in reminders}
    # Regu A: Sari; Regu B: Andi; Palu admin: Yusuf and the Kalapas; Rutan Regu 2: Lina;
    # Rutan admin-less Kalapas: no group; LPKA admin: Tono; LPKA Regu 1: Fajar and Hadi.
    assert "Sari Wulandari" in texts[PALU_A] and "Budi" not in texts[PALU_A]
    assert 'href="tg://user?id=3003"' in texts[-1001000000002]
    assert "Maya" not in texts[LPKA_ADMIN] and "Tono" in texts[LPKA_ADMIN]
    # One name per line, as a list: no comma trailing each name (issue 13).
    fajar_hadi = [line for line in texts[-1004000000001].splitlines() if "•" in line]
    assert len(fajar_hadi) == 2 and not any(line.endswith((",", ".")) for line in fajar_hadi)
    assert -1003000000001 not in texts  # Rahmat, the only one in Rutan Regu 1, confirmed
    assert -1001000000003 not in texts  # nobody in Palu Regu C
    assert all(r.payload["reply_parameters"]["message_id"] > 100 for r in reminders)
    assert world.call(lambda s: send_reminders(s, later + timedelta(hours=5))) == 0


def test_follow_up_visibility_and_missing_names(world, kw):
    ann = _send(world, kw).announcement
    for user in (BUDI, MAYA, KALAPAS_PALU):
        world.call(lambda s, u=user: acknowledge(
            s, announcement_id=ann.id, telegram_user_id=u, chat_id=PALU_A, now=NOW))

    def report(user, number=ann.id):
        return world.call(lambda s: read_report.follow_up(s, kw, telegram_user_id=user,
                                                  announcement_id=number))

    full = report(SATGAS).report
    assert (full.expected, full.confirmed) == (12, 3)
    missing = {e.name for u in full.units for g in u.groups for e in g.missing}
    assert missing == {"Yusuf Satgas", "Sari Wulandari", "Andi Pratama", "Rahmat Hidayat",
                       "Lina Kartika", "Kalapas Rutan", "Fajar Nugroho", "=Tono Formula",
                       "Hadi Saputra"}
    assert full.may_withdraw
    assert [u.unit.name for u in full.units] == [
        "LPKA Kelas II Palu", "Lapas Kelas IIA Palu", "Rutan Kelas IIA Palu"]
    palu = report(KALAPAS_PALU).report  # a Kalapas sees their own unit
    assert [u.unit.name for u in palu.units] == ["Lapas Kelas IIA Palu"]
    assert (palu.expected, palu.confirmed) == (5, 2) and not palu.may_withdraw
    assert report(ADMIN).report.expected == 12
    assert report(KALAPAS_RUTAN, None).report.units[0].unit.name == "Rutan Kelas IIA Palu"
    assert report(BUDI).result is read_report.FollowUpResult.NOT_ALLOWED
    assert report(BUDI, None).result is read_report.FollowUpResult.NONE
    assert report(SATGAS, ann.id + 9).result is read_report.FollowUpResult.UNKNOWN
    # The spreadsheet: one row per expected person; a name that looks like a formula is text.
    book = load_workbook(io.BytesIO(readers_xlsx.workbook(full)))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][:3] == ("Unit", "Grup", "Nama") and len(rows) == 13
    names = {r[2] for r in rows[1:]}
    assert "=Tono Formula" in names  # as typed, no apostrophe: a text cell (see below)
    tono = next(r[2] for r in book.active.iter_rows(min_row=2) if r[2].value == "=Tono Formula")
    assert tono.data_type == "s" and tono.quotePrefix
    done = {r[2]: r[5] for r in rows[1:]}
    assert done["Budi Santoso"] == "Sudah membaca" and done["Sari Wulandari"] == "Belum"


def test_recent_lists_rates_for_what_each_person_may_see(world, kw):
    first = _send(world, kw, key="a").announcement
    second = _send(world, kw, key="b", sender=SATGAS_UNIT, scope="unit", media=None,
                   now=NOW + timedelta(hours=1)).announcement
    world.call(lambda s: acknowledge(s, announcement_id=first.id, telegram_user_id=BUDI,
                                         chat_id=PALU_A, now=NOW))
    mine = world.call(lambda s: listing.recent(s, kw, telegram_user_id=SATGAS))
    assert [(i.announcement.id, i.confirmed, i.expected) for i in mine] == [(first.id, 1, 12)]
    everyone = world.call(lambda s: listing.recent(s, kw, telegram_user_id=ADMIN))
    assert [i.announcement.id for i in everyone] == [second.id, first.id]
    rutan = world.call(lambda s: listing.recent(s, kw, telegram_user_id=KALAPAS_RUTAN))
    assert [(i.announcement.id, i.expected) for i in rutan] == [(second.id, 3), (first.id, 3)]
    assert world.call(lambda s: listing.recent(s, kw, telegram_user_id=BUDI)) is None


def test_withdraw_cancels_pending_and_takes_down_the_rest(world, kw):
    ann = _send(world, kw, media=None).announcement
    rows = world.call(lambda s: s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())
    # Two posts delivered long ago, three just now, the rest still queued.
    world.call(lambda s: [outbox.mark_sent(s, r.id, 10 + i, NOW) for i, r in enumerate(rows[:5])])
    world.call(lambda s: [outbox.mark_sent(s, r.id, 10 + i, NOW - timedelta(hours=50))
                          for i, r in enumerate(rows[:2])])
    assert world.call(lambda s: withdrawal.withdraw(s, kw, announcement_id=ann.id,
                                             telegram_user_id=BUDI, now=NOW)).result is \
        withdrawal.WithdrawResult.NOT_ALLOWED
    out = world.call(lambda s: withdrawal.withdraw(s, kw, announcement_id=ann.id,
                                            telegram_user_id=SATGAS, now=NOW))
    assert out.result is withdrawal.WithdrawResult.WITHDRAWN
    assert (out.cancelled, out.removed) == (8, 5)
    after = world.call(lambda s: s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())
    assert [r.state for r in after[:13]] == ["sent"] * 5 + ["failed"] * 8
    down = {r.chat_id: r for r in after[13:]}
    assert {r.method for r in down.values()} == {"deleteMessage", "editMessageText"}
    assert down[rows[0].chat_id].method == "editMessageText"  # older than 48 hours
    assert "ditarik" in down[rows[0].chat_id].payload["text"]
    assert down[rows[0].chat_id].payload["reply_markup"] == {"inline_keyboard": []}
    assert down[rows[4].chat_id].payload == {"ref_outbox_id": rows[4].id}
    assert {r.priority for r in down.values()} == {withdrawal.PRIORITY_WITHDRAW}
    # The record stays; presses are refused politely; a second withdrawal changes nothing.
    assert world.call(lambda s: s.get(Announcement, ann.id).withdrawn_at) == NOW
    assert world.call(lambda s: acknowledge(
        s, announcement_id=ann.id, telegram_user_id=BUDI, chat_id=PALU_A,
        now=NOW)).result is AckResult.WITHDRAWN
    assert world.call(lambda s: withdrawal.withdraw(s, kw, announcement_id=ann.id,
                                             telegram_user_id=ADMIN, now=NOW)).result is \
        withdrawal.WithdrawResult.ALREADY
    assert world.call(lambda s: send_reminders(s, NOW + timedelta(days=1))) == 0
    assert world.call(lambda s: len(s.exec(select(AnnouncementExpected)).all())) == 12
    kinds = world.call(lambda s: s.exec(select(AuditEntry.kind)).all())
    assert kinds.count("announcement.withdrawn") == 1


def test_an_employee_added_later_is_not_expected_but_may_confirm(world, kw):
    ann = _send(world, kw).announcement

    def add(s):
        s.add(Employee(nip="198507252009129999", name="Baru Masuk", role="anggota",
                       unit_id=unit_id(s, "lapas-palu"), telegram_user_id=7777,
                       updated_at=NOW))

    world.call(add)
    assert world.call(lambda s: acknowledge(
        s, announcement_id=ann.id, telegram_user_id=7777, chat_id=PALU_A,
        now=NOW)).result is AckResult.RECORDED
    report = world.call(lambda s: read_report.follow_up(s, kw, telegram_user_id=SATGAS,
                                                announcement_id=ann.id)).report
    assert (report.expected, report.confirmed) == (12, 0)


def test_parse_ack_callback_and_excerpt():
    assert parse_ack_callback("a:12") == 12
    for bad in (None, "", "a:", "a:x", "a:-1", "p:12", "a:1234567890123", "an:12"):
        assert parse_ack_callback(bad) is None
    assert excerpt("<b>Surat</b> &amp; edaran\n<i>baru</i>") == "Surat & edaran baru"
    assert excerpt("x" * 200, 10) == "x" * 9 + "…"
    assert safe_text("Bu\x01di") == "Budi" and safe_text("=1+1") == "=1+1"
    assert formula_like("+62 811") and formula_like("@a") and formula_like("-1")
    assert not formula_like("Budi")


def test_workbook_takes_control_characters_and_formulas():
    """A roster name with a control character (the roster keeps them) used to make openpyxl
    raise, so /dibaca's XLSX never came; the header is styled like /unduh's."""
    unit = Unit(id=1, code="lapas-palu", name="Lapas Palu", timezone="Asia/Makassar",
                kanwil="Kanwil", created_at=NOW)
    people = [Employee(id=1, unit_id=1, nip="1", name="Bu\x01di\x1f", role="anggota"),
              Employee(id=2, unit_id=1, nip="2", name="@Sari", role="anggota")]
    report = read_report.ReadReport(announcement=Announcement(id=1), units=[], sender_name="",
                            rows=[(unit, "Regu A", people[0], NOW), (unit, "-x", people[1], None)])
    sheet = load_workbook(io.BytesIO(readers_xlsx.workbook(report))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert [r[:3] for r in rows[1:]] == [("Lapas Palu", "Regu A", "Budi"),
                                         ("Lapas Palu", "-x", "@Sari")]  # as typed
    assert [(c.data_type, c.quotePrefix) for c in sheet[3][:3]] == [
        ("s", False), ("s", True), ("s", True)]  # text, shown as text, never a formula
    assert rows[1][6] == datetime(2024, 11, 25, 9, 0)  # local time, WITA
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold
    assert sheet.column_dimensions["A"].width == 34


# --- /dibaca too long for one message ------------------------------------------------------------


def test_long_dibaca_report_is_split_at_line_ends():
    now = datetime(2024, 11, 25, 1, 0, tzinfo=UTC)
    ann = Announcement(id=7, text_html="<b>Edaran</b> netralitas", created_at=now)
    reads = []
    for i in range(120):
        unit = Unit(id=i, code=f"u{i}", name=f"Lapas Kelas IIA Nomor {i:03d} <Sulawesi>",
                    timezone="Asia/Makassar", kanwil="K", created_at=now)
        groups = [read_report.GroupRead(i, r, f"Regu {r}", True, expected=5, confirmed=2)
                  for r in range(3)]
        reads.append(read_report.UnitRead(unit, groups))
    report = read_report.ReadReport(ann, reads, "Satgas")
    keyboard = [[outbox.button("XLSX", "ar:x:7")]]
    parts = outbox.fitted("sendMessage", outbox.html_message(
        views.report_text(report), keyboard))
    assert len(parts) > 1
    assert [p.get("reply_markup") for p in parts] == [None] * (len(parts) - 1) + [
        {"inline_keyboard": keyboard}]  # the buttons under the last part
    chunks = [p["text"] for p in parts]
    for chunk in chunks:
        assert visible_length(chunk) <= outbox.TEXT_LIMIT - outbox.RESEND_ROOM
        tags = re.findall(r"</?([a-z]+)[^>]*>", chunk)
        assert "<" not in re.sub(r"</?[a-z]+[^>]*>", "", chunk)  # no tag cut in half
        for tag in set(tags):
            assert chunk.count(f"<{tag}>") == chunk.count(f"</{tag}>"), (tag, chunk[-80:])
    text = "\n".join(chunks)
    assert all(f"Nomor {i:03d} &lt;Sulawesi&gt;" in text for i in range(120))


# --- who sees the announcement commands in their menu --------------------------------------------


def test_announcement_commands_only_in_their_menus():
    table = app.menu_table([announce_handlers])

    def commands(roles):
        return {c["command"] for c in menus.commands_for(table, roles)}

    assert commands(None) == set()  # the default menu every guard sees
    assert commands(frozenset({"anggota", "pegawai"})) == set()
    assert commands(frozenset({"satgas"})) == {"umumkan", "dibaca", "pengumuman", "tarik"}
    assert commands(frozenset({"admin"})) == {"umumkan", "dibaca", "pengumuman", "tarik"}
    assert commands(frozenset({"kalapas", "pegawai"})) == {"dibaca", "pengumuman"}
