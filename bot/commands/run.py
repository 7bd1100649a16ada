"""`apel-bot run`: migrate, bring config in, lead (or wait as a standby), serve until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import threading

import uvloop

from bot.commands.common import EXIT_LEASE_LOST, EXIT_OK, EXIT_RELOAD, add_config_arg, load
from bot.org.units import sync_config, warn_period
from bot.platform.clock import SystemClock
from bot.platform.config import ConfigError
from bot.platform.db import Database
from bot.platform.leadership import for_database
from bot.telegram.app import build_application, serve
from bot.telegram.startup import wait_for_telegram

log = logging.getLogger(__name__)


def _run(args: argparse.Namespace) -> int:
    settings = load(args)
    token = settings.telegram.resolved_token()
    if not token:
        raise ConfigError(
            f"telegram.token: no bot token; set the environment variable "
            f"{settings.telegram.token_env} or telegram.token in {args.config}")
    db = Database(settings.database.url)
    # `run` migrates by itself so the README's two commands are all an operator needs.
    db.upgrade()
    clock = SystemClock()
    db.call(lambda s: sync_config(s, settings, clock.now()))
    db.call(lambda s: warn_period(s, settings, clock.now()))  # log + operator chat
    log.info("database %s ready; %d units", db.safe_url, len(settings.units))
    # libuv's event loop: about a third less CPU per update under a burst of presses.
    uvloop.install()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    stop, reload = _on_signals(loop)
    # Lost leadership (another process leads now, or took the SQLite lease over): drain, stop.
    leadership = for_database(db, clock, on_lost=lambda: loop.call_soon_threadsafe(stop.set))
    app = build_application(settings, db, clock, token, leadership=leadership)
    # Long-lived start-up objects (modules, ORM metadata, templates) never become garbage:
    # freezing them keeps full collections short, so a burst sees no long GC pauses.
    gc.collect()
    gc.freeze()
    try:
        waiting = loop.create_task(wait_for_telegram(settings, token))
        loop.run_until_complete(asyncio.wait([waiting, loop.create_task(stop.wait())],
                                             return_when=asyncio.FIRST_COMPLETED))
        if waiting.done():
            waiting.result()  # a refused token: a configuration error
            loop.run_until_complete(serve(app, stop))
        else:
            waiting.cancel()  # stopped before Telegram ever answered
    finally:
        leadership.release()
        db.dispose()
    if leadership.lost:
        return EXIT_LEASE_LOST
    return EXIT_RELOAD if reload.is_set() else EXIT_OK


def _on_signals(loop: asyncio.AbstractEventLoop) -> tuple[asyncio.Event, threading.Event]:
    """SIGINT/SIGTERM: drain and stop. SIGHUP (systemctl reload): drain the same way, then exit
    with EXIT_RELOAD so the supervisor starts the bot again, reading config.toml anew. A reload
    in place would re-plan every unit's bells and chats mid-flight; a restart is short and
    already safe (nothing queued or received is lost)."""
    stop, reload = asyncio.Event(), threading.Event()

    def on_hup() -> None:
        log.warning("SIGHUP: stopping to restart with the configuration read anew")
        reload.set()
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, on_hup)
    return stop, reload


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="run the bot (long polling)")
    add_config_arg(p)
    p.set_defaults(func=_run)
