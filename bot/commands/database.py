"""`apel-bot db upgrade`: apply Alembic migrations, then count closed apel not yet counted."""

from __future__ import annotations

import argparse

from bot.apel import counts as apel_counts
from bot.commands.common import add_config_arg, load
from bot.platform.db import Database


def _upgrade(args: argparse.Namespace) -> int:
    settings = load(args)
    db = Database(settings.database.url)
    db.upgrade()
    print(f"database {db.safe_url} is at revision {db.current_revision()}")
    counted = 0
    while batch := db.call(apel_counts.recount_stale):
        counted += batch
    if counted:
        print(f"counted {counted} closed apel for the reports")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    db = subparsers.add_parser("db", help="database maintenance")
    sub = db.add_subparsers(dest="db_command", required=True)
    up = sub.add_parser("upgrade", help="create or migrate the database schema")
    add_config_arg(up)
    up.set_defaults(func=_upgrade)
