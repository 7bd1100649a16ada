"""Answering a person: the update being answered, and its answers in the outbox, ahead of every
fan-out. A handler says who asked (bot/telegram/handlers/common.py: asker); a dialog answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot.delivery import outbox
from bot.platform.clock import Clock
from bot.platform.db import Database
from bot.platform.texts import render


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


class Replies:
    """`await replies(chat_id, template, key=..., **context)`: a rendered template queued at
    reply priority, for a handler that answers without a dialog step; then the sender wakes."""

    def __init__(self, db: Database, clock: Clock, *, wake: Callable[[], None]) -> None:
        self.db, self.clock = db, clock
        self.wake = wake  # the sender: a new row is waiting

    async def __call__(self, chat_id: int, template: str, /, *, key: str,
                       **context: object) -> None:
        text = render(template, **context)
        now = self.clock.now()
        await self.db.run(lambda s: outbox.send_message(
            s, key=key, chat_id=chat_id, text=text, now=now, priority=outbox.PRIORITY_REPLY))
        self.wake()
