"""Rows of a roster or leave upload: the jabatan vocabulary, cell parsing, the import's result.

Shared by the roster import (bot/org/roster.py) and the leave import
(bot/unit_admin/leave_import.py): each cell of a row comes back as (value, None) or
(None, message), never half-read; the result counts what an import added, updated or found
wrong. Messages are English, for the operator.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from types import MappingProxyType
from typing import Any, Final

from sqlmodel import Session, select

from bot.org.models import Employee
from bot.org.roster_files import Cell, FileError, FileLimits, RowError, read_table
from bot.platform.clock import Clock

__all__ = [
    "ROLES",
    "ROLE_SYNONYMS",
    "ImportResult",
    "RowError",
    "Rows",
    "canonical_role",
]

# Every jabatan the roster accepts (lower case, single spaces) -> the value stored in
# Employee.role. The canonical values map to themselves; everything else is a synonym.
ROLE_SYNONYMS: Final[Mapping[str, str]] = MappingProxyType({
    "anggota": "anggota",
    "penjaga": "anggota",
    "petugas": "anggota",
    "petugas pengamanan": "anggota",
    "anggota regu": "anggota",
    "karupam": "karupam",
    "kepala regu": "karupam",
    "kepala regu pengamanan": "karupam",
    "kplp": "kplp",
    "ka. kplp": "kplp",
    "kepala kplp": "kplp",
    "kalapas": "kalapas",
    "kepala lapas": "kalapas",
    "karutan": "kalapas",
    "kepala rutan": "kalapas",
    "kepala lpka": "kalapas",
    "ka. lpka": "kalapas",
    "staf": "staf",
    "staff": "staf",
    "administrasi": "staf",
    "staf administrasi": "staf",
})
ROLES: Final = frozenset(ROLE_SYNONYMS.values())

TELEGRAM_ID_MAX = 2**63 - 1  # BIGINT
EARLIEST_YEAR, LATEST_YEAR = 2000, 2099  # a leave outside is a typo
_IN_CHUNK = 500  # ids per IN (...) query: well inside SQLite's and PostgreSQL's limits

Rows = Iterable[tuple[int, Mapping[str, Cell]]]


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    deactivated: int = 0
    unchanged: int = 0
    reactivated: int = 0  # part of `updated`
    errors: list[RowError] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # one line per planned change
    dry_run: bool = False
    kind: str = "roster"  # "roster" | "leave" (leave never deactivates anything)
    # Ids written (Employee for a roster, Leave for leave), for the audit trail (bot/audit).
    new_ids: list[int] = field(default_factory=list)
    changed_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if self.errors:
            return (f"{len(self.errors)} problem(s) found; nothing was written. "
                    "Fix the file and import it again.")
        updated = f"{self.updated} updated"
        if self.reactivated:
            updated += f" ({self.reactivated} reactivated)"
        deactivated = f"{self.deactivated} deactivated, " if self.kind == "roster" else ""
        text = f"{self.added} added, {updated}, {deactivated}{self.unchanged} unchanged"
        return text + (" (dry run: nothing written)" if self.dry_run else "")


def canonical_role(value: str) -> str | None:
    """'Kepala LPKA' -> 'kalapas'; None if not a jabatan the roster knows."""
    return ROLE_SYNONYMS.get(" ".join(value.lower().split()))


# ---- cell conversion ------------------------------------------------------------------------

def cell_text(cell: Cell) -> str:
    """A cell as single-spaced text; whole floats lose their '.0' (regu 1.0 -> '1')."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime | date):
        return cell.isoformat()
    return " ".join(str(cell).split())


_SCIENTIFIC = re.compile(r"^[0-9](?:[.,][0-9]+)?e\+?[0-9]+$", re.IGNORECASE)
_NUMBER_HINT = ("format the nip column as Text and type the NIPs again "
                "(a number keeps only 15 digits, an 18-digit NIP loses its last ones)")


