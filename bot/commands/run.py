"""`apel-bot run`: migrate, bring config in, lead (or wait as a standby), serve until SIGTERM.

Only translation here: arguments -> settings -> bot/bootstrap.py (which builds everything) ->
its event loop -> an exit code a supervisor acts on (bot/commands/common.py)."""

from __future__ import annotations

import argparse

from bot import bootstrap
from bot.commands.common import EXIT_LEASE_LOST, EXIT_OK, EXIT_RELOAD, add_config_arg, load
from bot.platform.config import ConfigError, Settings


def _run(args: argparse.Namespace) -> int:
    settings = load(args)
    assembly = bootstrap.assemble(settings, _token(settings, args.config))
    try:
        assembly.loop.run_until_complete(bootstrap.run(assembly))
    finally:
        assembly.close()
    return _exit_code(assembly)


def _token(settings: Settings, config_path: str) -> str:
    token = settings.telegram.resolved_token()
    if not token:
        raise ConfigError(
            f"telegram.token: no bot token; set the environment variable "
            f"{settings.telegram.token_env} or telegram.token in {config_path}")
    return token


def _exit_code(assembly: bootstrap.Assembly) -> int:
    if assembly.leadership.lost:  # another `run` took this database over while we stalled
        return EXIT_LEASE_LOST
    return EXIT_RELOAD if assembly.signals.reload.is_set() else EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="run the bot (long polling)")
    add_config_arg(p)
    p.set_defaults(func=_run)
