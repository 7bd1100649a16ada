"""/start and /bantuan: what this person can do, given their role; a reply to anything else."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from bot.org.access import actor_for
from bot.org.menus import help_context
from bot.telegram.handlers.common import is_private, real_user_id, reply_key
from bot.telegram.runtime import runtime

MENU = [("bantuan", "menu_bantuan")]


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start: the chat guard has noted the private chat as working, as for any message."""
    await help_(update, context)


async def help_(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    user_id = real_user_id(update)
    if user_id is None:
        return
    shown = await rt.run(lambda s: help_context(
        s, rt.settings, rt.menu_table, actor_for(s, rt.settings, user_id)))
    await rt.reply(update.effective_chat.id, "help", key=reply_key(update),
                   private=is_private(update), **shown)


async def unknown(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Unknown commands and free text in a private chat get a short pointer to /bantuan."""
    rt = runtime(context)
    if real_user_id(update) is None or not is_private(update):
        return
    await rt.reply(update.effective_chat.id, "unknown_input", key=reply_key(update))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("bantuan", help_))


def register_fallbacks(app: Application) -> None:
    """Registered last in group 0, so only what no other handler took lands here."""
    app.add_handler(MessageHandler(filters.COMMAND | filters.TEXT, unknown))
