"""The /unduh workbook, read back with openpyxl: names that look like formulas, local times."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime

from openpyxl import load_workbook
from sqlmodel import select

from bot.calendar.periods import RANGE, PeriodSpec, Span
from bot.org.models import Unit
from bot.reports import exports
from tests.factories import Member, seed_crew
from tests.report_factories import add_apel, add_pledge, seed_palu

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


def palu_workbook(db, settings):  # noqa: ANN001, ANN201
    db.call(lambda s: seed_palu(s, settings, NOW))
    unit = db.call(lambda s: s.exec(select(Unit).where(Unit.code == "lapas-palu")).one())
    start, end = date(2024, 11, 25), date(2024, 11, 27)
    span = Span(PeriodSpec(RANGE, start, end), start, end)
    data = db.call(lambda s: exports.collect(s, unit, span, NOW, "25-11-2024 s.d. 27-11-2024"))
    return load_workbook(io.BytesIO(exports.render_workbook(data)))


def test_per_person_sheet_worst_first(db, settings):
    book = palu_workbook(db, settings)
    assert book.sheetnames == ["Ringkasan", "Per Pegawai", "Rincian", "Belum Berikrar"]
    sheet = book["Per Pegawai"]
    assert [c.value for c in sheet[1]] == [
        "Nama", "NIP", "Regu", "Apel Wajib", "Tepat Waktu", "Terlambat", "Belum Berikrar",
        "Cuti/Izin", "Dikoreksi", "Persentase Ikrar"]
    rows = {r[0]: r[2:] for r in sheet.iter_rows(min_row=2, values_only=True)}
    # missed the 26th, pending on the 27th: 0 of 2 due; Agus never reached: 0 of 1, none missing
    assert list(rows) == ["Dewi Lestari", "Rudi Hartono", "Sari Wulandari", "Agus Salim",
                          "Andi Pratama", "Hendra Gunawan", "Budi Santoso", "Rina Marlina",
                          "Eko Saputra"]  # on leave throughout: nothing due, last
    assert rows["Sari Wulandari"] == ("Regu D", 2, 0, 0, 1, 0, 0, 0)
    assert rows["Andi Pratama"] == ("Regu D", 2, 0, 1, 0, 0, 0, 0.5)
    assert rows["Rina Marlina"] == ("Staf administrasi", 1, 1, 0, 0, 0, 0, 1)
    assert rows["Eko Saputra"] == ("Regu D", 2, 0, 0, 0, 2, 0, None)
    assert sheet["J2"].number_format == "0.0%" and sheet.freeze_panes == "A2"


def test_every_sheet_prints_landscape_fit_to_width_with_a_header(db, settings):
    book = palu_workbook(db, settings)
    for sheet in book.worksheets:
        setup = sheet.page_setup
        assert (setup.orientation, setup.fitToWidth, setup.fitToHeight) == ("landscape", 1, 0)
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        head = sheet.oddHeader
        assert head.left.text == "Lapas Kelas IIA Palu"
        assert head.center.text == "25-11-2024 s.d. 27-11-2024"
        assert head.right.text == "Dicetak &D"  # the printing date, filled in by the printer
        assert (sheet.print_title_rows == "$1:$1") == (sheet.title != "Ringkasan")
    assert exports._header_text("Lapas A&B") == "Lapas A&&B"
