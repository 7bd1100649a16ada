"""The one-time reminder in each group where someone has not confirmed yet."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from sqlmodel import Session, col, select

from bot.announcements.models import (
    Acknowledgement,
    Announcement,
    AnnouncementExpected,
    AnnouncementPost,
)
from bot.announcements.posts import PRIORITY_ANNOUNCEMENT, read_keyboard
from bot.delivery import outbox
from bot.delivery.models import OutboxMessage
from bot.org.models import Employee
from bot.platform.texts import render

log = logging.getLogger(__name__)
REMINDER_NAMES = 40  # names listed in one reminder; the rest are counted


def missing_by_group(session: Session, announcement_id: int,
                      unit_ids: set[int] | None = None) -> dict[tuple[int, int | None],
                                                                list[Employee]]:
    acked = select(Acknowledgement.id).where(
        Acknowledgement.announcement_id == AnnouncementExpected.announcement_id,
        Acknowledgement.employee_id == AnnouncementExpected.employee_id)
    query = (select(AnnouncementExpected.unit_id, AnnouncementExpected.regu_id, Employee)
             .join(Employee, col(Employee.id) == AnnouncementExpected.employee_id)
             .where(AnnouncementExpected.announcement_id == announcement_id, ~acked.exists())
             .order_by(col(Employee.name)))
    if unit_ids is not None:
        query = query.where(col(AnnouncementExpected.unit_id).in_(unit_ids))
    out: dict[tuple[int, int | None], list[Employee]] = defaultdict(list)
    for unit_id, regu_id, employee in session.exec(query):
        out[(unit_id, regu_id)].append(employee)
    return out


def send_reminders(session: Session, now: datetime) -> int:
    """Once per announcement, after remind_after_minutes: a reminder in each group where
    someone has not confirmed, naming them, replying to the post. Keyed: never twice."""
    due = session.exec(select(Announcement).where(
        col(Announcement.reminded_at).is_(None), col(Announcement.withdrawn_at).is_(None),
        Announcement.remind_at <= now)).all()
    queued = 0
    for ann in due:
        missing = missing_by_group(session, ann.id)
        posts = session.exec(
            select(AnnouncementPost, OutboxMessage.state, OutboxMessage.message_id)
            .join(OutboxMessage, col(OutboxMessage.id) == AnnouncementPost.outbox_id)
            .where(AnnouncementPost.announcement_id == ann.id)
            .order_by(col(AnnouncementPost.id))).all()
        for post, state, message_id in posts:
            people = missing.get((post.unit_id, post.regu_id))
            if state != "sent" or not people:
                continue
            text = render("announce_reminder", people=people[:REMINDER_NAMES],
                          more=max(0, len(people) - REMINDER_NAMES), announcement=ann)
            payload = outbox.html_message(text, read_keyboard(ann.id))
            if message_id is not None:
                payload["reply_parameters"] = {"message_id": message_id,
                                               "allow_sending_without_reply": True}
            outbox.enqueue(session, key=f"ann:{ann.id}:remind:{post.chat_id}",
                           chat_id=post.chat_id, method="sendMessage", payload=payload,
                           now=now, priority=PRIORITY_ANNOUNCEMENT)
            queued += 1
        ann.reminded_at = now
        session.add(ann)
        log.info("announcement %d: reminders to %d groups", ann.id, queued)
    return queued
