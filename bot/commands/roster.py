"""`apel-bot roster import FILE` and `apel-bot leave import FILE`: CSV/XLSX into the database."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from bot.commands.audit import operator_actor
from bot.commands.common import add_config_arg, load, open_database
from bot.org.audit_entries import record_import
from bot.org.roster import ROSTER_COLUMNS, import_roster_file
from bot.org.roster_files import MAX_FILE_BYTES, MAX_ROWS, FileError, read_upload
from bot.org.roster_rows import ROLES, ImportResult
from bot.platform.clock import SystemClock
from bot.unit_admin.leave_import import LEAVE_COLUMNS, import_leave_file


def _run(args: argparse.Namespace, importer: Callable[..., ImportResult]) -> int:
    settings = load(args)
    path = Path(args.file)
    try:
        data = read_upload(path)
    except FileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    db = open_database(settings)
    try:
        with db.transaction() as session:
            clock = SystemClock()
            result = importer(session, data, path.name, clock, dry_run=args.dry_run)
            if result.ok and not result.dry_run:  # on the record, in the same transaction
                record_import(session, result, data=data, filename=path.name,
                              actor=operator_actor(), at=clock.now())
    except IntegrityError as err:
        # Checked beforehand; only a concurrent change (e.g. a registration) gets here.
        print(f"error: the database refused the import, nothing was written "
              f"(changed meanwhile? run it again): {err.orig}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    return _report(path, result)


def _report(path: Path, result: ImportResult) -> int:
    if result.errors:
        for error in result.errors:
            print(str(error) if error.line else f"error: {path.name}: {error}", file=sys.stderr)
        print(result.summary(), file=sys.stderr)
        return 1
    for change in result.changes:
        print(change)
    print(result.summary())
    return 0


def _roster_import(args: argparse.Namespace) -> int:
    return _run(args, import_roster_file)


def _leave_import(args: argparse.Namespace) -> int:
    return _run(args, import_leave_file)


_LIMITS = f"CSV (UTF-8) or XLSX, at most {MAX_FILE_BYTES // (1024 * 1024)} MB and {MAX_ROWS:,} rows"


def register(subparsers: argparse._SubParsersAction) -> None:
    roster = subparsers.add_parser("roster", help="employee roster")
    sub = roster.add_subparsers(dest="roster_command", required=True)
    imp = sub.add_parser(
        "import", help="import employees from CSV/XLSX",
        description=(
            f"Columns: {', '.join(ROSTER_COLUMNS)} (or 'role' for jabatan), optional "
            f"telegram_id. jabatan: {', '.join(sorted(ROLES))}. Employees of the units in "
            f"the file who are missing from it are deactivated. {_LIMITS}."))
    imp.add_argument("file", help="roster file (.csv or .xlsx)")
    add_config_arg(imp)
    imp.add_argument("--dry-run", action="store_true", help="check and show, write nothing")
    imp.set_defaults(func=_roster_import)

    leave = subparsers.add_parser("leave", help="leave (cuti) records")
    sub = leave.add_subparsers(dest="leave_command", required=True)
    imp = sub.add_parser(
        "import", help="import leave from CSV/XLSX",
        description=(f"Columns: {', '.join(LEAVE_COLUMNS)}; dates DD-MM-YYYY or YYYY-MM-DD. "
                     f"{_LIMITS}."))
    imp.add_argument("file", help="leave file (.csv or .xlsx)")
    add_config_arg(imp)
    imp.add_argument("--dry-run", action="store_true", help="check and show, write nothing")
    imp.set_defaults(func=_leave_import)
