"""The weekly digest to the Kalapas: due from Monday at the apel pagi, once per unit and week,
with last week's share, the lowest regu, who missed three or more apel, and the chart."""

from __future__ import annotations

import io
import os
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import col, select

from bot.delivery.models import OutboxMessage
from bot.org.models import Unit
from bot.platform.clock import FakeClock
from bot.platform.config import ReportsConfig
from bot.reports import digest, files
from bot.scheduler import ApelScheduler
from tests.report_factories import add_apel, add_pledge, seed_palu

SEEDED_AT = datetime(2024, 11, 26, 23, 10, tzinfo=UTC)
MONDAY_0700_WITA = datetime(2024, 12, 1, 23, 0, tzinfo=UTC)  # Monday 2 December, 07.00 WITA
WEEK = date(2024, 11, 25)


@pytest.fixture
def on(settings):
    return settings.model_copy(update={"reports": ReportsConfig(weekly_digest=True)})


@pytest.fixture
def week(db, settings):
    """seed_palu, plus Regu D's apel pagi on the 28th (only Budi pledged) and on the 29th
    (all but Sari): Sari missed three apel, Dewi and Rudi two."""
    def seed(s):  # noqa: ANN001, ANN202
        e = seed_palu(s, settings, SEEDED_AT).people
        regu_d = [e[k] for k in ("Hendra", "Budi", "Sari", "Andi", "Dewi", "Rudi", "Eko")]
        a28 = add_apel(s, settings, "lapas-palu", date(2024, 11, 28), "pagi", regu_d)
        add_pledge(s, a28, e["Budi"], 2)
        a29 = add_apel(s, settings, "lapas-palu", date(2024, 11, 29), "pagi", regu_d)
        for person in regu_d:
            if person is not e["Sari"]:
                add_pledge(s, a29, person, 3)
        return s.exec(select(Unit).where(Unit.code == "lapas-palu")).one()

    return db.call(seed)


def palu_due(db, settings, now):  # noqa: ANN001, ANN201
    return [(u.code, w) for u, w in db.read(lambda s: digest.due(s, settings, now))]


def test_due_from_monday_at_the_apel_pagi_once_and_off_by_default(db, settings, on, week):
    assert palu_due(db, settings, MONDAY_0700_WITA) == []  # off unless configured
    assert ("lapas-palu", WEEK) not in palu_due(db, on, MONDAY_0700_WITA.replace(minute=0,
                                                                                   hour=22))
    assert ("lapas-palu", WEEK) in palu_due(db, on, MONDAY_0700_WITA)
    later = on.model_copy(update={"reports": ReportsConfig(weekly_digest=True,
                                                           digest_time=time(9, 0))})
    assert ("lapas-palu", WEEK) not in palu_due(db, later, MONDAY_0700_WITA)
    assert digest.send_due(db, on, MONDAY_0700_WITA) == 2  # the text and the chart
    # Cilacap held no apel that week: nothing to say, all week long
    assert palu_due(db, on, datetime(2024, 12, 2, 5, 0, tzinfo=UTC)) == []
    assert palu_due(db, on, MONDAY_0700_WITA) == []
    assert palu_due(db, on, datetime(2024, 12, 4, 3, 0, tzinfo=UTC)) == []  # Wednesday: sent
    assert digest.send_due(db, on, MONDAY_0700_WITA) == 0


def test_the_digest_says_the_share_the_lowest_regu_and_who_missed_again(db, on, week):
    sched = ApelScheduler(db, on, FakeClock(MONDAY_0700_WITA))
    sched.housekeeping()
    key = digest.key_for(week.id, WEEK)
    assert key == f"digest:{week.id}:2024-W48"
    rows = db.read(lambda s: s.exec(select(OutboxMessage).where(
        col(OutboxMessage.key).startswith(key)).order_by(col(OutboxMessage.id))).all())
    text, chart = rows
    assert text.chat_id == chart.chat_id == week.kalapas_chat_id
    body = text.payload["text"]
    assert "Minggu lalu: 25-11-2024 s.d. 01-12-2024" in body
    # due 7 + 1 + 6 + 7 + 7, pledged 4 + 0 + 1 + 1 + 6; Regu A's briefing never reached it
    assert "Berikrar: <b>43%</b> (12 dari 28 ikrar yang wajib)" in body
    assert "belum berikrar: 10." in body
    assert "Persentase terendah: <b>Regu A</b>, 0%" in body
    assert "Sari Wulandari (NIP" in body and "Regu D): 3 apel" in body
    assert "Dewi Lestari" not in body and "Rudi Hartono" not in body  # two apel: not listed
    assert "Apel tidak terlaksana karena bot tidak aktif: 1." in body
    assert chart.method == "sendPhoto" and "Grafik kepatuhan ikrar" in chart.payload["caption"]
    assert "25-11-2024 s.d. 01-12-2024" in chart.payload["caption"]
    assert sched.send_digests(MONDAY_0700_WITA) == 0


def test_the_digest_chart_is_the_week_chart(db, on, week):
    found = db.read(lambda s: digest.collect(s, week, WEEK))
    rendered = files.render_file(found.job)
    image = Image.open(io.BytesIO(rendered.content))
    assert image.size == (1280, 720) and rendered.method_kind == "photo"
    if out := os.environ.get("APEL_VIEWS_DIR"):  # to look at it: APEL_VIEWS_DIR=/tmp/views
        Path(out, "digest-week.png").write_bytes(rendered.content)
        Path(out, "digest.html").write_text(found.text)
