"""/cuti: record leave (Karupam, KPLP, admin), ask for one's own (guards), list today's leave,
end a leave early; the `c:` buttons."""

from __future__ import annotations

from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.telegram.handlers.unit_flow import command_handler, press_handler
from bot.unit_admin import leave

# Who sees /cuti in their menu, and with which description (the first match wins).
MENU = [
    ("cuti", "menu_cuti", ("karupam", "kplp", "admin")),
    ("cuti", "menu_cuti_lihat", ("kalapas", "satgas", "kanwil")),
    ("cuti", "menu_cuti_ajukan", ("pegawai",)),
]


cuti = command_handler(leave.command)
press = press_handler(leave.press)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("cuti", cuti))
    app.add_handler(CallbackQueryHandler(press, pattern=leave.BUTTONS.pattern))
