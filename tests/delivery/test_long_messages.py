"""Messages longer than Telegram's 4,096 characters: split into valid HTML parts that go out in
order (issue 13, defect 2). The parts are checked with the fake server's own HTML parser."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlmodel import select

from bot.delivery import outbox
from bot.delivery.html_parts import clip_html, split_html, visible_length
from bot.delivery.models import OutboxMessage
from bot.platform.clock import FakeClock
from bot.platform.config import MAX_POINT, MAX_TOPIC
from bot.platform.texts import render
from fake_telegram.limits import MAX_TEXT_LENGTH
from fake_telegram.text import render_text, utf16_len
from tests.factories import KALAPAS, Member, running_bot, seed_crew, utc

REGU_D = -1001000000004
KALAPAS_CILACAP = 5000002
NOW = utc(23, 0)


def plain(html: str) -> str:
    """What Telegram shows, parsed like Telegram does (raises on invalid HTML)."""
    return render_text(html, "HTML")[0]


def words(html: str) -> list[str]:
    return plain(html).split()


# --- the splitter --------------------------------------------------------------------------------


def test_visible_length_counts_like_telegram():
    assert visible_length("<b>Budi</b> &amp; <a href=\"tg://user?id=1\">Sari</a>") == 11
    assert visible_length("😀 &#128512; &#x1F600;") == 8  # outside the BMP: two units each
    assert visible_length("&nbsp;") == 6  # Telegram knows only &lt; &gt; &amp; &quot;
    sample = "<i>Kalapas &lt;Palu&gt;</i> — 😀 ok"
    assert visible_length(sample) == utf16_len(plain(sample))


def test_split_at_line_ends_with_tags_closed_and_reopened():
    lines = [f'• <a href="tg://user?id={i}">Pegawai &amp; Nomor {i:03d}</a>' for i in range(60)]
    source = "<b>Daftar panjang\n" + "\n".join(lines) + "</b>\nSelesai."
    parts = split_html(source, 300)
    assert len(parts) > 3
    for part in parts:
        text, entities = render_text(part, "HTML")  # each part is valid Telegram HTML
        assert utf16_len(text) <= 300
        assert entities[0]["type"] == "bold" or part == parts[-1]  # <b> reopened in each part
        assert not part.startswith("\n") and not part.endswith("\n")
    # Every line whole, in order, nothing lost or repeated.
    assert [line for p in parts for line in plain(p).split("\n")] == plain(source).split("\n")
    assert all(p.count("<a ") == p.count("</a>") for p in parts)


def test_a_line_longer_than_the_limit_is_cut_at_spaces_then_anywhere():
    sentence = " ".join(f"kata{i}😀" for i in range(80))  # one line, emoji: two units each
    parts = split_html(f"<i>{sentence}</i>", 100)
    assert len(parts) > 5
    assert all(utf16_len(plain(p)) <= 100 for p in parts)
    assert [w for p in parts for w in words(p)] == sentence.split()  # cut between words only
    assert all(p.startswith("<i>") and p.endswith("</i>") for p in parts)

    word = "&amp;" + "x" * 250 + "😀" * 30  # no space at all: cut anywhere but inside an entity
    parts = split_html(f"<b>{word}</b>", 100)
    assert all(utf16_len(plain(p)) <= 100 for p in parts)
    assert "".join(plain(p) for p in parts) == plain(word)
    assert parts[0].startswith("<b>&amp;x")


def test_a_text_that_fits_is_left_alone_and_clip_keeps_the_start():
    short = "<b>Laporan</b>\n" + "• nama\n" * 10
    assert split_html(short, 4096) == [short]
    clipped = clip_html("<b>" + "baris panjang\n" * 100 + "</b>", 50)
    assert utf16_len(plain(clipped)) <= 50 and clipped.endswith("</b>…")


# --- the outbox --------------------------------------------------------------------------------


def long_list(n: int = 200) -> str:
    return "<b>Belum berikrar:</b>\n" + "\n".join(
        f"• Pegawai Pemasyarakatan Nomor {i:03d} (NIP 19850725200912{i:04d})" for i in range(n))


def test_a_long_message_is_queued_as_parts_in_order_buttons_on_the_last(db):
    keyboard = [[outbox.button("Unduh", "q:unduh:1:today")]]
    first = db.call(lambda s: outbox.send_message(
        s, key="reply:7", chat_id=KALAPAS, text=long_list(), keyboard=keyboard, now=NOW,
        priority=outbox.PRIORITY_REPLY).id)
    rows = db.call(lambda s: s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())
    assert len(rows) == 4 and rows[0].id == first
    assert [r.key for r in rows] == ["reply:7", "reply:7:2", "reply:7:3", "reply:7:4"]
    for row in rows:
        assert utf16_len(plain(row.payload["text"])) <= MAX_TEXT_LENGTH - outbox.RESEND_ROOM
    assert [r.payload.get("reply_markup") for r in rows] == [None, None, None,
                                                             {"inline_keyboard": keyboard}]
    numbers = [int(n) for r in rows for n in re.findall(r"Nomor (\d+)", plain(r.payload["text"]))]
    assert numbers == list(range(200))
    # Queued again under the same key: nothing new.
    again = db.call(lambda s: outbox.send_message(s, key="reply:7", chat_id=KALAPAS,
                                                  text=long_list(), now=NOW).id)
    assert again == first and db.call(lambda s: len(s.exec(select(OutboxMessage)).all())) == 4


def test_a_later_part_waits_for_the_part_before(db):
    db.call(lambda s: outbox.send_message(s, key="r", chat_id=KALAPAS, text=long_list(), now=NOW))
    ids = db.call(lambda s: [r.id for r in s.exec(select(OutboxMessage).order_by(
        OutboxMessage.id))])
    other, elsewhere = db.call(lambda s: [outbox.send_message(
        s, key=f"x:{chat}", chat_id=chat, text="pesan lain", now=NOW,
        priority=outbox.PRIORITY_REPLY).id for chat in (KALAPAS, REGU_D)])

    def due() -> list[int]:
        return db.call(lambda s: sorted(d.id for d in outbox.due(s, NOW, 50)))

    # Parts 2.. wait; so does another message to that chat (the parts read as one), not others.
    assert due() == [ids[0], elsewhere]
    db.call(lambda s: outbox.mark_sent(s, elsewhere, 10, NOW))
    db.call(lambda s: outbox.mark_sending(s, ids[0], 0))
    assert due() == []  # part 1 in flight: part 2 still waits
    db.call(lambda s: outbox.mark_retry(s, ids[0], error="502", at=NOW))  # part 1 retried
    assert due() == ids[:1]
    db.call(lambda s: outbox.mark_sent(s, ids[0], 11, NOW))
    assert due() == ids[1:2]
    db.call(lambda s: outbox.mark_failed(s, ids[1], error="bad request", now=NOW))
    assert due() == ids[2:3]  # a part that failed holds nothing back
    for row_id in ids[2:]:
        db.call(lambda s, i=row_id: outbox.mark_sent(s, i, 12, NOW))
    assert due() == [other]  # the whole message is out: the chat is free again


def test_an_edit_or_caption_too_long_is_clipped():
    [edit] = outbox.fitted("editMessageText", {"text": long_list(), "message_id": 5})
    assert utf16_len(plain(edit["text"])) <= MAX_TEXT_LENGTH and edit["text"].endswith("…")
    [photo] = outbox.fitted("sendPhoto", {"photo": "x", "caption": long_list()})
    assert utf16_len(plain(photo["caption"])) <= 1024 - outbox.RESEND_ROOM


def test_the_longest_briefing_the_config_allows_fits_one_message():
    """The tally edits the briefing, and an edit cannot be split: it must fit one message."""
    apel = SimpleNamespace(slot="malam", duty_date=NOW.date(), scheduled_at=NOW,
                           deadline_at=NOW + timedelta(minutes=30))
    text = render("briefing", unit=SimpleNamespace(name="U" * 120, timezone="Asia/Jayapura"),
                  apel=apel, period=SimpleNamespace(name="P" * 120,
                                                    pledge_points=["&" * MAX_POINT] * 4),
                  topic="😀" * MAX_TOPIC, tally=(99999, 99999))
    assert visible_length(text) > 3000 and outbox.fits_one_message(text)


def test_the_resend_marker_fits_in_the_room_left_for_it():
    assert visible_length(render("resend_marker")) + 2 <= outbox.RESEND_ROOM


# --- end to end: 155 people in one regu, 3 pledged ------------------------------------------------

CROWD = 155
PLEDGERS = (3001, 3002, 3003)


def crowd() -> list[Member]:
    """Regu D of Lapas Palu, 155 strong, every one with a Telegram account (so mentioned)."""
    return [Member(i, f"Pegawai Pemasyarakatan Nomor {i:03d}", "anggota", "Regu D", 3000 + i)
            for i in range(1, CROWD + 1)]


@pytest.mark.e2e
async def test_the_report_and_the_nudge_for_152_missing_arrive_in_full(db, settings):
    clock = FakeClock(utc(22, 0))  # 06.00 WITA on the 26th: Regu D stands apel pagi
    db.call(lambda s: seed_crew(s, settings, clock.now(), crowd()))
    users = [(KALAPAS, "Kalapas Palu"), (KALAPAS_CILACAP, "Kalapas Cilacap"),
             *((uid, f"Pegawai {uid}") for uid in PLEDGERS)]
    async with running_bot(settings, db, clock, users,
                           start=(KALAPAS, KALAPAS_CILACAP)) as bot:
        server = bot.server
        clock.set(utc(23, 0, 20))
        assert (await bot.reconcile()).opened == 1
        briefing = await server.wait_for_message(REGU_D, "APEL PAGI")
        for uid in PLEDGERS:
            server.press(uid, REGU_D, briefing.message_id, briefing.button_data("Saya berikrar"))
        await server.wait_for(lambda: len(server.callback_answers) == len(PLEDGERS))
        clock.set(utc(23, 30, 5))  # the deadline
        assert (await bot.reconcile()).closed == 1
        await bot.settle()

        missing = [f"Pegawai Pemasyarakatan Nomor {i:03d}" for i in range(4, CROWD + 1)]
        texts = [m.text for m in server.messages(KALAPAS)]
        start = next((i for i, t in enumerate(texts) if "Laporan Ikrar" in t), None)
        assert start is not None, "the Kalapas got no report"
        report = server.messages(KALAPAS)[start:start + 3]  # one after the other
        assert "Pegawai yang belum berikrar telah diingatkan" in report[-1].text
        assert all(utf16_len(m.text) <= MAX_TEXT_LENGTH for m in report)
        shown = "\n".join(m.text for m in report)
        assert "Belum berikrar: 152" in shown
        assert re.findall(r"Pegawai Pemasyarakatan Nomor \d+", shown) == missing  # in order

        nudge = [m for m in server.messages(REGU_D) if m.message_id > briefing.message_id]
        assert len(nudge) >= 2 and "Pengingat ikrar" in nudge[0].text
        assert all(utf16_len(m.text) <= MAX_TEXT_LENGTH for m in nudge)
        mentioned = [e["url"] for m in nudge for e in m.entities if e["type"] == "text_link"]
        assert mentioned == [f"tg://user?id={3000 + i}" for i in range(4, CROWD + 1)]
        assert "Saya berikrar" in nudge[-1].text  # the closing request, in the last part
        failed = db.call(lambda s: s.exec(select(OutboxMessage.key).where(
            OutboxMessage.state == "failed")).all())
        assert failed == []

