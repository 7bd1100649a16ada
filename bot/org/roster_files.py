"""Untrusted CSV / XLSX uploads -> numbered rows of cells, or one clear message why not.

The one reader behind every import (roster, leave): size and row caps, UTF-8 only for CSV,
zip-bomb checks before openpyxl sees an XLSX, and XML entity attacks refused through defusedxml.
Cell values are handed on as found (str from CSV; str, int, float, datetime, ... from XLSX):
turning them into NIPs, dates and ids is the caller's job, because only it knows the column.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

MAX_FILE_BYTES = 5 * 1024 * 1024  # a roster of 20,000 people is well under 2 MB
MAX_ROWS = 20_000  # data rows, header not counted
# XLSX is a zip: what it may unpack to, and how well any one member may compress.
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100  # real sheets compress 5-30x; zeros compress ~1000x
RATIO_CHECK_MIN_BYTES = 1024 * 1024  # tiny members may compress as they like
MAX_ZIP_MEMBERS = 1_000
MAX_COLUMNS = 50  # header cells looked at

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .xls, or an encrypted .xlsx

Cell = str | int | float | bool | date | datetime | None


class RowError(NamedTuple):
    """A problem at one line of the file (line 0: the file as a whole)."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class FileError(Exception):
    """The file as a whole cannot be read; the message is for the operator."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line

    def as_row_error(self) -> RowError:
        return RowError(self.line, str(self))


@dataclass(frozen=True)
class FileLimits:
    max_bytes: int = MAX_FILE_BYTES
    max_rows: int = MAX_ROWS
    max_unzipped_bytes: int = MAX_UNZIPPED_BYTES
    max_compression_ratio: float = MAX_COMPRESSION_RATIO
    max_zip_members: int = MAX_ZIP_MEMBERS


DEFAULT_LIMITS = FileLimits()


@dataclass
class Table:
    """Data rows as (line number in the file, {column: cell}); blank rows already dropped."""

    kind: str  # "csv" | "xlsx"
    rows: list[tuple[int, dict[str, Cell]]] = field(default_factory=list)
    # Rows the reader could already tell are broken (e.g. more cells than the header).
    problems: list[RowError] = field(default_factory=list)


def read_upload(path: str | Path, limits: FileLimits = DEFAULT_LIMITS) -> bytes:
    """The bytes of a file on disk, refusing before reading if it is over the size cap."""
    p = Path(path)
    if not p.is_file():
        raise FileError(f"file not found: {p}")
    size = p.stat().st_size
    if size > limits.max_bytes:
        raise FileError(_too_big(size, limits))
    with p.open("rb") as fh:
        data = fh.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:  # it grew while we looked
        raise FileError(_too_big(len(data), limits))
    return data


def _too_big(size: int, limits: FileLimits) -> str:
    return (f"the file is {size:,} bytes; the limit is {limits.max_bytes:,} bytes "
            f"({limits.max_bytes // (1024 * 1024)} MB). Split it, e.g. one file per unit")


def header_key(name: object) -> str:
    """'  NIP ' -> 'nip'; 'Telegram ID' -> 'telegram_id'."""
    text = "" if name is None else str(name)
    return re.sub(r"[\s_]+", "_", text.replace("\ufeff", "").strip().lower())


def read_table(data: bytes, filename: str, columns: Sequence[str], *,
               optional: Sequence[str] = (), aliases: Mapping[str, str] | None = None,
               limits: FileLimits = DEFAULT_LIMITS) -> Table:
    """Parse a CSV or XLSX upload (told apart by content, not by name).

    `columns` must all be present, `optional` may be; other columns are ignored. `aliases`
    maps another header name to one of those (e.g. role -> jabatan). Raises FileError.
    """
    if len(data) > limits.max_bytes:
        raise FileError(_too_big(len(data), limits))
    if not data.strip():
        raise FileError("the file is empty")
    name = filename.lower()
    if data.startswith(ZIP_MAGIC):
        kind, raw_rows = "xlsx", _xlsx_rows(data, limits)
    elif data.startswith(OLE_MAGIC):
        raise FileError("this is an old Excel .xls file or a password-protected workbook; "
                        "save it as .xlsx without a password, or as CSV UTF-8")
    elif name.endswith((".xlsx", ".xlsm")):
        raise FileError(f"{filename} is named like an XLSX workbook but is not one "
                        "(an XLSX file is a zip archive); save it again from Excel")
    else:
        kind, raw_rows = "csv", _csv_rows(data)
    return _tabulate(kind, raw_rows, columns, optional, aliases or {}, limits)


def _tabulate(kind: str, raw_rows: Iterable[tuple[int, list[Cell]]], columns: Sequence[str],
              optional: Sequence[str], aliases: Mapping[str, str],
              limits: FileLimits) -> Table:
    table = Table(kind)
    wanted = [*columns, *optional]
    index: dict[str, int] | None = None
    width = 0
    for records, (line, cells) in enumerate(raw_rows, start=1):
        if records > 2 * limits.max_rows + 1000:  # blank rows count here: they cost time too
            raise FileError(f"the file has more than {limits.max_rows:,} rows", line)
        if _blank(cells):
            continue
        if index is None:
            index = _header_index(line, cells, columns, wanted, aliases)
            width = len(cells)
            continue
        if len(table.rows) >= limits.max_rows:
            raise FileError(f"the file has more than {limits.max_rows:,} data rows; "
                            "split it, e.g. one file per unit", line)
        extra = [c for c in cells[width:] if not _empty(c)]
        if extra:
            table.problems.append(RowError(line, (
                f"has {width + len(extra)} or more cells but the header has {width}; "
                "a value containing the separator (e.g. a comma in 'Budi, S.H.') "
                "must be in double quotes")))
            continue
        table.rows.append((line, {
            col: (cells[i] if i < len(cells) else None) for col, i in index.items()}))
    if index is None:
        raise FileError("the file has no header row; the first row must name the columns: "
                        + ", ".join(columns))
    return table


def _header_index(line: int, cells: list[Cell], columns: Sequence[str], wanted: Sequence[str],
                  aliases: Mapping[str, str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, cell in enumerate(cells[:MAX_COLUMNS]):
        key = header_key(cell)
        key = aliases.get(key, key)
        if key not in wanted:
            continue
        if key in index:
            raise FileError(f"column {key!r} appears twice in the header", line)
        index[key] = i
    missing = [c for c in columns if c not in index]
    if missing:
        found = ", ".join(repr(header_key(c)) for c in cells if not _empty(c)) or "nothing"
        alias_note = "".join(f" ({a!r} is accepted for {c!r})" for a, c in aliases.items()
                             if c in missing)
        raise FileError(
            f"missing required column(s): {', '.join(missing)}{alias_note}; "
            f"the header row has {found}", line)
    return index


def _empty(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _blank(cells: Sequence[Cell]) -> bool:
    return all(_empty(c) for c in cells)


# ---- CSV -----------------------------------------------------------------------------------

def _decode(data: bytes) -> str:
    if b"\x00" in data:
        raise FileError("this is not a CSV text file (it contains NUL bytes; UTF-16 text or "
                        "a binary file?); save it as 'CSV UTF-8' or .xlsx")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise FileError(
            f"the file is not UTF-8 text (byte 0x{data[err.start]:02x} at line {line}); "
            "in Excel use Save As > 'CSV UTF-8 (Comma delimited)', or upload the .xlsx"
        ) from None


def _delimiter(text: str) -> str:
    """Indonesian Excel writes ';' (the comma is the decimal mark there); some tools tab."""
    for line in text.splitlines():
        if line.strip():
            counts = {d: line.count(d) for d in (",", ";", "\t")}
            best = max(counts, key=lambda d: counts[d])
            return best if counts[best] else ","
    return ","


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[Cell]]]:
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    last = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise FileError(f"the CSV is malformed: {err}", reader.line_num) from None
        start, last = last + 1, reader.line_num
        yield start, [c.strip() for c in cells]


# ---- XLSX ----------------------------------------------------------------------------------

def check_zip(data: bytes, limits: FileLimits = DEFAULT_LIMITS) -> None:
    """Refuse zip bombs and non-workbooks before openpyxl opens anything.

    zipfile never unpacks a member past the size its directory declares (it truncates and
    then fails the CRC), so checking the declared sizes bounds what openpyxl can unpack.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise FileError("the XLSX file is damaged (not a readable zip archive)") from None
    if len(infos) > limits.max_zip_members:
        raise FileError(f"the XLSX file holds {len(infos):,} parts (limit "
                        f"{limits.max_zip_members:,}); refused as unsafe")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise FileError("the XLSX file is encrypted; save it without a password")
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_CHECK_MIN_BYTES and ratio > limits.max_compression_ratio:
            raise FileError(
                f"the XLSX file looks like a zip bomb: part {info.filename!r} unpacks to "
                f"{info.file_size:,} bytes from {info.compress_size:,} ({ratio:,.0f}x; "
                f"limit {limits.max_compression_ratio:,.0f}x); refused")
        if total > limits.max_unzipped_bytes:
            raise FileError(
                f"the XLSX file unpacks to more than {limits.max_unzipped_bytes:,} bytes "
                "(possible zip bomb); refused. Split the workbook or save it as CSV")
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names:
        hint = " (an OpenDocument .ods file?)" if "content.xml" in names else ""
        raise FileError(f"this zip file is not an XLSX workbook{hint}; "
                        "save it from the spreadsheet program as .xlsx or CSV UTF-8")


