"""/umumkan (compose, preview, send), the "Sudah dibaca" button, /dibaca, /pengumuman, /tarik.

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

from bot.announcements import (
    compose,
    confirmations,
    listing,
    posts,
    read_report,
    readers_xlsx,
    sending,
    targets,
    views,
    withdrawal,
)
from bot.announcements.arguments import announcement_number
from bot.announcements.buttons import COMPOSE, FOLLOW_UP, READ, parse_ack_callback
from bot.announcements.compose import MEDIA, PREVIEW, TARGET, TEXT, Draft, Next
from bot.delivery import outbox
from bot.org.access import actor_for
from bot.platform.texts import render
from bot.telegram.handlers.common import is_private, real_user_id, reply_key, toast, update_key
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


async def _send(rt: Runtime, chat_id: int, text: str, *, key: str,
                keyboard: views.Keyboard | None = None) -> None:
    """A reply through the outbox (ahead of every fan-out), optionally with buttons."""
    now = rt.clock.now()
    await rt.run(lambda s: outbox.send_message(s, key=key, chat_id=chat_id, text=text, now=now,
                                               keyboard=keyboard, priority=outbox.PRIORITY_REPLY))
    rt.wake_sender()


def _close_buttons(session, update: Update, now) -> None:  # noqa: ANN001
    """Drop the buttons of the message just answered, so it cannot be pressed again."""
    message = update.callback_query.message if update.callback_query else None
    if message is None:
        return
    outbox.enqueue(session, key=f"an-close:{message.chat.id}:{message.message_id}",
                   chat_id=message.chat.id, method="editMessageReplyMarkup",
                   payload={"message_id": message.message_id}, now=now,
                   priority=outbox.PRIORITY_REPLY)


async def _close(rt: Runtime, update: Update) -> None:
    now = rt.clock.now()
    await rt.run(lambda s: _close_buttons(s, update, now))
    rt.wake_sender()


async def _toast_announce(update: Update, what: str) -> None:
    await toast(update, render("announce_toast", what=what))


# --- compose -----------------------------------------------------------------------------------


async def _target_options(rt: Runtime, user_id: int) -> list[targets.TargetOption]:
    return await rt.run(lambda s: targets.target_options(s, actor_for(s, rt.settings, user_id)))


async def umumkan(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
    rt = runtime(context)
    user_id = real_user_id(update)
    if user_id is None:
        return END
    key = reply_key(update)
    if not await _target_options(rt, user_id):
        await rt.reply(update.effective_chat.id, "announce_refused", key=key)
        return END
    draft = compose.new_draft()
    async with _lock(context, user_id):
        context.user_data[DRAFT] = draft
    await _send(rt, update.effective_chat.id, render("announce_ask_text"), key=key,
                keyboard=views.cancel_keyboard(draft.token))
    return TEXT


async def _ask_target(rt: Runtime, update: Update, draft: Draft, user_id: int) -> object:
    options = await _target_options(rt, user_id)
    if not options:
        await rt.reply(update.effective_chat.id, "announce_refused", key=reply_key(update))
        return END
    draft.targets_shown()
    await _send(rt, update.effective_chat.id, render("announce_ask_target"),
                key=reply_key(update), keyboard=views.target_keyboard(draft.token, options))
    return TARGET


async def _after_message(rt: Runtime, update: Update, draft: Draft | None, user_id: int,
                         step: compose.Step) -> object:
    """Render what the draft asks for next after a text or a media message."""
    chat_id, key = update.effective_chat.id, reply_key(update)
    if step.next is Next.EXPIRED:
        return await _expired(rt, update, draft)
    if step.next is Next.TOO_LONG:
        await rt.reply(chat_id, "announce_too_long", key=key, length=step.length,
                       limit=step.limit, with_media=step.with_media)
        return None
    if step.next is Next.ASK_TARGET:
        return await _ask_target(rt, update, draft, user_id)
    if step.next is Next.ASK_MEDIA:
        await _send(rt, chat_id, render("announce_ask_media", replaced=step.replaced), key=key,
                    keyboard=views.media_keyboard(draft.token))
        return MEDIA
    await _send(rt, chat_id, render("announce_ask_caption", kind=draft.media_kind), key=key,
                keyboard=views.cancel_keyboard(draft.token))
    return TEXT


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
    rt = runtime(context)
    user_id = real_user_id(update)
    message = update.effective_message
    if user_id is None or message is None:
        return None
    async with _lock(context, user_id):
        draft: Draft | None = context.user_data.get(DRAFT)
        step = compose.typed_text(draft, message.text_html, len(message.text or ""))
        return await _after_message(rt, update, draft, user_id, step)


async def on_media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
    rt = runtime(context)
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
    async with _lock(context, user_id):
        draft: Draft | None = context.user_data.get(DRAFT)
        step = compose.sent_media(draft, kind, file_id, caption_html, len(message.caption or ""))
        return await _after_message(rt, update, draft, user_id, step)


async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
    """A message the current step does not take (text at the buttons, a sticker...)."""
    rt = runtime(context)
    draft: Draft | None = context.user_data.get(DRAFT)
    await rt.reply(update.effective_chat.id, "announce_hint", key=reply_key(update),
                   stage=draft.stage if draft else "")
    return None


async def _expired(rt: Runtime, update: Update, draft: Draft | None) -> object:
    """A step that no longer matches the draft: say so; end only if there is no draft."""
    if update.callback_query is not None:
        await _toast_announce(update, "expired")
    else:
        await rt.reply(update.effective_chat.id, "announce_hint",
                       key=reply_key(update), stage=draft.stage if draft else "")
    return END if draft is None else None


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
    rt = runtime(context)
    user_id = real_user_id(update)
    button = COMPOSE.decode(update.callback_query.data)
    if user_id is None or button is None or not is_private(update):
        await _toast_announce(update, "invalid")
        return None
    async with _lock(context, user_id):
        draft: Draft | None = context.user_data.get(DRAFT)
        step = compose.pressed(draft, button)
        if step.next is Next.EXPIRED:
            return await _expired(rt, update, draft)
        if step.next is Next.CANCEL:
            context.user_data.pop(DRAFT, None)
            await _toast_announce(update, "cancelled")
            await _close(rt, update)
            await rt.reply(update.effective_chat.id, "announce_cancelled", key=reply_key(update))
            return END
        if step.next is Next.SKIP_MEDIA:
            await _toast_announce(update, "no_media")
            await _close(rt, update)
            return await _ask_target(rt, update, draft, user_id)
        if step.next is Next.PREVIEW:
            return await _preview(rt, update, draft, user_id, step.scope)
        return await _send_announcement(rt, update, context, draft, user_id)


async def _preview(rt: Runtime, update: Update, draft: Draft, user_id: int,
                   scope: str) -> object:
    chat_id = update.effective_chat.id
    now = rt.clock.now()

    def work(session):  # noqa: ANN001, ANN202
        option = targets.target_for(session, actor_for(session, rt.settings, user_id), scope)
        if option is None:
            return None
        reach = targets.reach_of(session, option.unit_ids)
        method, payload = posts.post_message(draft.text_html, draft.media_kind,
                                             draft.media_file_id, None)
        outbox.enqueue(session, key=f"an-preview:{update_key(update)}", chat_id=chat_id,
                       method=method, payload=payload, now=now, priority=outbox.PRIORITY_REPLY)
        outbox.send_message(session, key=f"an-summary:{update_key(update)}", chat_id=chat_id,
                            text=render("announce_preview", option=option, reach=reach),
                            now=now, keyboard=views.preview_keyboard(draft.token),
                            priority=outbox.PRIORITY_REPLY)
        _close_buttons(session, update, now)
        return option

    if await rt.run(work) is None:
        await _toast_announce(update, "not_allowed")
        return None
    draft.previewed(scope)
    rt.wake_sender()
    await _toast_announce(update, "target")
    return PREVIEW


async def _send_announcement(rt: Runtime, update: Update, context: ContextTypes.DEFAULT_TYPE,
                             draft: Draft, user_id: int) -> object:
    now = rt.clock.now()

    def work(session):  # noqa: ANN001, ANN202
        outcome = sending.send(
            session, rt.settings, sender_user_id=user_id, draft_key=f"{user_id}:{draft.token}",
            text_html=draft.text_html, media_kind=draft.media_kind,
            media_file_id=draft.media_file_id, scope=draft.scope, now=now)
        _close_buttons(session, update, now)
        return outcome

    try:
        outcome = await rt.run(work)
    except SQLAlchemyError:
        log.exception("announcement of %d not sent", user_id)
        await toast(update, render("toast_busy"), alert=True)
        return None  # the draft stays: "Kirim" may be pressed again
    context.user_data.pop(DRAFT, None)
    rt.wake_sender()
    await _toast_announce(update, "sent")
    await rt.reply(update.effective_chat.id, "announce_sent", key=reply_key(update),
                   result=outcome.result.value, announcement=outcome.announcement,
                   remind_after=rt.settings.announcements.remind_after_minutes)
    return END


async def on_cancel_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
    rt = runtime(context)
    user_id = real_user_id(update)
    if user_id is None:
        return None
    async with _lock(context, user_id):
        context.user_data.pop(DRAFT, None)
    await rt.reply(update.effective_chat.id, "announce_cancelled", key=reply_key(update))
    return END


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
        await _toast_announce(update, "wait")
    elif update.effective_chat is not None:
        await rt.reply(update.effective_chat.id, "announce_wait", key=reply_key(update))


async def stale_compose_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A compose button with no conversation behind it (finished, timed out, restarted)."""
    await _toast_announce(update, "expired")


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
    await toast(update, render("announce_toast_ack", result=outcome.result.value,
                               name=outcome.name or "", at=outcome.at, zone=outcome.timezone))


