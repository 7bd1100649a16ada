"""/umumkan (compose, preview, send), the "Sudah dibaca" button, and the wiring of every
announcement handler (/dibaca, /pengumuman, /tarik and the buttons under a report are in
announce_follow_up.py). Each handler parses the update, calls the dialog
(bot/announcements/dialog.py) and renders what comes back: a toast, the conversation's next
stage. The answers themselves are in the outbox.

The compose conversation and concurrent updates: the Application runs with
concurrent_updates(True), and PTB's ConversationHandler warns that it expects updates one by
one (a blocking callback's new state is stored only after it returns, so two quick updates of
the same user can both be routed by the old state — a double tap on "Kirim" could send twice).
So, in three layers:
1. every callback of the conversation runs with block=False: PTB then stores a pending state
   for the conversation *before* the callback runs, and any update arriving meanwhile goes to
   the WAITING handlers (a polite "please wait") instead of a second callback;
2. the draft lives in context.user_data and is read and changed only under a per-user
   asyncio.Lock; each button carries the draft's token and each step checks the draft's stage,
   so a stale or repeated button (also racing the idle timeout, which runs from the JobQueue)
   does nothing;
3. the send is idempotent in the database: Announcement.draft_key is unique.
A draft is not persisted: after a restart the sender starts again. The announcement, once sent,
is a database row with its posts in the outbox, written in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.announcements import compose, confirmations, dialog, views
from bot.announcements.buttons import COMPOSE, FOLLOW_UP, READ, parse_ack_callback
from bot.announcements.compose import MEDIA, PREVIEW, TARGET, TEXT, Draft, Next, Step
from bot.delivery.replies import Asker
from bot.platform.texts import render
from bot.telegram.handlers import announce_follow_up as follow_up
from bot.telegram.handlers.common import answer, asker_of, real_user_id, reply_key, toast
from bot.telegram.runtime import KEY, Runtime, runtime

log = logging.getLogger(__name__)

# Who sees these in their menu (access is checked per request): senders are Satgas members
# and admins; a Kalapas follows up the announcements that reached their unit.
MENU = [("umumkan", "announce_menu_umumkan", ("satgas", "admin")),
        ("dibaca", "announce_menu_dibaca", ("kalapas", "satgas", "admin")),
        ("pengumuman", "announce_menu_pengumuman", ("kalapas", "satgas", "admin")),
        ("tarik", "announce_menu_tarik", ("satgas", "admin"))]

END = ConversationHandler.END
DRAFT = "announce_draft"
LOCKS = "announce_locks"


def _lock(context: ContextTypes.DEFAULT_TYPE, user_id: int) -> asyncio.Lock:
    locks: dict[int, asyncio.Lock] = context.application.bot_data.setdefault(LOCKS, {})
    lock = locks.get(user_id)
    if lock is None:
        lock = locks[user_id] = asyncio.Lock()
    return lock


def _stage(stage: str | None) -> object:
    return END if stage == dialog.DONE else stage


# --- compose -----------------------------------------------------------------------------------


async def umumkan(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
    rt = runtime(context)
    user_id = real_user_id(update)
    if user_id is None:
        return END
    draft = compose.new_draft()
    asker = asker_of(update, user_id, rt.clock.now())
    stage = await answer(rt, lambda s: dialog.start(s, rt.settings, asker, draft))
    if stage == TEXT:
        async with _lock(context, user_id):
            context.user_data[DRAFT] = draft
    return _stage(stage)


async def _on_message(update: Update, context: ContextTypes.DEFAULT_TYPE, user_id: int,
                      step_of: Callable[[Draft | None], Step]) -> object:
    """A text or a media message: the draft's step under its lock, then what it asks next."""
    rt = runtime(context)
    async with _lock(context, user_id):
        draft: Draft | None = context.user_data.get(DRAFT)
        step, asker = step_of(draft), asker_of(update, user_id, rt.clock.now())
        return _stage(await answer(rt, lambda s: dialog.after_message(
            s, rt.settings, asker, draft, step)))


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
    user_id = real_user_id(update)
    message = update.effective_message
    if user_id is None or message is None:
        return None
    return await _on_message(update, context, user_id, lambda draft: compose.typed_text(
        draft, message.text_html, len(message.text or "")))


