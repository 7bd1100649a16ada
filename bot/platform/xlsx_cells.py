"""Cells of an XLSX sheet that are safe to open: text stays text, never a formula.

Every text cell is a string cell; a value that begins with = + - @ (or a tab or carriage
return) gets the quote-prefix cell style, so a name like `=HYPERLINK(...)` from a roster file
shows exactly as typed (no apostrophe) and stays text even when the cell is edited. Shared by
every workbook the bot sends (/unduh, the readers of an announcement).
"""

from __future__ import annotations

from collections.abc import Sequence

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F4E78")


def safe_text(value: str) -> str:
    """`value` without the control characters an XLSX cannot hold (openpyxl refuses them)."""
    return ILLEGAL_CHARACTERS_RE.sub("", value)


def formula_like(value: str) -> bool:
    """Would spreadsheet software read this as a formula if it were typed in?"""
    return value.startswith(DANGEROUS_PREFIXES)


def put(ws, row: int, column: int, value: object) -> Cell:  # noqa: ANN001
    """Write one cell. Text is a string cell, never a formula; text that looks like one gets
    the quote-prefix style: shown as typed, kept as text when someone edits the cell."""
    if not isinstance(value, str):
        return ws.cell(row=row, column=column, value=value)
    cell = ws.cell(row=row, column=column)
    cell.value = safe_text(value)
    cell.data_type = "s"  # openpyxl takes a string starting with "=" for a formula
    if formula_like(cell.value):
        cell.quotePrefix = True
    return cell


def header(ws, headers: Sequence[str], widths: Sequence[int], row: int = 1) -> None:  # noqa: ANN001
    """A styled header row (white bold on dark blue, neutralised text) and the column widths."""
    for i, (text, width) in enumerate(zip(headers, widths, strict=True), 1):
        cell = put(ws, row, i, text)
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(i)].width = width


def table_head(ws, headers: Sequence[str], widths: Sequence[int]) -> None:  # noqa: ANN001
    """The header of a one-table sheet: styled, column widths set, frozen while scrolling."""
    header(ws, headers, widths)
    ws.freeze_panes = "A2"