# --- follow-up ---------------------------------------------------------------------------------


async def _follow_up(rt: Runtime, user_id: int, number: int | None) -> read_report.FollowUp:
    return await rt.run(lambda s: read_report.follow_up(
        s, rt.settings, telegram_user_id=user_id, announcement_id=number))


async def dibaca(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    user_id = real_user_id(update)
    if user_id is None:
        return
    chat_id, key = update.effective_chat.id, reply_key(update)
    valid, number = announcement_number(context.args or [])
    if not valid:
        await rt.reply(chat_id, "announce_dibaca_error", key=key, result="usage", number="")
        return
    found = await _follow_up(rt, user_id, number)
    if found.report is None:
        await rt.reply(chat_id, "announce_dibaca_error", key=key, result=found.result.value,
                       number=number or "")
        return
    await _send(rt, chat_id, views.report_text(found.report), key=key,
                keyboard=views.report_keyboard(found.report))


async def pengumuman(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    user_id = real_user_id(update)
    if user_id is None:
        return
    chat_id, key = update.effective_chat.id, reply_key(update)
    items = await rt.run(lambda s: listing.recent(s, rt.settings, telegram_user_id=user_id))
    if items is None:
        await rt.reply(chat_id, "announce_list_refused", key=key)
        return
    await rt.reply(chat_id, "announce_list", key=key, items=items)


async def tarik(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    user_id = real_user_id(update)
    if user_id is None:
        return
    valid, number = announcement_number(context.args or [])
    if not valid or number is None:
        await rt.reply(update.effective_chat.id, "announce_withdraw_reply",
                       key=reply_key(update), result="usage", announcement=None)
        return
    await _confirm_withdraw(rt, update, user_id, number)


async def _confirm_withdraw(rt: Runtime, update: Update, user_id: int, number: int) -> None:
    chat_id, key = update.effective_chat.id, reply_key(update)
    check = await rt.run(lambda s: withdrawal.withdraw_check(
        s, rt.settings, announcement_id=number, telegram_user_id=user_id))
    if check.result is not None:
        await rt.reply(chat_id, "announce_withdraw_reply", key=key, result=check.result.value,
                       announcement=check.announcement)
        return
    await _send(rt, chat_id, render("announce_withdraw_confirm",
                                    announcement=check.announcement), key=key,
                keyboard=views.withdraw_keyboard(number))


async def on_report_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    user_id = real_user_id(update)
    button = FOLLOW_UP.decode(update.callback_query.data)
    if user_id is None or button is None or not is_private(update):
        await _toast_announce(update, "invalid")
        return
    number = button["announcement"]
    if button.shape == "xlsx":
        await _send_xlsx(rt, update, user_id, number)
    elif button.shape == "withdraw":
        await toast(update, "")
        await _confirm_withdraw(rt, update, user_id, number)
    elif button.shape == "withdraw_no":
        await _toast_announce(update, "kept")
        await _close(rt, update)
    else:
        await _withdraw(rt, update, user_id, number)


async def _withdraw(rt: Runtime, update: Update, user_id: int, number: int) -> None:
    now = rt.clock.now()

    def work(session):  # noqa: ANN001, ANN202
        outcome = withdrawal.withdraw(session, rt.settings, announcement_id=number,
                                      telegram_user_id=user_id, now=now)
        _close_buttons(session, update, now)
        return outcome

    outcome = await rt.run(work)
    rt.wake_sender()
    await _toast_announce(update, f"w_{outcome.result.value}")
    await rt.reply(update.effective_chat.id, "announce_withdraw_reply", key=reply_key(update),
                   result=outcome.result.value, announcement=outcome.announcement)


async def _send_xlsx(rt: Runtime, update: Update, user_id: int, number: int) -> None:
    found = await _follow_up(rt, user_id, number)
    if found.report is None:
        await _toast_announce(update, "not_allowed")
        return
    await _toast_announce(update, "xlsx")
    report = found.report
    content = await asyncio.to_thread(readers_xlsx.workbook, report)
    caption = render("announce_xlsx_caption", report=report)
    chat_id, now = update.effective_chat.id, rt.clock.now()
    payload = outbox.document_payload(f"konfirmasi-pengumuman-{number}.xlsx", content, caption)
    await rt.run(lambda s: outbox.enqueue(
        s, key=f"an-xlsx:{update_key(update)}", chat_id=chat_id, method="sendDocument",
        payload=payload, now=now, priority=outbox.PRIORITY_REPLY))
    rt.wake_sender()


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
    app.add_handler(CommandHandler(["umumkan", "dibaca", "pengumuman", "tarik"], private_only,
                                   filters=~private))
    app.add_handler(CommandHandler("dibaca", dibaca, filters=private))
    app.add_handler(CommandHandler("pengumuman", pengumuman, filters=private))
    app.add_handler(CommandHandler("tarik", tarik, filters=private))
    app.add_handler(CallbackQueryHandler(on_read, pattern=READ.pattern))
    app.add_handler(CallbackQueryHandler(on_report_button, pattern=FOLLOW_UP.pattern))
    app.add_handler(CallbackQueryHandler(stale_compose_button, pattern=COMPOSE.pattern))