async def on_media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
    user_id = real_user_id(update)
    message = update.effective_message
    if user_id is None or message is None:
        return None
    if message.photo:
        kind, file_id = "photo", message.photo[-1].file_id
    elif message.document is not None:
        kind, file_id = "document", message.document.file_id
    else:
        return await on_other(update, context)
    caption_html = message.caption_html if message.caption else None
    return await _on_message(update, context, user_id, lambda draft: compose.sent_media(
        draft, kind, file_id, caption_html, len(message.caption or "")))


async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
    """A message the current step does not take (text at the buttons, a sticker...)."""
    rt = runtime(context)
    draft: Draft | None = context.user_data.get(DRAFT)
    await rt.reply(update.effective_chat.id, "announce_hint", key=reply_key(update),
                   stage=draft.stage if draft else "")
    return None


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
    rt = runtime(context)
    if (press := await follow_up.pressed(update, COMPOSE)) is None:
        return None
    user_id, button = press
    async with _lock(context, user_id):
        draft: Draft | None = context.user_data.get(DRAFT)
        step, asker = compose.pressed(draft, button), asker_of(update, user_id, rt.clock.now())
        if step.next is Next.EXPIRED:  # a stale or repeated button: the draft stays as it is
            await toast(update, views.toast("expired"))
            return END if draft is None else None
        if step.next is Next.CANCEL:
            context.user_data.pop(DRAFT, None)
            await toast(update, views.toast("cancelled"))
            return _stage(await answer(rt, lambda s: dialog.cancel(s, asker)))
        if step.next is Next.SKIP_MEDIA:
            await toast(update, views.toast("no_media"))
            return _stage(await answer(rt, lambda s: dialog.skip_media(
                s, rt.settings, asker, draft)))
        if step.next is Next.PREVIEW:
            return await _preview(rt, update, draft, asker, step.scope)
        return await _send_announcement(rt, update, context, draft, asker)


async def _preview(rt: Runtime, update: Update, draft: Draft, asker: Asker,
                   scope: str) -> object:
    if not await answer(rt, lambda s: dialog.preview(s, rt.settings, asker, draft, scope)):
        await toast(update, views.toast("not_allowed"))
        return None
    draft.previewed(scope)
    await toast(update, views.toast("target"))
    return PREVIEW


async def _send_announcement(rt: Runtime, update: Update, context: ContextTypes.DEFAULT_TYPE,
                             draft: Draft, asker: Asker) -> object:
    try:
        await answer(rt, lambda s: dialog.send(s, rt.settings, asker, draft))
    except SQLAlchemyError:
        log.exception("announcement of %d not sent", asker.user_id)
        await toast(update, render("toast_busy"), alert=True)
        return None  # the draft stays: "Kirim" may be pressed again
    context.user_data.pop(DRAFT, None)
    await toast(update, views.toast("sent"))
    return END


async def on_cancel_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
    rt = runtime(context)
    user_id = real_user_id(update)
    if user_id is None:
        return None
    async with _lock(context, user_id):
        context.user_data.pop(DRAFT, None)
    asker = asker_of(update, user_id, rt.clock.now())
    return _stage(await answer(rt, lambda s: dialog.cancel(s, asker)))


