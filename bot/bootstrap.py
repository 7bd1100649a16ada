"""The composition root: every part of the bot is built here, eagerly, in one place.

`apel-bot run` (bot/commands/run.py) starts up in this order:
  1. migrate the database                       migrate
  2. bring config.toml's units in               sync_config_in
  3. warn about the period (log, operator chat)  warn_about_the_period
  4. build every part                           build_application (+ loop, signals, leadership)
  5. wait for Telegram                          telegram_answered
  6. serve: receive; lead once this process may  bot.telegram.app.serve
Steps 1-4 are `assemble`, before the event loop runs; 5-6 are `run`, on it. Each step is a
function of its own, so the order can change here without touching what the steps do.

The end-to-end harness and the demo build their bot with `build_application`, as `run` does.
Nothing is created later, on first use: what a handler or the lifecycle needs exists before
the first update.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import uvloop

from bot.apel.pledging import pledge_many
from bot.delivery.alerts import OperatorAlerts
from bot.delivery.replies import Replies
from bot.org.units import move_chat, sync_config, warn_period
from bot.platform.batching import BatchWriter
from bot.platform.clock import Clock, SystemClock
from bot.platform.config import Settings
from bot.platform.db import Database
from bot.platform.leadership import Leadership, for_database
from bot.scheduler import ApelScheduler
from bot.telegram.app import ALLOWED_UPDATES, install_handlers, menu_table, new_application, serve
from bot.telegram.handlers.pledge import slim_press
from bot.telegram.ops_server import OpsServer, Probes
from bot.telegram.pacing import Limits
from bot.telegram.runtime import KEY, Runtime
from bot.telegram.sender import OutboxSender
from bot.telegram.startup import wait_for_telegram
from bot.telegram.updates import UpdatePump

if TYPE_CHECKING:
    from bot.telegram.app import Application

log = logging.getLogger(__name__)


@dataclass
class Signals:
    stop: asyncio.Event  # drain and stop: SIGINT, SIGTERM, SIGHUP, or leadership lost
    reload: threading.Event  # SIGHUP: stopped to be started again (EXIT_RELOAD)


@dataclass
class Assembly:
    """One `apel-bot run`, built and not started: `run(assembly)` on `assembly.loop` serves."""

    settings: Settings
    token: str
    db: Database
    clock: Clock
    loop: asyncio.AbstractEventLoop
    signals: Signals
    leadership: Leadership
    app: Application

    def close(self) -> None:
        self.leadership.release()
        self.db.dispose()


# --- apel-bot run ------------------------------------------------------------------------------


def assemble(settings: Settings, token: str) -> Assembly:
    """Steps 1-4: the database migrated and config brought in, then every part built."""
    db = Database(settings.database.url)
    migrate(db)
    clock = SystemClock()
    sync_config_in(db, settings, clock)
    warn_about_the_period(db, settings, clock)
    log.info("database %s ready; %d units", db.safe_url, len(settings.units))
    loop = new_event_loop()
    signals = Signals(asyncio.Event(), threading.Event())
    # Lost leadership (another process leads now, or took the SQLite lease over): drain, stop.
    leadership = for_database(db, clock,
                              on_lost=lambda: loop.call_soon_threadsafe(signals.stop.set))
    app = build_application(settings, db, clock, token, leadership=leadership)
    freeze_start_up_objects()
    return Assembly(settings, token, db, clock, loop, signals, leadership, app)


async def run(assembly: Assembly) -> None:
    """Steps 5-6: wait for Telegram, then serve until a signal (or lost leadership) stops it."""
    # Only now, with the loop running: uvloop drops a signal that comes between its handler
    # being set and the loop starting to listen (a SIGTERM 1.0-1.1 s after exec was lost and
    # the bot kept running). Until here, SIGTERM is bot/cli.py's clean stop during start-up.
    on_signals(asyncio.get_running_loop(), assembly.signals)
    stop = assembly.signals.stop
    if await telegram_answered(assembly.settings, assembly.token, stop):
        await serve(assembly.app, stop)


def migrate(db: Database) -> None:
    # `run` migrates by itself so the README's two commands are all an operator needs.
    db.upgrade()


def sync_config_in(db: Database, settings: Settings, clock: Clock) -> None:
    """config.toml's units, regu and chats into the database."""
    db.call(lambda s: sync_config(s, settings, clock.now()))


def warn_about_the_period(db: Database, settings: Settings, clock: Clock) -> None:
    """A period ending soon (or over) is logged and told to the operator chat."""
    db.call(lambda s: warn_period(s, settings, clock.now()))


def new_event_loop() -> asyncio.AbstractEventLoop:
    # libuv's event loop: about a third less CPU per update under a burst of presses.
    uvloop.install()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    return loop


