"""/koreksi: the KPLP, the Kalapas or an admin excuses a person reported missing at a past
apel, with a reason; the `k:` buttons."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.services import corrections
from bot.telegram.handlers.unit_flow import run_command, run_press
from bot.telegram.runtime import runtime

MENU = [("koreksi", "menu_koreksi", ("kplp", "kalapas", "admin"))]


async def koreksi(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    await run_command(update, context, lambda s, actor, text, now: corrections.command(
        s, rt.settings, actor=actor, text=text, now=now))


async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    await run_press(update, context, lambda s, actor, data, now, origin: corrections.press(
        s, rt.settings, actor=actor, data=data, now=now, origin=origin))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("koreksi", koreksi))
    app.add_handler(CallbackQueryHandler(press, pattern=r"^k:"))
