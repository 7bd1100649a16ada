"""/start and /bantuan: what this person can do, given their role; a reply to anything else."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from bot.org.access import actor_for
from bot.org.registration import mark_started
from bot.telegram.handlers.common import is_private, real_user_id
from bot.telegram.runtime import runtime

MENU = [("bantuan", "menu_bantuan")]


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    user_id = real_user_id(update)
    if user_id is None:
        return
    if is_private(update):
        await rt.run(lambda s: mark_started(s, user_id))
    await help_(update, context)


async def help_(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    user_id = real_user_id(update)
    if user_id is None:
        return
    actor = await rt.run(lambda s: actor_for(s, rt.settings, user_id))
    await rt.reply(update.effective_chat.id, "help", key=f"reply:{update.update_id}",
                   actor=actor, private=is_private(update))


async def unknown(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Unknown commands and free text in a private chat get a short pointer to /bantuan."""
    rt = runtime(context)
    if real_user_id(update) is None or not is_private(update):
        return
    await rt.reply(update.effective_chat.id, "unknown_input", key=f"reply:{update.update_id}")


def register(app: Application) -> None:
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("bantuan", help_))


def register_fallbacks(app: Application) -> None:
    """Registered last in group 0, so only what no other handler took lands here."""
    app.add_handler(MessageHandler(filters.COMMAND | filters.TEXT, unknown))
