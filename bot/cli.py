"""The `apel-bot` command line. Subcommands live in bot/commands/, one module per area."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from bot.platform.config import ConfigError
from bot.platform.db import DatabaseNotMigrated
from bot.platform.instance_lease import LeaseHeld
from bot.platform.logging_setup import setup_logging


def command_modules() -> list:
    """Every module in bot/commands/ with register(subparsers); a parser sets func(args)->int."""
    import bot.commands as package

    modules = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if hasattr(module, "register"):
            modules.append(module)
    return modules


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="apel-bot", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in command_modules():
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, DatabaseNotMigrated, LeaseHeld) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
