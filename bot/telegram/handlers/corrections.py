"""/koreksi: the KPLP, the Kalapas or an admin excuses a person reported missing at a past
apel, with a reason; the `k:` buttons."""

from __future__ import annotations

from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.telegram.handlers.unit_flow import command_handler, press_handler
from bot.unit_admin import corrections

MENU = [("koreksi", "menu_koreksi", ("kplp", "kalapas", "admin"))]


koreksi = command_handler(corrections.command)
press = press_handler(corrections.press)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("koreksi", koreksi))
    app.add_handler(CallbackQueryHandler(press, pattern=corrections.BUTTONS.pattern))
