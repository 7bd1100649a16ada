"""/unduh: the rekap of one unit as an XLSX workbook.

Sheets: a summary, one row per person (worst first: who misses again and again on top), one
row per expected person per apel, and the non-responders. Indonesian headers
(messages/rekap_xlsx.txt.j2), real dates, frozen header rows, filters, column widths; printed
landscape, fit to the page's width, with the unit, period and printing date in the header.

Every text cell is neutralised against formula injection (bot/platform/xlsx_cells.py), the
streamed rows included.

Speed: openpyxl writes the workbook (styles, summary, header and first row of each big sheet);
the remaining rows of the two big sheets are streamed as sheet XML in the same shape openpyxl
gives the first row (inline strings, the first row's cell styles). A year of one unit (about
90,000 rows) takes about a second instead of the ten that cell-by-cell openpyxl needs.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from sqlmodel import Session

from bot.apel.classification import MISSING, NOT_REACHED, PENDING, STATUSES
from bot.calendar.periods import Span
from bot.org.models import Unit
from bot.platform.config import TIMEZONES
from bot.platform.texts import render
from bot.platform.xlsx_cells import formula_like, header, put, safe_text, table_head
from bot.reports import one_unit, per_person, tally

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_FORMAT = "DD-MM-YYYY"
DATETIME_FORMAT = "DD-MM-YYYY HH:MM"
_EPOCH = date(1899, 12, 30)
_EPOCH_DT = datetime(1899, 12, 30)
DETAIL_WIDTHS = (12, 9, 18, 21, 32, 24, 18, 36)
DETAIL_KINDS = ("date", "text", "text", "text", "text", "text", "datetime", "text")
MISSING_WIDTHS = (12, 9, 18, 21, 32)
MISSING_KINDS = ("date", "text", "text", "text", "text")
SUMMARY_WIDTHS = (30, 12, 13, 12, 11, 11, 15, 13, 16, 12)
PERSON_WIDTHS = (32, 21, 18, 11, 12, 11, 15, 11, 11, 12)


@lru_cache(maxsize=16)
def labels(part: str, zone: str = "") -> tuple[str, ...]:
    """One line of messages/rekap_xlsx.txt.j2 per label; `zone`: 'WITA', for local times."""
    return tuple(line.strip() for line in render("rekap_xlsx", part=part, zone=zone).splitlines()
                 if line.strip())


@lru_cache(maxsize=16)
def status_label(status: str) -> str:
    return render("rekap_status_label", status=status)


@dataclass
class WorkbookData:
    rekap: one_unit.UnitRekap
    regu_names: dict[int | None, str]
    rows: list[tuple]  # one_unit.detail_rows
    people: list[per_person.PersonLine]  # per_person.person_totals: worst first
    generated_at: datetime
    period_label: str


def collect(session: Session, unit: Unit, span: Span, now: datetime,
            period_label: str) -> WorkbookData:
    """Everything the workbook needs, read in one transaction (rendering happens outside)."""
    return WorkbookData(rekap=one_unit.unit_rekap(session, unit, span),
                        regu_names=tally.regu_names(session, [unit.id]),
                        rows=one_unit.detail_rows(session, unit, span),
                        people=per_person.person_totals(session, unit, span), generated_at=now,
                        period_label=period_label)


def filename(unit: Unit, span: Span) -> str:
    return f"rekap-ikrar-{unit.code}-{span.start:%Y%m%d}-{span.end:%Y%m%d}.xlsx"


# --- rows --------------------------------------------------------------------------------------


def _detail_values(data: WorkbookData) -> tuple[list[tuple], list[tuple]]:
    """(detail rows, non-responder rows) as cell values, local times."""
    zone = ZoneInfo(data.rekap.unit.timezone)
    offset = data.generated_at.astimezone(zone).utcoffset() or timedelta(0)  # no DST here
    slots = {s: s.capitalize() for s in ("pagi", "siang", "malam")}
    regu = {k: safe_text(v) for k, v in data.regu_names.items()}
    status = {s: status_label(s) for s in STATUSES}
    notes = dict(zip(("after_deadline", PENDING, NOT_REACHED),
                     labels("notes"), strict=True))
    detail: list[tuple] = []
    missing: list[tuple] = []
    for day, slot, regu_id, nip, name, st, pledged_at, after, reason in data.rows:
        name, nip = safe_text(name), safe_text(nip)
        local = (pledged_at + offset).replace(tzinfo=None) if pledged_at is not None else None
        note = notes["after_deadline"] if after else (
            safe_text(reason) if reason else notes.get(st))
        group = regu.get(regu_id, "?")
        detail.append((day, slots.get(slot, slot), group, nip, name, status[st], local, note))
        if st == MISSING:
            missing.append((day, slots.get(slot, slot), group, nip, name))
    return detail, missing


def _serial(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return repr((value - _EPOCH_DT).total_seconds() / 86400)
    return str((value - _EPOCH).days)


def _style_attr(style_id: int) -> str:
    return f' s="{style_id}"' if style_id else ""


def _rows_xml(rows: Sequence[tuple], first: int, kinds: Sequence[str],
              styles: Sequence[tuple[int, int]]) -> Iterator[str]:
    """Sheet XML for `rows`, numbered from `first`, cells shaped like openpyxl's; `styles`:
    per column, the style id of a cell and of a formula-like text (see `put`)."""
    letters = [get_column_letter(i + 1) for i in range(len(kinds))]
    cols = [(letter, kind, _style_attr(plain), _style_attr(quoted))
            for letter, kind, (plain, quoted) in zip(letters, kinds, styles, strict=True)]
    for r, values in enumerate(rows, first):
        parts = [f'<row r="{r}">']
        for (letter, kind, s, quoted), v in zip(cols, values, strict=True):
            if v is None or v == "":
                continue
            if kind == "text":
                space = ' xml:space="preserve"' if v != v.strip() else ""
                parts.append(f'<c r="{letter}{r}"{quoted if formula_like(v) else s} '
                             f't="inlineStr"><is><t{space}>{escape(v)}</t></is></c>')
            else:
                parts.append(f'<c r="{letter}{r}"{s} t="n"><v>{_serial(v)}</v></c>')
        parts.append("</row>")
        yield "".join(parts)


_DIMENSION = re.compile(r'<dimension ref="[A-Z]+1:([A-Z]+)\d+"\s*/>')


@dataclass
class _Splice:
    """Rows 3.. of a sheet whose header and first row openpyxl wrote."""

    path: str
    rows: Sequence[tuple]
    kinds: Sequence[str]
    styles: Sequence[tuple[int, int]]  # per column: (style id, style id of formula-like text)


def _splice(raw: bytes, splices: Iterable[_Splice]) -> bytes:
    todo = {s.path: s for s in splices if len(s.rows) > 1}
    if not todo:
        return raw
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(
            out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            job = todo.get(info.filename)
            if job is None:
                dst.writestr(info.filename, data)
                continue
            xml = data.decode("utf-8")
            last = len(job.rows) + 1
            xml = _DIMENSION.sub(lambda m, n=last: f'<dimension ref="A1:{m.group(1)}{n}" />',
                                 xml, count=1)
            head, tail = xml.split("</sheetData>", 1)
            with dst.open(info.filename, "w", force_zip64=True) as f:
                f.write(head.encode("utf-8"))
                batch: list[str] = []
                for row in _rows_xml(job.rows[1:], 3, job.kinds, job.styles):
                    batch.append(row)
                    if len(batch) >= 2000:
                        f.write("".join(batch).encode("utf-8"))
                        batch.clear()
                f.write("".join(batch).encode("utf-8"))
                f.write(("</sheetData>" + tail).encode("utf-8"))
    return out.getvalue()


# --- sheets ------------------------------------------------------------------------------------


def _data_sheet(ws, headers: Sequence[str], widths: Sequence[int], kinds: Sequence[str],  # noqa: ANN001
                rows: Sequence[tuple]) -> list[tuple[int, int]]:
    """The sheet with its first row; returns the cell styles of each column for _splice."""
    table_head(ws, headers, widths)
    last = get_column_letter(len(headers))
    ws.auto_filter.ref = f"A1:{last}{max(1, len(rows)) + 1}"
    styles = []
    if rows:  # the first row through openpyxl; _splice streams the others in its shape
        for i, (kind, value) in enumerate(zip(kinds, rows[0], strict=True), 1):
            cell = put(ws, 2, i, value)
            if kind == "date":
                cell.number_format = DATE_FORMAT
            elif kind == "datetime":
                cell.number_format = DATETIME_FORMAT
            styles.append(_style_ids(cell))
    return styles


def _style_ids(cell: Cell) -> tuple[int, int]:
    """(style id of `cell` as a plain cell, with the quote prefix): both registered in the
    workbook, so the streamed rows can use either."""
    shown = cell.quotePrefix
    cell.quotePrefix = False
    plain = cell.style_id
    cell.quotePrefix = True
    quoted = cell.style_id
    cell.quotePrefix = shown
    return plain, quoted


def _tally_row(ws, row: int, name: str, t: tally.Tally, bold: bool = False) -> None:  # noqa: ANN001
    values = [name, t.expected, t.on_time, t.late, t.leave, t.corrected, t.missing,
              t.pending, t.not_reached, t.ratio]
    for i, value in enumerate(values, 1):
        cell = put(ws, row, i, value)
        if bold:
            cell.font = Font(bold=True)
    ws.cell(row=row, column=len(values)).number_format = "0.0%"


def _summary_sheet(ws, data: WorkbookData) -> None:  # noqa: ANN001
    rekap, unit, span = data.rekap, data.rekap.unit, data.rekap.span
    title, l_unit, l_kanwil, l_period, l_from_to, l_made, l_held, l_missed, l_total = labels(
        "summary", zone_name(unit))
    zone = ZoneInfo(unit.timezone)
    put(ws, 1, 1, title).font = Font(bold=True, size=14)
    info = [
        (l_unit, unit.name, None),
        (l_kanwil, unit.kanwil, None),
        (l_period, data.period_label, None),
        (l_from_to, span.start, span.end),
        (l_made, data.generated_at.astimezone(zone).replace(tzinfo=None), None),
        (l_held, rekap.apel_count, None),
        (l_missed, len(rekap.missed), None),
    ]
    for r, (label, value, value2) in enumerate(info, 2):
        put(ws, r, 1, label).font = Font(bold=True)
        cell = put(ws, r, 2, value)
        if isinstance(value, datetime):
            cell.number_format = DATETIME_FORMAT
        elif isinstance(value, date):
            cell.number_format = DATE_FORMAT
        if value2 is not None:
            ws.cell(row=r, column=3, value=value2).number_format = DATE_FORMAT
    head = 2 + len(info) + 1
    header(ws, labels("summary_headers"), SUMMARY_WIDTHS, row=head)
    row = head + 1
    _tally_row(ws, row, l_total, rekap.total, bold=True)
    apel_prefix = labels("apel_prefix")[0]
    for slot, t in rekap.by_slot:
        row += 1
        _tally_row(ws, row, f"{apel_prefix} {slot}", t)
    for name, t in rekap.by_regu:
        row += 1
        _tally_row(ws, row, name, t)
    if rekap.missed:
        row += 2
        put(ws, row, 1, labels("missed_title")[0]).font = Font(bold=True)
        for a in rekap.missed:
            row += 1
            ws.cell(row=row, column=1, value=a.duty_date).number_format = DATE_FORMAT
            put(ws, row, 2, a.slot.capitalize())


def _person_sheet(ws, data: WorkbookData) -> None:  # noqa: ANN001
    """One row per person over the period, worst first, as sorted by per_person.person_totals."""
    table_head(ws, labels("person_headers"), PERSON_WIDTHS)
    admin = data.regu_names.get(None, "")
    for row, p in enumerate(data.people, 2):
        t = p.total
        values = (p.name, p.nip, p.regu or admin, t.expected, t.on_time, t.late, t.missing,
                  t.leave, t.corrected, t.ratio)
        for column, value in enumerate(values, 1):
            put(ws, row, column, value)
        ws.cell(row=row, column=len(values)).number_format = "0.0%"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(PERSON_WIDTHS))}{len(data.people) + 1}"


def print_setup(ws, unit_name: str, period_label: str, *, title_row: bool) -> None:  # noqa: ANN001
    """Landscape A4, fit to the page's width, the unit, period and printing date in the page
    header (and the table's header row on every page)."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    left, centre, right, footer = (line.strip() for line in render(
        "rekap_xlsx", part="print_header", unit=_header_text(unit_name),
        period=_header_text(period_label)).splitlines() if line.strip())
    ws.oddHeader.left.text, ws.oddHeader.center.text, ws.oddHeader.right.text = (
        left, centre, right)
    ws.oddFooter.center.text = footer
    if title_row:
        ws.print_title_rows = "1:1"


