"""/cuti: record leave (Karupam, KPLP, admin), ask for one's own (guards), list today's leave,
end a leave early; the `c:` buttons."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.services import leave
from bot.telegram.handlers.unit_flow import run_command, run_press
from bot.telegram.runtime import runtime

# Who sees /cuti in their menu, and with which description (the first match wins).
MENU = [
    ("cuti", "menu_cuti", ("karupam", "kplp", "admin")),
    ("cuti", "menu_cuti_lihat", ("kalapas", "satgas", "kanwil")),
    ("cuti", "menu_cuti_ajukan", ("pegawai",)),
]


async def cuti(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    await run_command(update, context, lambda s, actor, text, now: leave.command(
        s, rt.settings, actor=actor, text=text, now=now))


async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    await run_press(update, context, lambda s, actor, data, now, origin: leave.press(
        s, rt.settings, actor=actor, data=data, now=now, origin=origin))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("cuti", cuti))
    app.add_handler(CallbackQueryHandler(press, pattern=r"^c:"))