def _xlsx_rows(data: bytes, limits: FileLimits) -> Iterator[tuple[int, list[Cell]]]:
    check_zip(data, limits)
    import openpyxl  # heavy; only when an XLSX arrives

    if not openpyxl.DEFUSEDXML:
        raise RuntimeError("openpyxl is not using defusedxml (is OPENPYXL_DEFUSEDXML set to "
                           "False?); refusing to parse untrusted XLSX")
    # Twice: the values a spreadsheet program saved, and what was typed (to tell a formula
    # whose result was never saved, as files written by scripts have, from an empty cell).
    values_wb = _open_workbook(data, data_only=True)
    typed_wb = None
    try:
        typed_wb = _open_workbook(data, data_only=False)
        if not values_wb.worksheets:
            raise FileError("the XLSX workbook has no worksheet")
        saved = values_wb.worksheets[0].iter_rows(max_col=MAX_COLUMNS)
        typed = typed_wb.worksheets[0].iter_rows(values_only=True, max_col=MAX_COLUMNS)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for line, (cells, typed_row) in enumerate(zip(saved, typed, strict=True),
                                                          start=1):
                    _refuse_unsaved_formulas(line, cells, typed_row)
                    yield line, [_xlsx_cell(cell.value) for cell in cells]
        except FileError:
            raise
        except Exception as err:
            raise _unreadable(err, "worksheet") from None
    finally:
        values_wb.close()
        if typed_wb is not None:
            typed_wb.close()


