"""Leave import: validate every row first, then apply all or nothing.

Callers hand in a Session inside one transaction (`db.transaction()`), the rows or raw bytes
of the upload, and a Clock. Nothing is written unless every row is valid and names an employee
of the roster; re-importing the same file changes nothing. Applied leave refreshes the kept
counts of the apel it covers (bot/apel/counts.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Final

from sqlmodel import Session, select

from bot.apel import counts as apel_counts
from bot.org.models import Employee, Leave
from bot.org.roster_files import DEFAULT_LIMITS, Cell, FileLimits, RowError
from bot.org.roster_rows import (
    ImportResult,
    Rows,
    cell_text,
    chunks,
    employees_where,
    from_file,
    no_rows,
    parse_date,
    parse_nip,
)
from bot.platform.clock import Clock

__all__ = ["LEAVE_COLUMNS", "import_leave", "import_leave_file"]

LEAVE_COLUMNS: Final = ("nip", "dari", "sampai", "alasan")
LEAVE_ALIASES: Final = MappingProxyType({"start": "dari", "end": "sampai", "reason": "alasan"})

REASON_MAX = 200


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
    nip, err = parse_nip(cells.get("nip"))
    start, err_start = parse_date("dari", cells.get("dari"))
    end, err_end = parse_date("sampai", cells.get("sampai"))
    reason = cell_text(cells.get("alasan"))
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
        return no_rows(result)
    employees = {e.nip: e for e in employees_where(session, Employee.nip,
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
    for chunk in chunks(emp_ids):
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
    return from_file(_import_leave, "leave", session, data, filename, clock, dry_run, limits,
                     LEAVE_COLUMNS, (), LEAVE_ALIASES)
