"""/tarik: withdraw an announcement — stop what is not sent, take down what is, keep the record."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.announcements.models import Announcement, AnnouncementPost
from bot.announcements.posts import edit_message
from bot.announcements.visibility import may_withdraw
from bot.audit.log import record_event
from bot.delivery import outbox
from bot.delivery.models import OutboxMessage
from bot.org.access import actor_for
from bot.platform.config import Settings
from bot.platform.texts import render

log = logging.getLogger(__name__)
# Taking posts down is as urgent as a briefing: a withdrawn text should vanish quickly.
PRIORITY_WITHDRAW = outbox.PRIORITY_BRIEFING
DELETE_LIMIT = timedelta(hours=47)  # Telegram lets a bot delete its messages for 48 hours


class WithdrawResult(enum.Enum):
    WITHDRAWN = "withdrawn"
    ALREADY = "already"
    NOT_ALLOWED = "not_allowed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class WithdrawOutcome:
    result: WithdrawResult | None
    announcement: Announcement | None = None
    cancelled: int = 0  # posts never sent
    removed: int = 0  # posts and reminders taken down (deleted, or edited when too old)


def withdraw(session: Session, settings: Settings, *, announcement_id: int,
             telegram_user_id: int, now: datetime) -> WithdrawOutcome:
    """Stop what is not sent yet, take down what is (where Telegram allows), keep the record."""
    ann = session.get(Announcement, announcement_id)
    if ann is None:
        return WithdrawOutcome(WithdrawResult.UNKNOWN)
    actor = actor_for(session, settings, telegram_user_id)
    if not may_withdraw(actor, ann):
        return WithdrawOutcome(WithdrawResult.NOT_ALLOWED, ann)
    if ann.withdrawn_at is not None:
        return WithdrawOutcome(WithdrawResult.ALREADY, ann)
    ann.withdrawn_at, ann.withdrawn_by = now, telegram_user_id
    session.add(ann)
    chats = select(AnnouncementPost.chat_id).where(AnnouncementPost.announcement_id == ann.id)
    # Posts, tally edits and reminders still waiting: never sent.
    cancelled = session.exec(
        update(OutboxMessage)
        .where(OutboxMessage.state == "pending", col(OutboxMessage.chat_id).in_(chats),
               col(OutboxMessage.key).startswith(f"ann:{ann.id}:"))
        .values(state="failed", last_error="cancelled: announcement withdrawn",
                next_attempt_at=now)
        .execution_options(synchronize_session=False)).rowcount or 0
    posts = session.exec(
        select(AnnouncementPost, OutboxMessage.state, OutboxMessage.sent_at)
        .join(OutboxMessage, col(OutboxMessage.id) == AnnouncementPost.outbox_id)
        .where(AnnouncementPost.announcement_id == ann.id)).all()
    note = render("announce_withdrawn_note")
    removed = 0
    for post, state, sent_at in posts:
        if state not in ("sent", "sending"):
            continue
        if sent_at is not None and now - sent_at > DELETE_LIMIT:
            # Too old to delete: replace the text, drop the button.
            method, payload = edit_message(ann, note, None)
        else:
            method, payload = "deleteMessage", {}
        outbox.enqueue(session, key=f"ann:{ann.id}:down:{post.chat_id}", chat_id=post.chat_id,
                       method=method, payload={**payload, "ref_outbox_id": post.outbox_id},
                       now=now, priority=PRIORITY_WITHDRAW)
        removed += 1
    reminders = session.exec(select(OutboxMessage).where(
        col(OutboxMessage.key).in_([f"ann:{ann.id}:remind:{p.chat_id}" for p, _, _ in posts]),
        col(OutboxMessage.state).in_(("sent", "sending")))).all()
    for row in reminders:
        if row.sent_at is not None and now - row.sent_at > DELETE_LIMIT:
            continue  # a reminder without its post says little; an old one can stay
        outbox.enqueue(session, key=f"ann:{ann.id}:down-remind:{row.chat_id}",
                       chat_id=row.chat_id, method="deleteMessage",
                       payload={"ref_outbox_id": row.id}, now=now, priority=PRIORITY_WITHDRAW)
        removed += 1
    record_event(session, kind="announcement.withdrawn", actor=f"tg:{telegram_user_id}", at=now,
                 payload={"announcement_id": ann.id, "cancelled": cancelled,
                          "removed": removed})
    log.info("announcement %d withdrawn by %d: %d cancelled, %d taken down", ann.id,
             telegram_user_id, cancelled, removed)
    return WithdrawOutcome(WithdrawResult.WITHDRAWN, ann, cancelled, removed)


def withdraw_check(session: Session, settings: Settings, *, announcement_id: int,
                   telegram_user_id: int) -> WithdrawOutcome:
    """Before asking "are you sure": result None means the person may withdraw it now."""
    ann = session.get(Announcement, announcement_id)
    if ann is None:
        return WithdrawOutcome(WithdrawResult.UNKNOWN)
    if not may_withdraw(actor_for(session, settings, telegram_user_id), ann):
        return WithdrawOutcome(WithdrawResult.NOT_ALLOWED, ann)
    if ann.withdrawn_at is not None:
        return WithdrawOutcome(WithdrawResult.ALREADY, ann)
    return WithdrawOutcome(None, ann)
