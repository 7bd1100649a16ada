"""`apel-bot run`: migrate, take the database's lease, bring config in, serve until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import threading

import uvloop

from bot.commands.common import EXIT_LEASE_LOST, EXIT_OK, EXIT_RELOAD, add_config_arg, load
from bot.org.units import sync_config, warn_period
from bot.platform import instance_lease
from bot.platform.clock import Clock, SystemClock
from bot.platform.config import ConfigError
from bot.platform.db import Database
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
    me = instance_lease.Holder.this_process()
    db.call(lambda s: instance_lease.acquire(s, me, clock.now()))  # or LeaseHeld: exit 2
    heartbeat = _Heartbeat(db, clock, me)
    heartbeat.start()
    db.call(lambda s: sync_config(s, settings, clock.now()))
    db.call(lambda s: warn_period(s, settings, clock.now()))  # log + operator chat
    log.info("database %s ready; %d units", db.safe_url, len(settings.units))
    app = build_application(settings, db, clock, token, lease_held=lambda: not heartbeat.lost)
    # libuv's event loop: about a third less CPU per update under a burst of presses.
    uvloop.install()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    stop, reload = _on_signals(loop)
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
        heartbeat.stop()
        db.call(lambda s: instance_lease.release(s, me))
        db.dispose()
    if heartbeat.lost:
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


class _Heartbeat(threading.Thread):
    """Renews this process's lease; if another `run` took it over (we stalled past the TTL),
    stops this one at once rather than send the outbox twice."""

    def __init__(self, db: Database, clock: Clock, me: instance_lease.Holder) -> None:
        super().__init__(name="lease-heartbeat", daemon=True)
        self.db, self.clock, self.me = db, clock, me
        self.lost = False
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(instance_lease.HEARTBEAT_SECONDS):
            try:
                held = self.db.call(lambda s: instance_lease.renew(s, self.me, self.clock.now()))
            except Exception:  # database briefly down: try again at the next beat
                log.exception("lease heartbeat failed")
                continue
            if not held:
                self.lost = True
                log.critical("another `apel-bot run` took over this database; stopping")
                os.kill(os.getpid(), signal.SIGTERM)
                return

    def stop(self) -> None:
        self._stopping.set()


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="run the bot (long polling)")
    add_config_arg(p)
    p.set_defaults(func=_run)