def parse_nip(cell: Cell) -> tuple[str | None, str | None]:
    """(nip, None) or (None, message). Never passes a NIP through float."""
    if isinstance(cell, bool) or isinstance(cell, int | float):
        return None, f"nip {cell!r} is stored as a number in the spreadsheet; {_NUMBER_HINT}"
    if isinstance(cell, datetime | date):
        return None, f"nip is a date ({cell.isoformat()}), not an 18-digit number"
    raw = "" if cell is None else str(cell).strip()
    nip = re.sub(r"\s+", "", raw.removeprefix("'"))  # '19850725 200912 1 001' is common
    if not nip:
        return None, "nip is empty"
    if _SCIENTIFIC.match(nip):
        return None, f"nip {raw!r} was saved as a number and has lost digits; {_NUMBER_HINT}"
    if not re.fullmatch(r"[0-9]{18}", nip):
        return None, f"nip {raw!r} must be exactly 18 digits"
    return nip, None


def parse_telegram_id(cell: Cell) -> tuple[int | None, str | None]:
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None, None
    value: int | None = None
    if isinstance(cell, bool):
        value = None
    elif isinstance(cell, int):
        value = cell
    elif isinstance(cell, float):
        # Exact only below 2**53; Telegram ids are far below that today.
        if cell.is_integer() and abs(cell) < 2**53:
            value = int(cell)
    elif isinstance(cell, str):
        m = re.fullmatch(r"'?\s*([0-9]+)(?:\.0+)?", cell.strip())
        if m:
            value = int(m.group(1))
    if value is None or not 0 < value <= TELEGRAM_ID_MAX:
        return None, f"telegram_id {cell_text(cell)!r} must be a positive whole number (or empty)"
    return value, None


_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[ T]00:00(?::00)?)?")
_DMY_DATE = re.compile(r"([0-9]{1,2})([-/.])([0-9]{1,2})\2([0-9]{4})")


def parse_date(column: str, cell: Cell) -> tuple[date | None, str | None]:
    when: date | None = None
    if isinstance(cell, datetime):
        if cell.time() != time(0):
            return None, f"{column} {cell.isoformat(sep=' ')} has a time of day; give a date"
        when = cell.date()
    elif isinstance(cell, date):
        when = cell
    elif isinstance(cell, bool | int | float):
        return None, (f"{column} {cell_text(cell)!r} is a plain number, not a date; format the "
                      "column as Date or type DD-MM-YYYY")
    else:
        text = cell_text(cell)
        if not text:
            return None, f"{column} is empty"
        iso, dmy = _ISO_DATE.fullmatch(text), _DMY_DATE.fullmatch(text)
        try:
            if iso:
                when = date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
            elif dmy:
                when = date(int(dmy.group(4)), int(dmy.group(3)), int(dmy.group(1)))
            else:
                return None, f"{column} {text!r} is not a date; use DD-MM-YYYY or YYYY-MM-DD"
        except ValueError:
            return None, f"{column} {text!r} is not a real calendar date"
    if not EARLIEST_YEAR <= when.year <= LATEST_YEAR:
        return None, f"{column} {when:%d-%m-%Y} is outside {EARLIEST_YEAR}-{LATEST_YEAR}"
    return when, None


def chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """`values` in slices small enough for one IN (...) query."""
    for i in range(0, len(values), _IN_CHUNK):
        yield values[i:i + _IN_CHUNK]


def employees_where(session: Session, column: Any, values: Iterable[Any]) -> list[Employee]:
    """The employees whose `column` is one of `values`, whatever their number."""
    found: list[Employee] = []
    for chunk in chunks(sorted(set(values))):
        found.extend(session.exec(select(Employee).where(column.in_(chunk))).all())
    return found


def no_rows(result: ImportResult) -> ImportResult:
    """`result` with the error of a file that has a header and nothing else."""
    result.errors.append(RowError(0, "the file has a header but no data rows"))
    return result


def from_file(importer: Any, kind: str, session: Session, data: bytes, filename: str, clock: Clock,
              dry_run: bool, limits: FileLimits, columns: Sequence[str],
              optional: Sequence[str], aliases: Mapping[str, str]) -> ImportResult:
    """Read an upload with `columns` and hand its rows to `importer` (roster or leave)."""
    try:
        table = read_table(data, filename, columns, optional=optional, aliases=aliases,
                           limits=limits)
    except FileError as err:
        return ImportResult(errors=[err.as_row_error()], dry_run=dry_run, kind=kind)
    # Rows the reader could not split count as errors: nothing is applied with them around.
    return importer(session, table.rows, clock, dry_run, table.problems)
