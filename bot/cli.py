"""The `apel-bot` command line. Subcommands live in bot/commands/, one module per area."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from bot.config import ConfigError
from bot.db import DatabaseNotMigrated
from bot.logging_setup import setup_logging

# Each module exposes register(subparsers); a parser sets `func(args) -> int`.
COMMAND_MODULES = (
    "bot.commands.database",
    "bot.commands.schedule",
    "bot.commands.run",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="apel-bot", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, DatabaseNotMigrated) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
