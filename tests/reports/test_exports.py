"""The /unduh workbook, read back with openpyxl: names that look like formulas, local times."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime

from openpyxl import load_workbook
from sqlmodel import select

from bot.calendar.periods import RANGE, PeriodSpec, Span
from bot.models import Unit
from bot.reports import exports
from tests.factories import Member, seed_crew
from tests.report_factories import add_apel, add_pledge

NOW = datetime(2024, 11, 26, 12, 0, tzinfo=UTC)
DAY = date(2024, 11, 26)
# Sorted by name: the first is written by openpyxl (row 2), the others streamed (rows 3..).
NAMES = ("+62 Satu", '=HYPERLINK("http://evil.example","klik")', "@Dua", "Budi Santoso",
         "Sari Wulandari")


def workbook(db, settings):  # noqa: ANN001, ANN201
    def seed(session):  # noqa: ANN001
        crew = [Member(i, name, "anggota", "Regu D") for i, name in enumerate(NAMES, 1)]
        people = seed_crew(session, settings, NOW, crew)
        apel = add_apel(session, settings, "lapas-palu", DAY, "pagi", list(people.values()))
        add_pledge(session, apel, people["Budi"], 5)
        return session.exec(select(Unit).where(Unit.code == "lapas-palu")).one()

    unit = db.call(seed)
    span = Span(PeriodSpec(RANGE, DAY, DAY), DAY, DAY)
    data = db.call(lambda s: exports.collect(s, unit, span, NOW, "26-11-2024"))
    return exports.render_workbook(data)


def test_formula_like_names_are_text_shown_as_typed(db, settings):
    raw = workbook(db, settings)
    book = load_workbook(io.BytesIO(raw))
    for title, column in (("Rincian", 4), ("Belum Berikrar", 4)):
        cells = [row[column] for row in book[title].iter_rows(min_row=2)]
        expected = [n for n in NAMES if title == "Rincian" or n != "Budi Santoso"]
        assert [c.value for c in cells] == expected  # unchanged: no apostrophe added
        for cell in cells:
            assert cell.data_type == "s"  # a string, never a formula
            assert cell.quotePrefix == (cell.value[0] in "+=@"), (title, cell.coordinate)
    with zipfile.ZipFile(io.BytesIO(raw)) as files:
        sheets = [files.read(n).decode() for n in files.namelist() if "worksheets/" in n]
    assert not any("<f>" in xml for xml in sheets)


def test_local_times_say_their_time_zone(db, settings):
    book = load_workbook(io.BytesIO(workbook(db, settings)))
    assert book["Rincian"]["G1"].value == "Waktu Ikrar (WITA)"
    made = next(r for r in book["Ringkasan"].iter_rows(values_only=True)
                if r[0] and r[0].startswith("Dibuat"))
    assert made[:2] == ("Dibuat (WITA)", datetime(2024, 11, 26, 20, 0))
