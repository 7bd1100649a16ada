"""The Application: one builder chain, the handlers in their order, error reporting; and the
start and stop of the parts bot/bootstrap.py built (receiving, leading, draining)."""

from __future__ import annotations

import asyncio
import logging

from telegram import BotCommand, Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from bot.delivery import inbox
from bot.org import menus
from bot.platform.config import Settings
from bot.platform.db import connection_lost
from bot.platform.texts import render
from bot.telegram import chat_guard
from bot.telegram.handlers import (
    announce,
    corrections,
    leave,
    pakta,
    pledge,
    registration,
    reports,
    start,
    swaps,
)
from bot.telegram.http import AiohttpRequest
from bot.telegram.runtime import KEY, Runtime
from bot.telegram.updates import CONCURRENCY as UPDATES_AT_ONCE
from bot.telegram.updates import CURRENT as CURRENT_UPDATE

log = logging.getLogger(__name__)

# Each answer to a press is one request on its own connection for a round trip, so a burst
# needs hundreds of connections (PTB's own default is 256; 64 capped presses at 226/s).
HTTP_CONNECTIONS = 256
# What the bot asks Telegram for: my_chat_member tells it when someone adds it to a group.
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]


def handler_modules() -> list:
    """The handlers, in the order they register (and their MENU entries are listed): each has
    register(app), maybe register_fallbacks(app), and maybe MENU, a list of (command, template
    of its menu description) for everyone, or (command, template, roles) for those roles only
    (see bot/org/menus.py); /bantuan explains each entry by its template
    (bot/messages/help_command.html.j2). A new handler module is added here."""
    return [announce, corrections, leave, pakta, pledge, registration, reports, start, swaps]


def menu_table(modules: list | None = None) -> list[menus.MenuCommand]:
    """Every module's MENU entries, descriptions rendered, in module order."""
    table = []
    for module in handler_modules() if modules is None else modules:
        for command, template, *roles in getattr(module, "MENU", ()):
            table.append(menus.MenuCommand(command, render(template),
                                           frozenset(roles[0]) if roles else None,
                                           key=template))
    return table


def new_application(settings: Settings, token: str) -> Application:
    """PTB's Application, no handlers yet."""
    builder: ApplicationBuilder = (
        Application.builder().token(token)
        .concurrent_updates(UPDATES_AT_ONCE)  # as many as the update pump hands on
        .request(AiohttpRequest(connection_limit=HTTP_CONNECTIONS))
        # No PTB Updater: updates come in through the inbox (bot/telegram/updates.py), stored
        # before Telegram is told they arrived.
        .updater(None))
    if settings.telegram.base_url:
        builder = builder.base_url(settings.telegram.base_url)
    if settings.telegram.base_file_url:
        builder = builder.base_file_url(settings.telegram.base_file_url)
    return builder.build()


def install_handlers(app: Application) -> None:
    """The chat guard, every handler module's handlers, then their fallbacks, and the error
    handler. The Runtime is in bot_data already: some handlers read their settings from it."""
    chat_guard.install(app)  # in front of every handler: only the bot's own chats are served
    modules = handler_modules()
    for module in modules:
        module.register(app)
    for module in modules:
        if hasattr(module, "register_fallbacks"):
            module.register_fallbacks(app)
    app.add_error_handler(_on_error)


async def serve(app: Application, stop: asyncio.Event) -> None:
    """Run until `stop` is set (a signal, or leadership lost), then drain: updates being
    handled finish, sends in flight finish, queued messages and unhandled updates stay in the
    database. Every process receives and handles updates (webhook mode); only the leader
    polls, rings the bells and sends."""
    rt: Runtime = app.bot_data[KEY]
    await app.initialize()
    try:
        await app.start()
        if rt.leadership is not None and rt.leadership.decides_at_once:
            # SQLite: the lease first (or LeaseHeld, exit 3), so a second `run` neither binds
            # the ops port nor handles the inbox of the one serving this database.
            if await rt.leadership.wait(stop):
                await _take_over_the_inbox(rt)
        await start_receiving(app)
        if rt.leadership is None or await rt.leadership.wait(stop):
            await start_leading(app)
            await stop.wait()
    finally:
        await stop_services(app)
        if app.running:
            await app.stop()
        await app.shutdown()


