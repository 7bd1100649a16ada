"""The readers of an announcement as a spreadsheet (the XLSX button under /dibaca)."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

from bot.announcements.read_report import ReadReport
from bot.delivery import outbox
from bot.platform.texts import render
from bot.platform.xlsx_cells import put, table_head

XLSX_WIDTHS = (34, 20, 30, 20, 12, 10, 20)


def workbook(report: ReadReport) -> bytes:
    """The confirmations as XLSX: one row per expected person. CPU work: run it off the loop.
    Cells go through xlsx_cells.put (text stays text, never a formula)."""
    from openpyxl import Workbook

    def label(key: str) -> str:
        return render("announce_xlsx_label", key=key)

    book = Workbook()
    sheet = book.active
    sheet.title = label("sheet")[:31]
    table_head(sheet, [label(k) for k in ("unit", "group", "name", "nip", "role", "status",
                                          "at")], XLSX_WIDTHS)
    for row, (unit, group, employee, at) in enumerate(report.rows, 2):
        local = at.astimezone(ZoneInfo(unit.timezone)).replace(tzinfo=None) if at else None
        for column, value in enumerate((unit.name, group, employee.name, employee.nip,
                                        employee.role, label("yes") if at else label("no"),
                                        local), 1):
            put(sheet, row, column, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def document(report: ReadReport) -> dict:
    """The workbook as a sendDocument payload, named by the announcement, with its caption."""
    return outbox.document_payload(f"konfirmasi-pengumuman-{report.announcement.id}.xlsx",
                                   workbook(report),
                                   render("announce_xlsx_caption", report=report))
