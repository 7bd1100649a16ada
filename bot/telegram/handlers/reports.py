"""/rekap, /belum, /status, /regu, /unduh, /grafik and their `q:` buttons (private chat only).

Thin: parse, check who asks (from the database, on every command and every press), call
bot/reports/ (views.py, files.py), answer through the outbox (replies.py). Workbooks and charts
are read in one transaction and rendered in a worker thread, so nobody waits behind them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.calendar.periods import (
    SPEC_PERIOD,
    SPEC_TODAY,
    PeriodError,
    PeriodSpec,
    parse_period,
    split_period,
)
from bot.platform.texts import render
from bot.reports import buttons, files, replies, views
from bot.reports.scope import log_refusal, scope_for
from bot.telegram.handlers.common import is_private, real_user_id, reply_key, toast
from bot.telegram.runtime import Runtime, runtime

log = logging.getLogger(__name__)

READERS = ("kalapas", "satgas", "kanwil", "admin")  # the menu; access is checked per request
MENU = [(command, f"menu_{command}", READERS)
        for command in ("rekap", "belum", "status", "regu", "unduh", "grafik")]


# --- commands ----------------------------------------------------------------------------------


@dataclass
class Asked:
    """A command that passed the gate: who, where, the words after it and their period."""

    rt: Runtime
    user_id: int
    chat_id: int
    key: str
    text: str
    parsed: object = None  # what `parse` made of the text: a PeriodSpec, or (query, PeriodSpec)


async def _gate(update: Update, context: ContextTypes.DEFAULT_TYPE, command: str,
                parse: Callable[[str], object] | None = None) -> Asked | None:
    """A real person in a private chat, and (with `parse`) a period we understand; or a polite
    answer and None."""
    rt = runtime(context)
    chat_id = update.effective_chat.id
    key = reply_key(update)
    user_id = real_user_id(update)
    if user_id is None:
        who = update.effective_user.id if update.effective_user else None
        log_refusal(command, who, None, "(anonymous admin, channel or service account)")
        await rt.reply(chat_id, "rekap_refused", key=key, reason="anonymous")
        return None
    if not is_private(update):
        await rt.reply(chat_id, "private_only", key=key)
        return None
    text = " ".join(context.args or [])
    asked = Asked(rt, user_id, chat_id, key, text)
    if parse is not None:
        try:
            asked.parsed = parse(text)
        except PeriodError as err:
            await rt.reply(chat_id, "rekap_usage", key=key, reason=err.reason, text=text,
                           command=command)
            return None
    return asked


async def _answer(asked: Asked, command: str, build: replies.Build, *, pressed: bool = False,
                  edit_message_id: int | None = None) -> bool:
    """Check the scope, build the view and queue it, in one transaction. False: refused."""
    rt, user_id, now = asked.rt, asked.user_id, asked.rt.clock.now()
    scope, ok = await rt.run(lambda s: replies.answer(
        s, rt.settings, user_id=user_id, chat_id=asked.chat_id, key=asked.key, now=now,
        build=build, pressed=pressed, edit_message_id=edit_message_id))
    if not ok:
        log_refusal(command, user_id, scope)
    rt.wake_sender()
    return ok


async def rekap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    asked = await _gate(update, context, "rekap", lambda text: parse_period(text, SPEC_TODAY))
    if asked is None:
        return
    rt, spec, now = asked.rt, asked.parsed, asked.rt.clock.now()
    await _answer(asked, "rekap",
                  lambda s, scope: views.rekap_view(s, rt.settings, scope, spec, now))


async def belum(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    asked = await _gate(update, context, "belum")
    if asked is None:
        return
    rt, now = asked.rt, asked.rt.clock.now()
    await _answer(asked, "belum",
                  lambda s, scope: views.belum_command_view(s, rt.settings, scope, now))


async def status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _search(update, context, "status", views.status_search_view)


async def regu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _search(update, context, "regu", views.regu_search_view)


async def _search(update: Update, context: ContextTypes.DEFAULT_TYPE, command: str,
                  search: Callable) -> None:
    asked = await _gate(update, context, command, lambda text: split_period(text, SPEC_PERIOD))
    if asked is None:
        return
    rt, (query, spec), now = asked.rt, asked.parsed, asked.rt.clock.now()
    if len(query) < (2 if command == "status" else 1):
        await _answer(asked, command,
                      lambda s, scope: views.usage_view(scope, command, asked.text))
        return
    await _answer(asked, command,
                  lambda s, scope: search(s, rt.settings, scope, query, spec, now))


async def unduh(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _file_command(update, context, "unduh")


async def grafik(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _file_command(update, context, "grafik")


async def _file_command(update: Update, context: ContextTypes.DEFAULT_TYPE, kind: str) -> None:
    asked = await _gate(update, context, kind, lambda text: parse_period(text, SPEC_PERIOD))
    if asked is None:
        return
    await _send_file(asked.rt, kind, asked.user_id, asked.chat_id, asked.key, None,
                     asked.parsed, command=True)


async def _send_file(rt: Runtime, kind: str, user_id: int, chat_id: int, key: str,
                     unit_id: int | None, spec: PeriodSpec, *, command: bool) -> bool:
    """Read (one transaction), render (worker thread), send (outbox). False: refused."""
    now = rt.clock.now()
    scope, job, ok = await rt.run(lambda s: files.read_file_request(
        s, rt.settings, user_id=user_id, chat_id=chat_id, key=key, now=now, kind=kind,
        unit_id=unit_id, spec=spec, command=command))
    if not ok:
        log_refusal(kind, user_id, scope, f"unit {unit_id}")
    if job is not None:
        done = await asyncio.to_thread(files.render_file, job)
        log.info("%s for tg:%s: unit %s %s..%s, %d bytes", kind, user_id, job.unit.code,
                 job.span.start, job.span.end, len(done.content))
        await rt.run(lambda s: replies.send_file(
            s, chat_id=chat_id, kind=done.method_kind, filename=done.filename,
            content=done.content, caption=done.caption, key=f"{key}:file", now=now))
    rt.wake_sender()
    return ok


# --- buttons -----------------------------------------------------------------------------------


async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    query = update.callback_query
    parsed = buttons.parse_callback(query.data)
    user_id = real_user_id(update)
    if parsed is None or user_id is None:
        if user_id is None:
            log_refusal(f"button {query.data!r}", None, None, "(anonymous)")
        await toast(update, render("toast_invalid"))
        return
    message = query.message
    in_private = message is not None and message.chat.id == user_id
    edit_id = message.message_id if in_private else None
    chat_id, key, now = user_id, f"q:{query.id}", rt.clock.now()
    action, target, spec = parsed.action, parsed.target, parsed.spec

    if action in buttons.FILE_ACTIONS:
        # Check first (cheap), so a refusal is not announced as "being prepared".
        scope = await rt.run(lambda s: scope_for(s, rt.settings, user_id))
        if not scope.allowed or (target is not None and scope.unit(target) is None):
            log_refusal(f"button {query.data}", user_id, scope)
            await toast(update, render("rekap_toast", part="refused"))
            return
        await toast(update, render("rekap_toast", part="preparing"))
        await _send_file(rt, action, user_id, chat_id, key, target, spec, command=False)
        return

    ok = await _answer(Asked(rt, user_id, chat_id, key, ""), f"button {query.data}",
                       lambda s, scope: views.press_view(s, rt.settings, scope, parsed, now),
                       pressed=True, edit_message_id=edit_id)
    await toast(update, "" if ok else render("rekap_toast", part="refused"))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("rekap", rekap))
    app.add_handler(CommandHandler("belum", belum))
    app.add_handler(CommandHandler("status", status))
    app.add_handler(CommandHandler("regu", regu))
    app.add_handler(CommandHandler("unduh", unduh))
    app.add_handler(CommandHandler("grafik", grafik))
    app.add_handler(CallbackQueryHandler(press, pattern=r"^q:"))
