"""Shared plumbing of the unit-administration handlers (/cuti, /tukar, /jadwal, /pakta,
/koreksi): who is asking, the service call and its reply in one transaction, button presses
answered with a toast. No register(): this module is a helper, not a feature."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlmodel import Session
from telegram import Update
from telegram.ext import ContextTypes

from bot.org.access import Actor, actor_for
from bot.platform.texts import render
from bot.telegram.handlers.common import is_private, real_user_id, reply_key, toast
from bot.telegram.runtime import runtime
from bot.unit_admin.common import Origin, PressOutcome, Reply, deliver

CommandFn = Callable[[Session, Actor, str, datetime], Reply]
PressFn = Callable[[Session, Actor, str, datetime, Origin | None], PressOutcome]
Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


def command_handler(service: Callable[..., Reply], *, private_only: bool = True) -> Handler:
    """The handler of a command whose service is `service(session, settings, *, actor, text,
    now)` (leave.command, swap_command.command, ...): run_command with the runtime's settings."""
    async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        settings = runtime(context).settings
        await run_command(update, context, lambda s, actor, text, now: service(
            s, settings, actor=actor, text=text, now=now), private_only=private_only)

    return handle


def press_handler(service: Callable[..., PressOutcome]) -> Handler:
    """The handler of a feature's buttons whose service is `service(session, settings, *, actor,
    data, now, origin)` (leave.press, swap_command.press, ...): run_press with the runtime's
    settings."""
    async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        settings = runtime(context).settings
        await run_press(update, context, lambda s, actor, data, now, origin: service(
            s, settings, actor=actor, data=data, now=now, origin=origin))

    return handle


async def run_command(update: Update, context: ContextTypes.DEFAULT_TYPE, fn: CommandFn, *,
                      private_only: bool = True, text: str | None = None) -> None:
    """Authorise inside the service (roles are read fresh), reply through the outbox."""
    rt = runtime(context)
    user_id = real_user_id(update)
    if user_id is None or update.effective_chat is None:
        return
    chat_id = update.effective_chat.id
    key = reply_key(update)
    if private_only and not is_private(update):
        await rt.reply(chat_id, "private_only", key=key)
        return
    words = " ".join(context.args or []) if text is None else text
    now = rt.clock.now()

    def work(session: Session) -> None:
        actor = actor_for(session, rt.settings, user_id)
        deliver(session, chat_id=chat_id, key=key, reply=fn(session, actor, words, now), now=now)

    await rt.run(work)
    rt.wake_sender()


async def run_press(update: Update, context: ContextTypes.DEFAULT_TYPE, fn: PressFn) -> None:
    """A button of ours: checked data, the presser's rights checked again by the service."""
    rt = runtime(context)
    query = update.callback_query
    user_id = real_user_id(update)
    if query is None or user_id is None or not is_private(update):
        await toast(update, render("toast_invalid"))
        return
    message = query.message
    origin = None
    if message is not None and getattr(message, "text_html", None):
        origin = Origin(message.chat.id, message.message_id, message.text_html)
    now = rt.clock.now()
    chat_id = update.effective_chat.id

    def work(session: Session) -> PressOutcome:
        actor = actor_for(session, rt.settings, user_id)
        outcome = fn(session, actor, query.data or "", now, origin)
        if outcome.reply is not None:
            deliver(session, chat_id=chat_id, key=reply_key(update),
                    reply=outcome.reply, now=now)
        return outcome

    outcome = await rt.run(work)
    rt.wake_sender()
    await toast(update, outcome.toast)
