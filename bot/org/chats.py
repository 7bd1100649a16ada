"""Which chats are the bot's own, and what happens when it finds itself in another one.

The bot serves its configured regu groups, administration groups, Kalapas chats, operator
chat and audit archive chat, and people's private chats. Anywhere else (someone added it to a
group) it answers no command: a prison's duty roster must not leak into a chat nobody
configured.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.delivery import outbox
from bot.org import units
from bot.org.models import Regu, Unit
from bot.platform.config import Settings
from bot.platform.texts import render

log = logging.getLogger(__name__)


def own_chat_ids(session: Session, settings: Settings) -> frozenset[int]:
    """Every group chat the bot serves, as the database holds them (after supergroup moves)."""
    regus = session.exec(select(Regu.chat_id).join(Unit, col(Unit.id) == Regu.unit_id)
                         .where(Regu.active, Unit.active)).all()
    units = session.exec(select(Unit.admin_group_chat_id, Unit.kalapas_chat_id)
                         .where(Unit.active)).all()
    chats = {*regus, *(chat for pair in units for chat in pair)}
    chats.add(settings.telegram.operator_chat_id)
    chats.add(settings.audit.archive_chat_id)
    return frozenset(chat for chat in chats if chat is not None)


def follow_upgrade(session: Session, old_chat_id: int, new_chat_id: int, now: datetime) -> None:
    """A group became a supergroup, as its service message says: its regu (or unit chat) and
    what is queued for it follow the new id, as when a send learns of the move (the sender)."""
    outbox.move_chat(session, old_chat_id, new_chat_id)
    units.move_chat(session, old_chat_id, new_chat_id, now)


def note_unknown_chat(session: Session, settings: Settings, *, chat_id: int, title: str,
                      now: datetime) -> None:
    """The bot is in a chat that is not its own: the operator hears of it once per chat, and
    the chat gets one polite line saying the bot does not serve it (each keyed by chat)."""
    log.warning("chat %d (%s) is not one of the bot's chats; not serving it", chat_id, title)
    _once(session, key=f"foreign-chat:{chat_id}", chat_id=chat_id, text=render("foreign_chat"),
          now=now, priority=outbox.PRIORITY_REPLY)
    operator = settings.telegram.operator_chat_id
    if operator:
        _once(session, key=f"alert:foreign-chat:{chat_id}", chat_id=operator,
              text=render("operator_foreign_chat", chat_id=chat_id, title=title), now=now,
              priority=outbox.PRIORITY_REPORT)


def _once(session: Session, **message: object) -> None:
    """Queue a message keyed once; the bot's addition and a first command racing each other
    (PostgreSQL: both inserting the key) leave one row and no error."""
    try:
        with session.begin_nested():
            outbox.send_message(session, **message)
    except IntegrityError:
        pass  # the other one queued it
