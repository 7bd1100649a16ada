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
import re
import secrets
import warnings
from dataclasses import dataclass

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
    confirmations,
    listing,
    posts,
    read_report,
    readers_xlsx,
    sending,
    targets,
    withdrawal,
)
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

TEXT, MEDIA, TARGET, PREVIEW = "text", "media", "target", "preview"
END = ConversationHandler.END
DRAFT = "announce_draft"
LOCKS = "announce_locks"

_COMPOSE = re.compile(r"^an:([0-9a-f]{8}):(none|cancel|send|t:(?:unit|kanwil|all))$")
_REPORT = re.compile(r"^ar:(x|w|wy|wn):(\d{1,12})$")
_NUMBER = re.compile(r"^#?(\d{1,12})$")


@dataclass
class Draft:
    token: str
    stage: str = TEXT
    text_html: str | None = None
    text_len: int = 0
    media_kind: str | None = None
    media_file_id: str | None = None
    scope: str | None = None


def _lock(context: ContextTypes.DEFAULT_TYPE, user_id: int) -> asyncio.Lock:
    locks: dict[int, asyncio.Lock] = context.application.bot_data.setdefault(LOCKS, {})
    lock = locks.get(user_id)
    if lock is None:
        lock = locks[user_id] = asyncio.Lock()
    return lock


def _compose_button(label: str, token: str, action: str) -> dict:
    return outbox.button(render(label), f"an:{token}:{action}")


async def _send(rt: Runtime, chat_id: int, text: str, *, key: str,
                keyboard: list[list[dict]] | None = None) -> None:
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


# --- compose -----------------------------------------------------------------------------------


