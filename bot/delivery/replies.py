"""Answering a person: the update being answered, and its answers in the outbox, ahead of every
fan-out. A handler says who asked (bot/telegram/handlers/common.py: asker); a dialog answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot.delivery import outbox


@dataclass(frozen=True)
class Asker:
    """The update to answer: who sent it, in which chat, when, what tells it apart (answers are
    keyed by it, so an update delivered twice is answered once), and the message whose button
    was pressed, if any."""

    user_id: int
    chat_id: int
    update: str  # bot.telegram.handlers.common.update_key
    key: str  # the outbox key of the answer (reply_key)
    now: datetime
    pressed: tuple[int, int] | None = None  # (chat id, message id)


def say(session: Session, asker: Asker, text: str, keyboard: list[list[dict]] | None = None,
        *, key: str | None = None) -> None:
    """An answer, optionally with buttons; `key` when the update has more than one."""
    outbox.send_message(session, key=key or asker.key, chat_id=asker.chat_id, text=text,
                        now=asker.now, keyboard=keyboard, priority=outbox.PRIORITY_REPLY)