def _open_workbook(data: bytes, *, data_only: bool) -> Any:
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no default style" and such, from any exporter
            return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=data_only)
    except Exception as err:  # any parser failure on untrusted input is "bad file"
        raise _unreadable(err, "file") from None


def _refuse_unsaved_formulas(line: int, cells: tuple, typed_row: tuple) -> None:
    """A formula whose result was never saved reads as empty: say so, rather than "nama is
    empty". Spreadsheet programs save every result, an empty text as an empty string cell
    (t="str"); a script that writes formulas saves none, so the cell keeps the numeric type
    with no number."""
    for column, (cell, typed) in enumerate(zip(cells, typed_row, strict=False), start=1):
        formula = typed if isinstance(typed, str) else getattr(typed, "text", None)
        if cell.value is None and cell.data_type == "n" and isinstance(formula, str) \
                and formula.startswith("="):
            from openpyxl.utils import get_column_letter

            raise FileError(
                f"cell {get_column_letter(column)}{line} holds the formula {formula[:60]!r} "
                "with no saved result (the file was written by a program that does not "
                "compute formulas); open it in a spreadsheet program and save it again, "
                "or save it as CSV UTF-8", line)


def _unreadable(err: BaseException, what: str) -> FileError:
    """openpyxl wraps parser errors in its own ValueError; look down the chain for defusedxml."""
    from defusedxml import DefusedXmlException

    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, DefusedXmlException):
            return FileError(_XML_REFUSED)
        cause = cause.__cause__ or cause.__context__
    first_line = str(err).splitlines()[0] if str(err) else ""
    return FileError(f"the XLSX {what} cannot be read ({type(err).__name__}: {first_line})")


_XML_REFUSED = ("the XLSX file contains XML entity or DTD declarations, which spreadsheets never "
                "need (an XML bomb?); refused as unsafe")


def _xlsx_cell(value: Any) -> Cell:
    if isinstance(value, str):
        return value.strip()
    if value is None or isinstance(value, int | float | bool | date | datetime):
        return value
    return str(value)  # time, timedelta, error strings: the caller reports them as text
