"""Small helpers shared by handlers: who is asking, where, and how to answer a button."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from sqlmodel import Session
from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.delivery.replies import Asker

if TYPE_CHECKING:
    from bot.telegram.runtime import Runtime

log = logging.getLogger(__name__)
T = TypeVar("T")

# Telegram's own accounts: anonymous group admins, channel posts, service notifications.
SERVICE_ACCOUNTS = frozenset({1087968824, 136817688, 777000})


def real_user_id(update: Update) -> int | None:
    """The person behind an update, or None for anonymous/service senders and bots."""
    user = update.effective_user
    if user is None or user.is_bot or user.id in SERVICE_ACCOUNTS:
        return None
    if update.effective_message is not None and update.effective_message.sender_chat:
        return None  # sent "as the group" or as a channel: nobody we can hold to a pledge
    return user.id


def update_key(update: Update) -> str:
    """What tells this update apart for good: a button press's query id, or its message's chat
    and id. Not update_id: Telegram reuses those (a new token, or a week without updates), and an
    outbox key built on one would silently swallow the answer to a later, different update."""
    if update.callback_query is not None:
        return f"q{update.callback_query.id}"
    message = update.effective_message
    if message is not None:
        return f"m{message.chat.id}:{message.message_id}"
    return f"u{update.update_id}"


def reply_key(update: Update) -> str:
    """The outbox key of the answer to this update: the same update delivered twice, one answer."""
    return f"reply:{update_key(update)}"


def asker_of(update: Update, user_id: int, now: datetime) -> Asker:
    """This update as a dialog answers it (bot/delivery/replies.py): in its chat, keyed by it,
    the pressed message's buttons within reach."""
    pressed = update.callback_query.message if update.callback_query else None
    return Asker(user_id=user_id, chat_id=update.effective_chat.id, update=update_key(update),
                 key=reply_key(update), now=now,
                 pressed=(pressed.chat.id, pressed.message_id) if pressed else None)


async def answer(rt: Runtime, step: Callable[[Session], T]) -> T:
    """A dialog step in one transaction; then the sender, for the answers it queued."""
    result = await rt.run(step)
    rt.wake_sender()
    return result


def is_private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE


async def toast(update: Update, text: str, *, alert: bool = False) -> bool:
    """Answer a button press at once; False if Telegram no longer takes the answer (handled
    from the inbox after a restart, too late). A lost answer loses nothing: the record is
    already made."""
    query = update.callback_query
    if query is None:
        return False
    try:
        await query.answer(text[:200], show_alert=alert)
    except TelegramError as err:
        log.warning("could not answer callback %s: %s", query.id, err)
        return False
    return True