def _header_text(value: str) -> str:
    """A value for a page header: & starts a code there (&D, &P), so a literal one is &&."""
    return safe_text(value).replace("&", "&&")


def render_workbook(data: WorkbookData) -> bytes:
    """The XLSX bytes. Pure CPU: call it off the event loop."""
    detail, missing = _detail_values(data)
    wb = Workbook()
    summary_name, person_name, detail_name, missing_name = labels("sheets")
    ws = wb.active
    ws.title = summary_name
    _summary_sheet(ws, data)
    _person_sheet(wb.create_sheet(person_name), data)
    zone = zone_name(data.rekap.unit)
    detail_styles = _data_sheet(wb.create_sheet(detail_name), labels("detail_headers", zone),
                                DETAIL_WIDTHS, DETAIL_KINDS, detail)
    missing_styles = _data_sheet(wb.create_sheet(missing_name), labels("missing_headers"),
                                 MISSING_WIDTHS, MISSING_KINDS, missing)
    for sheet in wb.worksheets:
        print_setup(sheet, data.rekap.unit.name, data.period_label,
                    title_row=sheet is not ws)
    buf = io.BytesIO()
    wb.save(buf)
    return _splice(buf.getvalue(), [
        _Splice("xl/worksheets/sheet3.xml", detail, DETAIL_KINDS, detail_styles),
        _Splice("xl/worksheets/sheet4.xml", missing, MISSING_KINDS, missing_styles),
    ])


def zone_name(unit: Unit) -> str:
    """'WITA': the unit's time zone as Indonesians name it, for headers of local times."""
    return TIMEZONES.get(unit.timezone, unit.timezone)
