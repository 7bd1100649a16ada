"""Helpers shared by subcommands: the --config option and loading settings + database."""

from __future__ import annotations

import argparse

from bot.audit.keys import key_file_problems
from bot.org.units import sync_config
from bot.platform.clock import SystemClock
from bot.platform.config import Settings
from bot.platform.config_loading import load_settings
from bot.platform.db import Database

# Exit codes a supervisor can act on (deploy/apel-bot.service maps them).
EXIT_OK = 0
EXIT_LEASE_LOST = 1  # another `run` took this database over while we stalled: restart
EXIT_CONFIG = 2  # config.toml, the token or the audit key is wrong: do not restart
EXIT_LEASE_HELD = 3  # another `run` serves this database: try again later
EXIT_DATABASE = 4  # the database cannot be reached (or refused us): restart after a delay
EXIT_RELOAD = 75  # SIGHUP: stopped cleanly to be started again with the config read anew


def add_config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="config.toml", help="path to config.toml")


def open_database(settings: Settings, *, sync: bool = True) -> Database:
    """The configured database, migrated check done, with config's units brought in."""
    db = Database(settings.database.url)
    db.require_migrated()
    if sync:
        db.call(lambda s: sync_config(s, settings, SystemClock().now()))
    return db


def load(args: argparse.Namespace) -> Settings:
    """config.toml, checked with what start-up would otherwise refuse later (the audit key)."""
    return load_settings(args.config, checks=[key_file_problems])