async def umumkan(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
    rt = runtime(context)
    user_id = real_user_id(update)
    if user_id is None:
        return END
    options = await rt.run(lambda s: targets.target_options(s, actor_for(s, rt.settings,
                                                                         user_id)))
    key = reply_key(update)
    if not options:
        await rt.reply(update.effective_chat.id, "announce_refused", key=key)
        return END
    draft = Draft(token=secrets.token_hex(4))
    async with _lock(context, user_id):
        context.user_data[DRAFT] = draft
    await _send(rt, update.effective_chat.id, render("announce_ask_text"), key=key,
                keyboard=[[_compose_button("announce_button_cancel", draft.token, "cancel")]])
    return TEXT


async def _ask_target(rt: Runtime, update: Update, draft: Draft, user_id: int) -> object:
    options = await rt.run(lambda s: targets.target_options(s, actor_for(s, rt.settings,
                                                                         user_id)))
    if not options:
        await rt.reply(update.effective_chat.id, "announce_refused",
                       key=reply_key(update))
        return END
    keyboard = [[outbox.button(render("announce_button_target", option=o),
                               f"an:{draft.token}:t:{o.scope}")] for o in options]
    keyboard.append([_compose_button("announce_button_cancel", draft.token, "cancel")])
    draft.stage = TARGET
    await _send(rt, update.effective_chat.id, render("announce_ask_target"),
                key=reply_key(update), keyboard=keyboard)
    return TARGET


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
    rt = runtime(context)
    user_id = real_user_id(update)
    message = update.effective_message
    if user_id is None or message is None:
        return None
    async with _lock(context, user_id):
        draft: Draft | None = context.user_data.get(DRAFT)
        if draft is None or draft.stage not in (TEXT, MEDIA):
            return await _expired(rt, update, draft)
        limit = posts.MAX_CAPTION_CHARS if draft.media_kind else posts.MAX_TEXT_CHARS
        length = len(message.text or "")
        if length > limit:
            await rt.reply(update.effective_chat.id, "announce_too_long",
                           key=reply_key(update), length=length, limit=limit,
                           with_media=bool(draft.media_kind))
            return None
        replaced = draft.text_html is not None
        draft.text_html, draft.text_len = message.text_html, length
        if draft.media_kind is not None:
            return await _ask_target(rt, update, draft, user_id)
        draft.stage = MEDIA
        await _send(rt, update.effective_chat.id, render("announce_ask_media", replaced=replaced),
                    key=reply_key(update),
                    keyboard=[[_compose_button("announce_button_no_media", draft.token, "none"),
                               _compose_button("announce_button_cancel", draft.token,
                                               "cancel")]])
        return MEDIA


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
    async with _lock(context, user_id):
        draft: Draft | None = context.user_data.get(DRAFT)
        if draft is None or draft.stage not in (TEXT, MEDIA):
            return await _expired(rt, update, draft)
        text_html, length = draft.text_html, draft.text_len
        if text_html is None and message.caption:
            text_html, length = message.caption_html, len(message.caption)
        if text_html is not None and length > posts.MAX_CAPTION_CHARS:
            await rt.reply(update.effective_chat.id, "announce_too_long",
                           key=reply_key(update), length=length,
                           limit=posts.MAX_CAPTION_CHARS, with_media=True)
            return None
        draft.media_kind, draft.media_file_id = kind, file_id
        draft.text_html, draft.text_len = text_html, length
        if text_html is not None:
            return await _ask_target(rt, update, draft, user_id)
        draft.stage = TEXT
        await _send(rt, update.effective_chat.id, render("announce_ask_caption", kind=kind),
                    key=reply_key(update),
                    keyboard=[[_compose_button("announce_button_cancel", draft.token,
                                               "cancel")]])
        return TEXT


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
        await toast(update, render("announce_toast", what="expired"))
    else:
        await rt.reply(update.effective_chat.id, "announce_hint",
                       key=reply_key(update), stage=draft.stage if draft else "")
    return END if draft is None else None


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
    rt = runtime(context)
    user_id = real_user_id(update)
    match = _COMPOSE.match(update.callback_query.data or "")
    if user_id is None or match is None or not is_private(update):
        await toast(update, render("announce_toast", what="invalid"))
        return None
    token, action = match.group(1), match.group(2)
    async with _lock(context, user_id):
        draft: Draft | None = context.user_data.get(DRAFT)
        if draft is None or draft.token != token:
            return await _expired(rt, update, draft)
        if action == "cancel":
            context.user_data.pop(DRAFT, None)
            await toast(update, render("announce_toast", what="cancelled"))
            await _close(rt, update)
            await rt.reply(update.effective_chat.id, "announce_cancelled",
                           key=reply_key(update))
            return END
        if action == "none":
            if draft.stage != MEDIA or draft.text_html is None:
                return await _expired(rt, update, draft)
            await toast(update, render("announce_toast", what="no_media"))
            await _close(rt, update)
            return await _ask_target(rt, update, draft, user_id)
        if action.startswith("t:"):
            if draft.stage != TARGET:
                return await _expired(rt, update, draft)
            return await _preview(rt, update, draft, user_id, action[2:])
        if draft.stage != PREVIEW or draft.scope is None:
            return await _expired(rt, update, draft)
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
        keyboard = [[_compose_button("announce_button_send", draft.token, "send"),
                     _compose_button("announce_button_cancel", draft.token, "cancel")]]
        outbox.send_message(session, key=f"an-summary:{update_key(update)}", chat_id=chat_id,
                            text=render("announce_preview", option=option, reach=reach),
                            now=now, keyboard=keyboard, priority=outbox.PRIORITY_REPLY)
        _close_buttons(session, update, now)
        return option

    option = await rt.run(work)
    if option is None:
        await toast(update, render("announce_toast", what="not_allowed"))
        return None
    draft.stage, draft.scope = PREVIEW, scope
    rt.wake_sender()
    await toast(update, render("announce_toast", what="target"))
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
    await toast(update, render("announce_toast", what="sent"))
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
    await rt.reply(update.effective_chat.id, "announce_cancelled",
                   key=reply_key(update))
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
                   minutes=_minutes(rt.settings.announcements.compose_timeout_minutes))


def _minutes(value: float) -> str:
    return f"{value:g}".replace(".", ",")


