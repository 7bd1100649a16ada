"""Helpers shared by subcommands: the --config option and loading settings + database."""

from __future__ import annotations

import argparse

from bot.org.units import sync_config
from bot.platform.clock import SystemClock
from bot.platform.config import Settings, load_settings
from bot.platform.db import Database


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
    return load_settings(args.config)