async def on_timeout(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The conversation sat idle: drop the draft, say so once."""
    rt = runtime(context)
    user = update.effective_user if isinstance(update, Update) else None
    if user is None:
        return
    async with _lock(context, user.id):
        draft: Draft | None = context.user_data.pop(DRAFT, None)
    if draft is None:
        return
    await rt.reply(user.id, "announce_timeout", key=f"an-timeout:{user.id}:{draft.token}",
                   minutes=views.minutes(rt.settings.announcements.compose_timeout_minutes))


async def on_waiting(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An update while this user's previous one is still being handled."""
    rt = runtime(context)
    if update.callback_query is not None:
        await toast(update, views.toast("wait"))
    elif update.effective_chat is not None:
        await rt.reply(update.effective_chat.id, "announce_wait", key=reply_key(update))


async def stale_compose_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A compose button with no conversation behind it (finished, timed out, restarted)."""
    await toast(update, views.toast("expired"))


# --- confirmations -----------------------------------------------------------------------------


async def on_read(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    announcement_id = parse_ack_callback(update.callback_query.data)
    user_id = real_user_id(update)
    if announcement_id is None or user_id is None:
        await toast(update, render("toast_invalid"))
        return
    chat_id = update.effective_chat.id if update.effective_chat else user_id
    now = rt.clock.now()
    try:
        outcome = await rt.run_batched(lambda s: confirmations.acknowledge(
            s, announcement_id=announcement_id, telegram_user_id=user_id, chat_id=chat_id,
            now=now))
    except SQLAlchemyError:
        log.exception("acknowledgement of %d for announcement %d not recorded", user_id,
                      announcement_id)
        await toast(update, render("toast_busy"), alert=True)
        return
    await toast(update, views.ack_toast(outcome))


async def private_only(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    if real_user_id(update) is None:
        return
    await rt.reply(update.effective_chat.id, "private_only", key=reply_key(update))


# --- wiring ------------------------------------------------------------------------------------


def conversation(timeout_seconds: float) -> ConversationHandler:
    private = filters.ChatType.PRIVATE
    compose_button = CallbackQueryHandler(on_button, pattern=COMPOSE.pattern)
    text = MessageHandler(private & filters.TEXT & ~filters.COMMAND, on_text)
    media = MessageHandler(private & (filters.PHOTO | filters.Document.ALL), on_media)
    with warnings.catch_warnings():
        # "CallbackQueryHandler will not be tracked for every message": intended — the draft's
        # token in the button data ties a press to its draft, not the message id.
        warnings.simplefilter("ignore", PTBUserWarning)
        return ConversationHandler(
            entry_points=[CommandHandler("umumkan", umumkan, filters=private)],
            states={
                TEXT: [text, media, compose_button],
                MEDIA: [media, text, compose_button],
                TARGET: [compose_button],
                PREVIEW: [compose_button],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, on_timeout)],
                ConversationHandler.WAITING: [
                    CallbackQueryHandler(on_waiting, pattern=COMPOSE.pattern),
                    MessageHandler(private & ~filters.COMMAND, on_waiting)],
            },
            fallbacks=[
                CommandHandler("batal", on_cancel_command, filters=private),
                compose_button,
                MessageHandler(private & ~filters.COMMAND, on_other),
            ],
            allow_reentry=True,
            conversation_timeout=timeout_seconds,
            name="announce",
            block=False,
        )


def register(app: Application) -> None:
    rt: Runtime = app.bot_data[KEY]
    app.add_handler(conversation(rt.settings.announcements.compose_timeout_minutes * 60))
    private = filters.ChatType.PRIVATE
    app.add_handler(CommandHandler(["umumkan", "dibaca", "pengumuman", "tarik"],
                                   private_only, filters=~private))
    app.add_handler(CommandHandler("dibaca", follow_up.dibaca, filters=private))
    app.add_handler(CommandHandler("pengumuman", follow_up.pengumuman, filters=private))
    app.add_handler(CommandHandler("tarik", follow_up.tarik, filters=private))
    app.add_handler(CallbackQueryHandler(on_read, pattern=READ.pattern))
    app.add_handler(CallbackQueryHandler(follow_up.on_report_button, pattern=FOLLOW_UP.pattern))
    app.add_handler(CallbackQueryHandler(stale_compose_button, pattern=COMPOSE.pattern))
