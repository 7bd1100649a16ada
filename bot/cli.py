"""The `apel-bot` command line. Subcommands live in bot/commands/, one module per area."""

from __future__ import annotations

import signal


class StopRequested(SystemExit):
    """SIGTERM before the event loop took the signals over: nothing is half-written (every
    write is a transaction), so the process ends cleanly, with exit code 0 (also when it comes
    while the modules below are still being imported)."""

    def __init__(self) -> None:
        super().__init__(0)


def _stop_during_start_up(_signum: int, _frame: object) -> None:
    raise StopRequested


# First thing, before the imports that take seconds on a slow machine: a service manager's
# stop during start-up is a clean stop, not a death by signal (exit -15).
signal.signal(signal.SIGTERM, _stop_during_start_up)

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402

from sqlalchemy.exc import OperationalError  # noqa: E402

from bot.commands.common import EXIT_CONFIG, EXIT_DATABASE, EXIT_LEASE_HELD  # noqa: E402
from bot.platform.config import ConfigError  # noqa: E402
from bot.platform.db import DatabaseNotMigrated  # noqa: E402
from bot.platform.instance_lease import LeaseHeld  # noqa: E402
from bot.platform.logging_setup import redact, setup_logging  # noqa: E402

log = logging.getLogger("bot.cli")


def command_modules() -> list:
    """The subcommands: each module has register(subparsers); a parser sets func(args)->int.
    A new subcommand module is added here."""
    from bot.commands import audit, backup, database, demo, roles, roster, run, schedule

    return [audit, backup, database, demo, roles, roster, run, schedule]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="apel-bot", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--log-format", choices=("human", "json"), default="human",
                        help="json: one JSON object a line, for log collectors")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in command_modules():
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        setup_logging(logging.DEBUG if args.verbose else logging.INFO,
                      json_lines=args.log_format == "json")
        return int(args.func(args) or 0)
    except (ConfigError, DatabaseNotMigrated) as err:
        return _fail(EXIT_CONFIG, err)
    except LeaseHeld as err:
        return _fail(EXIT_LEASE_HELD, err)
    except OperationalError as err:
        return _fail(EXIT_DATABASE, f"database unreachable: {err.orig or err}")
    except KeyboardInterrupt:
        return 130
    except StopRequested:
        log.info("stopped during start-up (SIGTERM)")
        return 0


def _fail(code: int, err: object) -> int:
    print(f"error: {redact(str(err))}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
