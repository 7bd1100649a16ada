"""/tukar (duty swaps: KPLP and admins for regu, Karupam for their own people) and /jadwal
(who stands which apel, for anyone registered, also in groups); the `t:` buttons."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.services import swaps
from bot.telegram.handlers.unit_flow import run_command, run_press
from bot.telegram.runtime import runtime

MENU = [
    ("jadwal", "menu_jadwal", ("pegawai", "admin", "kanwil", "satgas")),
    ("tukar", "menu_tukar", ("karupam", "kplp", "admin")),
]


async def tukar(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    await run_command(update, context, lambda s, actor, text, now: swaps.command(
        s, rt.settings, actor=actor, text=text, now=now))


async def jadwal(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    await run_command(update, context, lambda s, actor, text, now: swaps.schedule(
        s, rt.settings, actor=actor, text=text, now=now), private_only=False)


async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    await run_press(update, context, lambda s, actor, data, now, origin: swaps.press(
        s, rt.settings, actor=actor, data=data, now=now, origin=origin))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("tukar", tukar))
    app.add_handler(CommandHandler("jadwal", jadwal))
    app.add_handler(CallbackQueryHandler(press, pattern=r"^t:"))