async def _take_over_the_inbox(rt: Runtime) -> None:
    """Alone on the database: updates a killed process held are handled now, not after their
    claim runs out (a minute, by which time every toast has expired)."""
    released = await rt.run(lambda s: inbox.release_others(s, rt.pump.holder))
    if released:
        log.info("%d updates held by a previous process are handled again", released)


async def start_services(app: Application) -> None:
    """The whole bot in one process (tests, the demo): receiving and leading."""
    await start_receiving(app)
    await start_leading(app)


async def start_receiving(app: Application) -> None:
    """/healthz and /metrics, the webhook (webhook mode), and handling the inbox."""
    rt: Runtime = app.bot_data[KEY]
    await rt.pump.announce()  # before the webhook stores anything in this process's name
    if rt.ops is not None:
        await rt.ops.start()
    rt.pump.start(poll=False)


async def start_leading(app: Application) -> None:
    """The leader's part: the command menu, the outbox sender, getUpdates or the webhook
    registration, and the scheduler (with a catch-up pass before the first tick)."""
    rt: Runtime = app.bot_data[KEY]
    settings = rt.settings
    await app.bot.set_my_commands([BotCommand(c["command"], c["description"])
                                   for c in menus.default_commands(rt.menu_table)])
    rt.background.append(asyncio.create_task(rt.sender.run(), name="outbox-sender"))
    # Updates first: a press waits for nothing of the start-up below.
    if settings.telegram.mode == "webhook":
        await app.bot.set_webhook(settings.telegram.webhook_url, allowed_updates=ALLOWED_UPDATES,
                                  secret_token=settings.telegram.resolved_webhook_secret(),
                                  max_connections=settings.telegram.webhook_max_connections)
    else:
        await app.bot.delete_webhook()  # getUpdates is refused while a webhook is set
        rt.pump.start_polling()
    if rt.run_scheduler:  # the due apel open (briefings queued) before the menus are queued
        await asyncio.to_thread(rt.scheduler.reconcile)
    # Each registered person's own menu (by role); role changes follow in the housekeeping job.
    await asyncio.to_thread(rt.scheduler.sync_menus, full=True)
    if rt.run_scheduler:
        rt.scheduler.start()


async def stop_services(app: Application) -> None:
    """Stop ringing (at once: draining the updates may take seconds, and a process stopping
    because another leads now should start no new job; one already running finishes, and its
    writes are safe to repeat); stop receiving and let the updates
    being handled finish; let the sends in flight finish, then stop the sender. Safe for parts
    that never started (a standby)."""
    rt: Runtime = app.bot_data[KEY]
    rt.scheduler.stop()
    await rt.pump.stop()
    await rt.sender.stop()
    for task in rt.background:
        task.cancel()
    await asyncio.gather(*rt.background, return_exceptions=True)
    rt.background.clear()
    for writer in (rt.writer, rt.pledges):
        await writer.close()
    if rt.ops is not None:
        await rt.ops.stop()


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    received = CURRENT_UPDATE.get()
    if received is not None and connection_lost(context.error):
        received.again = True
        log.warning("database connection lost while handling inbox row %d (%s); it will be "
                    "handled again", received.inbox_id, context.error)
        return
    log.error("error while handling an update", exc_info=context.error)
    rt: Runtime | None = context.application.bot_data.get(KEY)
    if rt is None:
        return
    what = "handling an update"
    if isinstance(update, Update) and update.effective_message and update.effective_message.text:
        what = f"handling {update.effective_message.text.split()[0][:40]}"
    await asyncio.to_thread(rt.alert, what, context.error)