async def on_waiting(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An update while this user's previous one is still being handled."""
    rt = runtime(context)
    if update.callback_query is not None:
        await toast(update, render("announce_toast", what="wait"))
    elif update.effective_chat is not None:
        await rt.reply(update.effective_chat.id, "announce_wait",
                       key=reply_key(update))


async def stale_compose_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A compose button with no conversation behind it (finished, timed out, restarted)."""
    await toast(update, render("announce_toast", what="expired"))


# --- confirmations -----------------------------------------------------------------------------


async def on_read(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    announcement_id = posts.parse_ack_callback(update.callback_query.data)
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


def _number(context: ContextTypes.DEFAULT_TYPE) -> tuple[bool, int | None]:
    """(valid, number) from the command's arguments: none, or one announcement number."""
    args = context.args or []
    if not args:
        return True, None
    match = _NUMBER.match(args[0]) if len(args) == 1 else None
    return (match is not None, int(match.group(1)) if match else None)


def _report_text(report: read_report.ReadReport) -> str:
    """The report in the most detail that fits one message; a report that does not fit even
    per unit (an admin's, nationwide) goes in several (the outbox splits it)."""
    units = report.units
    zone = units[0].unit.timezone if units else "Asia/Jakarta"
    excerpt = posts.excerpt(report.announcement.text_html)
    for detail in ("names", "groups", "units"):
        text = render("announce_report", report=report, zone=zone, excerpt=excerpt,
                      detail=detail)
        if outbox.fits_one_message(text):
            break
    return text


def _report_keyboard(report: read_report.ReadReport) -> list[list[dict]]:
    ann_id = report.announcement.id
    row = [outbox.button(render("announce_button_xlsx"), f"ar:x:{ann_id}")]
    if report.may_withdraw:
        row.append(outbox.button(render("announce_button_withdraw"), f"ar:w:{ann_id}"))
    return [row]


async def dibaca(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    user_id = real_user_id(update)
    if user_id is None:
        return
    chat_id, key = update.effective_chat.id, reply_key(update)
    valid, number = _number(context)
    if not valid:
        await rt.reply(chat_id, "announce_dibaca_error", key=key, result="usage", number="")
        return
    found = await rt.run(lambda s: read_report.follow_up(
        s, rt.settings, telegram_user_id=user_id, announcement_id=number))
    if found.report is None:
        await rt.reply(chat_id, "announce_dibaca_error", key=key, result=found.result.value,
                       number=number or "")
        return
    await _send(rt, chat_id, _report_text(found.report), key=key,
                keyboard=_report_keyboard(found.report))


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
    valid, number = _number(context)
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
    keyboard = [[outbox.button(render("announce_button_withdraw_yes"), f"ar:wy:{number}"),
                 outbox.button(render("announce_button_withdraw_no"), f"ar:wn:{number}")]]
    await _send(rt, chat_id, render("announce_withdraw_confirm",
                                    announcement=check.announcement), key=key,
                keyboard=keyboard)


async def on_report_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    user_id = real_user_id(update)
    match = _REPORT.match(update.callback_query.data or "")
    if user_id is None or match is None or not is_private(update):
        await toast(update, render("announce_toast", what="invalid"))
        return
    action, number = match.group(1), int(match.group(2))
    if action == "x":
        await _send_xlsx(rt, update, user_id, number)
    elif action == "w":
        await toast(update, "")
        await _confirm_withdraw(rt, update, user_id, number)
    elif action == "wn":
        await toast(update, render("announce_toast", what="kept"))
        await _close(rt, update)
    else:
        now = rt.clock.now()

        def work(session):  # noqa: ANN001, ANN202
            outcome = withdrawal.withdraw(session, rt.settings, announcement_id=number,
                                       telegram_user_id=user_id, now=now)
            _close_buttons(session, update, now)
            return outcome

        outcome = await rt.run(work)
        rt.wake_sender()
        await toast(update, render("announce_toast", what=f"w_{outcome.result.value}"))
        await rt.reply(update.effective_chat.id, "announce_withdraw_reply",
                       key=reply_key(update), result=outcome.result.value,
                       announcement=outcome.announcement)


async def _send_xlsx(rt: Runtime, update: Update, user_id: int, number: int) -> None:
    found = await rt.run(lambda s: read_report.follow_up(
        s, rt.settings, telegram_user_id=user_id, announcement_id=number))
    if found.report is None:
        await toast(update, render("announce_toast", what="not_allowed"))
        return
    await toast(update, render("announce_toast", what="xlsx"))
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
    compose_button = CallbackQueryHandler(on_button, pattern=r"^an:")
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
                    CallbackQueryHandler(on_waiting, pattern=r"^an:"),
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
    app.add_handler(CallbackQueryHandler(on_read, pattern=r"^a:"))
    app.add_handler(CallbackQueryHandler(on_report_button, pattern=r"^ar:"))
    app.add_handler(CallbackQueryHandler(stale_compose_button, pattern=r"^an:"))
