"""/tukar (duty swaps: KPLP and admins for regu, Karupam for their own people) and /jadwal
(who stands which apel, for anyone registered, also in groups); the `t:` buttons."""

from __future__ import annotations

from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.telegram.handlers.unit_flow import command_handler, press_handler
from bot.unit_admin import schedule, swap_command, swap_rules

MENU = [
    ("jadwal", "menu_jadwal", ("pegawai", "kalapas", "admin", "kanwil", "satgas")),
    ("tukar", "menu_tukar", ("karupam", "kplp", "admin")),
]


tukar = command_handler(swap_command.command)
jadwal = command_handler(schedule.schedule, private_only=False)  # also in groups
press = press_handler(swap_command.press)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("tukar", tukar))
    app.add_handler(CommandHandler("jadwal", jadwal))
    app.add_handler(CallbackQueryHandler(press, pattern=swap_rules.BUTTONS.pattern))