def on_signals(loop: asyncio.AbstractEventLoop, signals: Signals) -> None:
    """SIGINT/SIGTERM: drain and stop. SIGHUP (systemctl reload): drain the same way, then exit
    with EXIT_RELOAD so the supervisor starts the bot again, reading config.toml anew. A reload
    in place would re-plan every unit's bells and chats mid-flight; a restart is short and
    already safe (nothing queued or received is lost)."""

    def on_hup() -> None:
        log.warning("SIGHUP: stopping to restart with the configuration read anew")
        signals.reload.set()
        signals.stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, signals.stop.set)
    loop.add_signal_handler(signal.SIGHUP, on_hup)


def freeze_start_up_objects() -> None:
    # Long-lived start-up objects (modules, ORM metadata, templates) never become garbage:
    # freezing them keeps full collections short, so a burst sees no long GC pauses.
    gc.collect()
    gc.freeze()


async def telegram_answered(settings: Settings, token: str, stop: asyncio.Event) -> bool:
    """Wait until Telegram answers (True; a network outage at boot does not end the process)
    or `stop` is set first (False). A refused token raises ConfigError."""
    waiting = asyncio.create_task(wait_for_telegram(settings, token))
    await asyncio.wait([waiting, asyncio.create_task(stop.wait())],
                       return_when=asyncio.FIRST_COMPLETED)
    if waiting.done():
        waiting.result()  # a refused token: a configuration error
        return True
    waiting.cancel()  # stopped before Telegram ever answered
    return False


# --- the bot's parts ---------------------------------------------------------------------------


def build_application(settings: Settings, db: Database, clock: Clock, token: str, *,
                      leadership: Leadership | None = None, run_scheduler: bool = True,
                      limits: Limits | None = None) -> Application:
    """The Application with its handlers, and every part behind them in its Runtime: the
    outbox sender, the scheduler, the update pump, the ops server, the group-commit writers.
    Nothing starts here (bot/telegram/app.py starts and stops them).

    leadership None: this process always leads (tests, the demo). run_scheduler False: the
    caller rings the bells itself (tests)."""
    app = new_application(settings, token)
    # The leader's fence: what only the leader does (send, ring the bells, poll) stops at
    # once when this process no longer surely leads, before it is told to stop.
    leads = leadership.is_leader if leadership else lambda: True
    sender = _sender(settings, db, clock, app, limits=limits, may_send=leads)
    alert = OperatorAlerts(db, clock, settings.telegram.operator_chat_id, wake=sender.wake)
    table = menu_table()  # the menus and /bantuan
    scheduler = ApelScheduler(db, settings, clock, on_queued=sender.wake, on_error=alert,
                              menu_table=table, may_run=leads)
    pump = UpdatePump(app, db, clock, allowed_updates=ALLOWED_UPDATES, prepare=slim_press,
                      may_poll=leads)
    app.bot_data[KEY] = Runtime(
        settings=settings, db=db, clock=clock, sender=sender, scheduler=scheduler, pump=pump,
        writer=BatchWriter(db), pledges=BatchWriter(db, pledge_many),
        reply=Replies(db, clock, wake=sender.wake), alert=alert, menu_table=table,
        ops=_ops_server(settings, db, clock, leadership, scheduler, sender, pump),
        leadership=leadership, run_scheduler=run_scheduler)
    install_handlers(app)  # after the Runtime: some handlers read their settings from it
    return app


def _sender(settings: Settings, db: Database, clock: Clock, app: Application, *,
            limits: Limits | None, may_send: Callable[[], bool]) -> OutboxSender:
    """The one pacer per bot token; it sends only while this process leads (the fence)."""
    return OutboxSender(
        db, app.bot, clock, limits=limits,
        operator_chat_id=settings.telegram.operator_chat_id,
        on_chat_migrated=lambda old, new: db.call(
            lambda s: move_chat(s, old, new, clock.now())),
        may_send=may_send)


def _ops_server(settings: Settings, db: Database, clock: Clock, leadership: Leadership | None,
                scheduler: ApelScheduler, sender: OutboxSender,
                pump: UpdatePump) -> OpsServer | None:
    """/healthz and /metrics, and in webhook mode the route Telegram posts updates to; None
    when [http] listen is not set."""
    if not settings.http.listen:
        return None
    ops = OpsServer(Probes(
        db, clock, clock.now(), lambda: leadership.role if leadership else "leader",
        last_tick_at=lambda: scheduler.last_tick_at,
        telegram_last_success_at=lambda: sender.last_success_at,
    ), settings.http.listen)
    if settings.telegram.mode == "webhook":
        ops.add_webhook(urlsplit(settings.telegram.webhook_url).path or "/",
                        settings.telegram.resolved_webhook_secret(), pump.receive_one)
    return ops
