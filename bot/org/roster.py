"""Roster import: validate every row first, then apply all or nothing.

Callers hand in a Session inside one transaction (`db.transaction()`), the rows or raw bytes
of the upload, and a Clock. Nothing is written unless every row is valid; re-importing the
same file changes nothing. Messages are English, for the operator at the command line.
The cells are read by bot/org/roster_rows.py; leave comes in through bot/unit_admin/leave_import.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from sqlmodel import Session, select

from bot.org.models import Employee, Regu, Unit
from bot.org.roster_files import DEFAULT_LIMITS, Cell, FileLimits, RowError
from bot.org.roster_rows import (
    ROLE_SYNONYMS,
    ROLES,
    ImportResult,
    Rows,
    canonical_role,
    cell_text,
    employees_where,
    from_file,
    no_rows,
    parse_nip,
    parse_telegram_id,
)
from bot.platform import config
from bot.platform.clock import Clock

__all__ = ["ROLES_WITH_REGU", "ROSTER_COLUMNS", "import_roster", "import_roster_file"]

ROLES_WITH_REGU: Final = frozenset(config.ROLES_WITH_REGU)  # the others must have none
_ROLE_HINT = (f"use one of {', '.join(sorted(ROLES))} or a synonym such as "
              + ", ".join(k for k in ("penjaga", "petugas", "karutan", "kepala lpka",
                                      "administrasi") if k in ROLE_SYNONYMS))

ROSTER_COLUMNS: Final = ("nip", "nama", "jabatan", "unit", "regu")
ROSTER_OPTIONAL: Final = ("telegram_id",)
ROSTER_ALIASES: Final = MappingProxyType({
    "role": "jabatan", "name": "nama", "telegram": "telegram_id",
    "telegram_user_id": "telegram_id"})

NAME_MAX = 120


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

    nip, err = parse_nip(cells.get("nip"))
    if err:
        bad(err)
    name = cell_text(cells.get("nama"))
    if not name:
        bad("nama is empty")
    elif len(name) > NAME_MAX:
        bad(f"nama is {len(name)} characters long; the limit is {NAME_MAX}")
    raw_role = cell_text(cells.get("jabatan"))
    role = canonical_role(raw_role)
    if role is None:
        bad(f"jabatan {raw_role!r} is unknown; {_ROLE_HINT}" if raw_role
            else f"jabatan is empty; {_ROLE_HINT}")
    code = cell_text(cells.get("unit")).lower()
    unit = places.units.get(code)
    if unit is None:
        known = ", ".join(sorted(places.units)) or "none (run with a config that has units)"
        bad(f"unit {code!r} is unknown; known units: {known}" if code
            else f"unit is empty; known units: {known}")
    regu_text = cell_text(cells.get("regu"))
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
    telegram_id, err = parse_telegram_id(cells.get("telegram_id"))
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
    for holder in employees_where(session, Employee.telegram_user_id, first_line):
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
        nip = row.nip if row else parse_nip(cells.get("nip"))[0]
        idents.append(_Ident(line, nip, row.telegram_id if row else
                             parse_telegram_id(cells.get("telegram_id"))[0]))
        if nip is not None and nip in first_line:
            errors.append(RowError(line, f"nip {nip} is already on line {first_line[nip]}"))
            continue
        if nip is not None:
            first_line[nip] = line
        if row is not None:
            parsed.append(row)
    if not any_rows and not errors:
        return no_rows(result)
    _check_telegram_ids(session, idents, errors)
    if errors:
        errors.sort(key=lambda e: e.line)
        return result

    existing = {e.nip: e for e in employees_where(session, Employee.nip, first_line)}
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
    leaving = [e for e in employees_where(session, Employee.unit_id, unit_ids)
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
    return from_file(_import_roster, "roster", session, data, filename, clock, dry_run, limits,
                     ROSTER_COLUMNS, ROSTER_OPTIONAL, ROSTER_ALIASES)
