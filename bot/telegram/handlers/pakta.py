"""/pakta: the integrity pact to read and sign (everyone), who has signed (Kalapas, Satgas,
Kanwil, admins); an 18-digit NIP typed in the private chat signs; the `m:` buttons."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.telegram.handlers.unit_flow import command_handler, press_handler, run_command
from bot.telegram.runtime import runtime
from bot.unit_admin import pakta

MENU = [
    ("pakta", "menu_pakta_status", ("kalapas", "admin", "kanwil", "satgas")),
    ("pakta", "menu_pakta", ("pegawai",)),
]
NIP_TEXT = r"^\s*\d{18}\s*$"


command = command_handler(pakta.command)


async def nip_typed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A bare NIP in the private chat: the pact's signature (or a pointer to /daftar)."""
    rt = runtime(context)
    typed = update.effective_message.text.strip()
    await run_command(update, context, lambda s, actor, text, now: pakta.sign(
        s, rt.settings, actor=actor, typed=text, now=now), text=typed)


press = press_handler(pakta.press)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("pakta", command))
    app.add_handler(MessageHandler(
        filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND & filters.Regex(NIP_TEXT),
        nip_typed))
    app.add_handler(CallbackQueryHandler(press, pattern=pakta.BUTTONS.pattern))
