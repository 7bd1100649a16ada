"""Roster and leave imports: validate every row first, then apply all or nothing.

Callers hand in a Session inside one transaction (`db.transaction()`), the rows or raw bytes
of the upload, and a Clock. Nothing is written unless every row is valid; re-importing the
same file changes nothing. Messages are English, for the operator at the command line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from types import MappingProxyType
from typing import Any, Final

from sqlmodel import Session, select

from bot.apel import counts as apel_counts
from bot.models import Employee, Leave, Regu, Unit
from bot.org.roster_files import (
    DEFAULT_LIMITS,
    Cell,
    FileError,
    FileLimits,
    RowError,
    read_table,
)
from bot.platform import config
from bot.platform.clock import Clock

__all__ = [
    "LEAVE_COLUMNS",
    "ROLES",
    "ROLES_WITH_REGU",
    "ROLE_SYNONYMS",
    "ROSTER_COLUMNS",
    "ImportResult",
    "RowError",
    "canonical_role",
    "import_leave",
    "import_leave_file",
    "import_roster",
    "import_roster_file",
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
ROLES_WITH_REGU: Final = frozenset(config.ROLES_WITH_REGU)  # the others must have none
_ROLE_HINT = (f"use one of {', '.join(sorted(ROLES))} or a synonym such as "
              + ", ".join(k for k in ("penjaga", "petugas", "karutan", "kepala lpka",
                                      "administrasi") if k in ROLE_SYNONYMS))

ROSTER_COLUMNS: Final = ("nip", "nama", "jabatan", "unit", "regu")
ROSTER_OPTIONAL: Final = ("telegram_id",)
ROSTER_ALIASES: Final = MappingProxyType({
    "role": "jabatan", "name": "nama", "telegram": "telegram_id",
    "telegram_user_id": "telegram_id"})
LEAVE_COLUMNS: Final = ("nip", "dari", "sampai", "alasan")
LEAVE_ALIASES: Final = MappingProxyType({"start": "dari", "end": "sampai", "reason": "alasan"})

NAME_MAX = 120
REASON_MAX = 200
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

def _text(cell: Cell) -> str:
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


def _parse_nip(cell: Cell) -> tuple[str | None, str | None]:
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


def _parse_telegram_id(cell: Cell) -> tuple[int | None, str | None]:
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
        return None, f"telegram_id {_text(cell)!r} must be a positive whole number (or empty)"
    return value, None


_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[ T]00:00(?::00)?)?")
_DMY_DATE = re.compile(r"([0-9]{1,2})([-/.])([0-9]{1,2})\2([0-9]{4})")


def _parse_date(column: str, cell: Cell) -> tuple[date | None, str | None]:
    when: date | None = None
    if isinstance(cell, datetime):
        if cell.time() != time(0):
            return None, f"{column} {cell.isoformat(sep=' ')} has a time of day; give a date"
        when = cell.date()
    elif isinstance(cell, date):
        when = cell
    elif isinstance(cell, bool | int | float):
        return None, (f"{column} {_text(cell)!r} is a plain number, not a date; format the "
                      "column as Date or type DD-MM-YYYY")
    else:
        text = _text(cell)
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


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), _IN_CHUNK):
        yield values[i:i + _IN_CHUNK]


def _employees_where(session: Session, column: Any, values: Iterable[Any]) -> list[Employee]:
    found: list[Employee] = []
    for chunk in _chunks(sorted(set(values))):
        found.extend(session.exec(select(Employee).where(column.in_(chunk))).all())
    return found


def _no_rows(result: ImportResult) -> ImportResult:
    result.errors.append(RowError(0, "the file has a header but no data rows"))
    return result


# ---- roster ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _RosterRow:
    line: int
    nip: str
    name: str
    role: str
    unit: Unit
    regu: Regu | None
    telegram_id: int | None


def _regu_key(name: str) -> str:
    return " ".join(name.lower().split())


class _Places:
    """Active units and their active regu, looked up as operators type them."""

    def __init__(self, session: Session) -> None:
        self.units = {u.code: u for u in session.exec(select(Unit).where(Unit.active))}
        self.regus: dict[int, dict[str, Regu]] = {u.id: {} for u in self.units.values()}
        self.unit_code: dict[int, str] = {u.id: u.code for u in session.exec(select(Unit))}
        self.regu_name: dict[int, str] = {}
        for regu in session.exec(select(Regu)):
            self.regu_name[regu.id] = regu.name
            if regu.active and regu.unit_id in self.regus:
                self.regus[regu.unit_id][_regu_key(regu.name)] = regu

    def place(self, unit_id: int, regu_id: int | None) -> str:
        unit = self.unit_code.get(unit_id, f"unit #{unit_id}")
        return unit if regu_id is None else f"{unit}/{self.regu_name.get(regu_id, regu_id)}"


def _parse_roster_row(line: int, cells: Mapping[str, Cell], places: _Places,
                      errors: list[RowError]) -> _RosterRow | None:
    before = len(errors)

    def bad(message: str) -> None:
        errors.append(RowError(line, message))

    nip, err = _parse_nip(cells.get("nip"))
    if err:
        bad(err)
    name = _text(cells.get("nama"))
    if not name:
        bad("nama is empty")
    elif len(name) > NAME_MAX:
        bad(f"nama is {len(name)} characters long; the limit is {NAME_MAX}")
    raw_role = _text(cells.get("jabatan"))
    role = canonical_role(raw_role)
    if role is None:
        bad(f"jabatan {raw_role!r} is unknown; {_ROLE_HINT}" if raw_role
            else f"jabatan is empty; {_ROLE_HINT}")
    code = _text(cells.get("unit")).lower()
    unit = places.units.get(code)
    if unit is None:
        known = ", ".join(sorted(places.units)) or "none (run with a config that has units)"
        bad(f"unit {code!r} is unknown; known units: {known}" if code
            else f"unit is empty; known units: {known}")
    regu_text = _text(cells.get("regu"))
    regu: Regu | None = None
    if regu_text and unit is not None:
        regu = places.regus[unit.id].get(_regu_key(regu_text))
        if regu is None:
            names = ", ".join(sorted(r.name for r in places.regus[unit.id].values()))
            bad(f"regu {regu_text!r} does not exist in {unit.code}; its regu are: {names}")
    if role in ROLES_WITH_REGU and not regu_text:
        bad(f"jabatan {role!r} needs a regu")
    if role is not None and role not in ROLES_WITH_REGU and regu_text:
        bad(f"jabatan {role!r} must not have a regu (found {regu_text!r}); only "
            f"{' and '.join(sorted(ROLES_WITH_REGU))} belong to a regu, leave it empty")
    telegram_id, err = _parse_telegram_id(cells.get("telegram_id"))
    if err:
        bad(err)
    if len(errors) > before:
        return None
    assert nip is not None and role is not None and unit is not None
    return _RosterRow(line, nip, name, role, unit, regu, telegram_id)


@dataclass(frozen=True)
class _Ident:
    """Who a row names, as far as it could be read (also for rows with other errors)."""

    line: int
    nip: str | None
    telegram_id: int | None


def _check_telegram_ids(session: Session, idents: list[_Ident],
                        errors: list[RowError]) -> None:
    """Telegram ids must stay unique after the import (a DB constraint, too)."""
    first_line: dict[int, int] = {}
    for ident in idents:
        if ident.telegram_id is None:
            continue
        if ident.telegram_id in first_line:
            errors.append(RowError(ident.line, f"telegram_id {ident.telegram_id} is already on "
                                               f"line {first_line[ident.telegram_id]}"))
        else:
            first_line[ident.telegram_id] = ident.line
    by_nip: dict[str, _Ident] = {}
    for ident in idents:
        if ident.nip is not None:
            by_nip.setdefault(ident.nip, ident)
    by_line = {ident.line: ident for ident in idents}
    for holder in _employees_where(session, Employee.telegram_user_id, first_line):
        ident = by_line[first_line[holder.telegram_user_id]]
        if ident.nip is None or holder.nip == ident.nip:  # (a bad nip is reported already)
            continue
        in_file = by_nip.get(holder.nip)
        if in_file is None:
            errors.append(RowError(ident.line, (
                f"telegram_id {ident.telegram_id} already belongs to NIP {holder.nip} "
                f"({holder.name}), who is not in this file")))
        elif in_file.telegram_id is None:
            errors.append(RowError(ident.line, (
                f"telegram_id {ident.telegram_id} already belongs to NIP {holder.nip} "
                f"({holder.name}), who keeps it: line {in_file.line} has no telegram_id")))


def _describe(emp: Employee, places: _Places) -> str:
    tg = f", telegram {emp.telegram_user_id}" if emp.telegram_user_id else ""
    return f"{emp.nip} {emp.name} ({emp.role}, {places.place(emp.unit_id, emp.regu_id)}{tg})"


def import_roster(session: Session, rows: Rows, clock: Clock, *,
                  dry_run: bool = False) -> ImportResult:
    """Validate `rows` ((line, {column: cell}), columns as in ROSTER_COLUMNS) and apply them.

    New NIPs are added, changed ones updated, inactive ones reactivated; active employees of
    the units named in the file who are missing from it are deactivated (never deleted).
    With errors, or with dry_run, nothing is changed in the session.
    """
    return _import_roster(session, rows, clock, dry_run, ())


def _import_roster(session: Session, rows: Rows, clock: Clock, dry_run: bool,
                   known: Sequence[RowError]) -> ImportResult:
    result = ImportResult(dry_run=dry_run, errors=list(known))
    errors = result.errors
    places = _Places(session)
    parsed: list[_RosterRow] = []
    idents: list[_Ident] = []
    first_line: dict[str, int] = {}
    any_rows = False
    for line, cells in rows:
        any_rows = True
        row = _parse_roster_row(line, cells, places, errors)
        nip = row.nip if row else _parse_nip(cells.get("nip"))[0]
        idents.append(_Ident(line, nip, row.telegram_id if row else
                             _parse_telegram_id(cells.get("telegram_id"))[0]))
        if nip is not None and nip in first_line:
            errors.append(RowError(line, f"nip {nip} is already on line {first_line[nip]}"))
            continue
        if nip is not None:
            first_line[nip] = line
        if row is not None:
            parsed.append(row)
    if not any_rows and not errors:
        return _no_rows(result)
    _check_telegram_ids(session, idents, errors)
    if errors:
        errors.sort(key=lambda e: e.line)
        return result

    existing = {e.nip: e for e in _employees_where(session, Employee.nip, first_line)}
    now = clock.now()
    plan: list[tuple[Employee | None, _RosterRow, dict[str, Any]]] = []
    for row in parsed:
        emp = existing.get(row.nip)
        wanted: dict[str, Any] = {
            "name": row.name, "role": row.role, "unit_id": row.unit.id,
            "regu_id": row.regu.id if row.regu else None, "active": True}
        if row.telegram_id is not None:
            wanted["telegram_user_id"] = row.telegram_id
        if emp is None:
            plan.append((None, row, wanted))
            result.added += 1
            result.changes.append(f"add {row.nip} {row.name} ({row.role}, "
                                  f"{places.place(row.unit.id, wanted['regu_id'])})")
            continue
        diff = {k: v for k, v in wanted.items() if getattr(emp, k) != v}
        if not diff:
            result.unchanged += 1
            continue
        plan.append((emp, row, diff))
        result.updated += 1
        if not emp.active:
            result.reactivated += 1
        result.changes.append(f"update {emp.nip} {emp.name}: {_diff_text(emp, diff, places)}")

    unit_ids = sorted({row.unit.id for row in parsed})
    leaving = [e for e in _employees_where(session, Employee.unit_id, unit_ids)
               if e.active and e.nip not in first_line]
    leaving.sort(key=lambda e: e.nip)
    for emp in leaving:
        result.deactivated += 1
        result.changes.append(f"deactivate {_describe(emp, places)}")
    if dry_run:
        return result

    # Free every telegram id that moves first, so swaps never trip the unique constraint.
    moving = [emp for emp, _, diff in plan if emp is not None and "telegram_user_id" in diff]
    for emp in moving:
        emp.telegram_user_id = None
        session.add(emp)
    if moving:
        session.flush()
    known_ids = {e.id for e in existing.values()}
    written: list[Employee] = []
    for emp, row, diff in plan:
        if emp is None:
            emp = Employee(nip=row.nip, updated_at=now, **diff)
        else:
            if "telegram_user_id" in diff:
                emp.private_chat_ok = False  # a new account has not opened the chat yet
            for key, value in diff.items():
                setattr(emp, key, value)
            emp.updated_at = now
        session.add(emp)
        written.append(emp)
    for emp in leaving:
        emp.active = False
        emp.updated_at = now
        session.add(emp)
    session.flush()
    result.new_ids = [e.id for e in written if e.id not in known_ids]
    result.changed_ids = [e.id for e in written if e.id in known_ids] + [e.id for e in leaving]
    return result


def _diff_text(emp: Employee, diff: Mapping[str, Any], places: _Places) -> str:
    parts = []
    for key, new in diff.items():
        old = getattr(emp, key)
        if key == "active":
            parts.append("reactivated")
        elif key == "unit_id":
            parts.append(f"unit {places.place(old, None)} -> {places.place(new, None)}")
        elif key == "regu_id":
            old_name = places.regu_name.get(old, "-") if old else "-"
            parts.append(f"regu {old_name} -> {places.regu_name.get(new, '-') if new else '-'}")
        elif key == "telegram_user_id":
            parts.append(f"telegram {old or '-'} -> {new}")
        else:
            parts.append(f"{'nama' if key == 'name' else key} {old!r} -> {new!r}")
    return ", ".join(parts)


def import_roster_file(session: Session, data: bytes, filename: str, clock: Clock, *,
                       dry_run: bool = False,
                       limits: FileLimits = DEFAULT_LIMITS) -> ImportResult:
    """Read a CSV/XLSX roster upload and import it; file problems come back as errors."""
    return _from_file(_import_roster, "roster", session, data, filename, clock, dry_run, limits,
                      ROSTER_COLUMNS, ROSTER_OPTIONAL, ROSTER_ALIASES)


# ---- leave ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _LeaveRow:
    line: int
    nip: str
    start: date
    end: date
    reason: str


def _parse_leave_row(line: int, cells: Mapping[str, Cell],
                     errors: list[RowError]) -> _LeaveRow | None:
    before = len(errors)
    nip, err = _parse_nip(cells.get("nip"))
    start, err_start = _parse_date("dari", cells.get("dari"))
    end, err_end = _parse_date("sampai", cells.get("sampai"))
    reason = _text(cells.get("alasan"))
    err_reason = None
    if not reason:
        err_reason = "alasan is empty"
    elif len(reason) > REASON_MAX:
        err_reason = f"alasan is {len(reason)} characters long; the limit is {REASON_MAX}"
    for message in (err, err_start, err_end, err_reason):
        if message:
            errors.append(RowError(line, message))
    if start and end and end < start:
        errors.append(RowError(line, f"sampai {end:%d-%m-%Y} is before dari {start:%d-%m-%Y}"))
    if len(errors) > before:
        return None
    assert nip is not None and start is not None and end is not None
    return _LeaveRow(line, nip, start, end, reason)


def import_leave(session: Session, rows: Rows, clock: Clock, *,
                 dry_run: bool = False) -> ImportResult:
    """Validate leave rows (columns as in LEAVE_COLUMNS) and apply them, all or nothing.

    A leave is identified by (employee, dari, sampai): importing it again changes nothing,
    a changed alasan updates it. Leaves missing from the file are left alone.
    """
    return _import_leave(session, rows, clock, dry_run, ())


def _import_leave(session: Session, rows: Rows, clock: Clock, dry_run: bool,
                  known: Sequence[RowError]) -> ImportResult:
    result = ImportResult(dry_run=dry_run, errors=list(known), kind="leave")
    errors = result.errors
    parsed: list[_LeaveRow] = []
    first_line: dict[tuple[str, date, date], int] = {}
    any_rows = False
    for line, cells in rows:
        any_rows = True
        row = _parse_leave_row(line, cells, errors)
        if row is None:
            continue
        key = (row.nip, row.start, row.end)
        if key in first_line:
            errors.append(RowError(line, (
                f"the leave of {row.nip} from {row.start:%d-%m-%Y} to {row.end:%d-%m-%Y} "
                f"is already on line {first_line[key]}")))
            continue
        first_line[key] = line
        parsed.append(row)
    if not any_rows and not errors:
        return _no_rows(result)
    employees = {e.nip: e for e in _employees_where(session, Employee.nip,
                                                    [r.nip for r in parsed])}
    for row in parsed:
        if row.nip not in employees:
            errors.append(RowError(row.line, (
                f"nip {row.nip} is not in the roster; import the roster first")))
    if errors:
        errors.sort(key=lambda e: e.line)
        return result

    emp_ids = sorted({e.id for e in employees.values()})
    existing: dict[tuple[int, date, date], Leave] = {}
    for chunk in _chunks(emp_ids):
        for leave in session.exec(select(Leave).where(Leave.employee_id.in_(chunk))):
            existing[(leave.employee_id, leave.start, leave.end)] = leave
    now = clock.now()
    writes: list[Leave] = []
    for row in parsed:
        emp = employees[row.nip]
        period = f"{row.start:%d-%m-%Y} to {row.end:%d-%m-%Y}"
        leave = existing.get((emp.id, row.start, row.end))
        if leave is None:
            result.added += 1
            result.changes.append(f"add leave {emp.nip} {emp.name} {period}: {row.reason}")
            writes.append(Leave(employee_id=emp.id, start=row.start, end=row.end,
                                reason=row.reason, created_by="import", created_at=now))
        elif leave.reason != row.reason:
            result.updated += 1
            result.changes.append(f"update leave {emp.nip} {emp.name} {period}: "
                                  f"alasan {leave.reason!r} -> {row.reason!r}")
            if not dry_run:
                leave.reason = row.reason
                writes.append(leave)
        else:
            result.unchanged += 1
    if not dry_run:
        fresh = [lv.id is None for lv in writes]
        session.add_all(writes)
        session.flush()
        result.new_ids = [lv.id for lv, new in zip(writes, fresh, strict=True) if new]
        result.changed_ids = [lv.id for lv, new in zip(writes, fresh, strict=True) if not new]
        # One bump for the whole file, rows locked in id order (see apel_counts).
        apel_counts.changed(session, set().union(*(
            apel_counts.apel_of_leave(session, lv.employee_id, lv.start, lv.end)
            for lv in writes)))
    return result


def import_leave_file(session: Session, data: bytes, filename: str, clock: Clock, *,
                      dry_run: bool = False,
                      limits: FileLimits = DEFAULT_LIMITS) -> ImportResult:
    """Read a CSV/XLSX leave upload and import it; file problems come back as errors."""
    return _from_file(_import_leave, "leave", session, data, filename, clock, dry_run, limits,
                      LEAVE_COLUMNS, (), LEAVE_ALIASES)


def _from_file(importer: Any, kind: str, session: Session, data: bytes, filename: str, clock: Clock,
               dry_run: bool, limits: FileLimits, columns: Sequence[str],
               optional: Sequence[str], aliases: Mapping[str, str]) -> ImportResult:
    try:
        table = read_table(data, filename, columns, optional=optional, aliases=aliases,
                           limits=limits)
    except FileError as err:
        return ImportResult(errors=[err.as_row_error()], dry_run=dry_run, kind=kind)
    # Rows the reader could not split count as errors: nothing is applied with them around.
    return importer(session, table.rows, clock, dry_run, table.problems)
