"""Sending an announcement: record it, freeze who should read it, queue one post per group of
the target (the outbox fans it out), all in one transaction."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, literal
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.announcements.models import (
    Announcement,
    AnnouncementExpected,
    AnnouncementPost,
    AnnouncementUnit,
)
from bot.announcements.posts import (
    MEDIA_KINDS,
    PRIORITY_ANNOUNCEMENT,
    post_message,
    read_keyboard,
)
from bot.announcements.targets import groups_of, target_for
from bot.audit.log import record_event
from bot.delivery import tallies
from bot.delivery.models import OutboxMessage
from bot.org.access import actor_for
from bot.org.models import Employee
from bot.platform.config import Settings

log = logging.getLogger(__name__)


class SendResult(enum.Enum):
    SENT = "sent"
    ALREADY = "already"  # this draft was sent before (double tap, redelivered update)
    NOT_ALLOWED = "not_allowed"
    NO_GROUPS = "no_groups"


@dataclass(frozen=True)
class SendOutcome:
    result: SendResult
    announcement: Announcement | None = None


def send(session: Session, settings: Settings, *, sender_user_id: int, draft_key: str,
         text_html: str, media_kind: str | None, media_file_id: str | None, scope: str,
         now: datetime) -> SendOutcome:
    """Record the announcement and queue one post per group of the target, in one transaction."""
    existing = session.exec(select(Announcement).where(
        Announcement.draft_key == draft_key)).first()
    if existing is not None:
        return SendOutcome(SendResult.ALREADY, existing)
    if media_kind not in (None, *MEDIA_KINDS) or (media_kind is None) != (media_file_id is None):
        raise ValueError("media_kind and media_file_id go together")
    actor = actor_for(session, settings, sender_user_id)
    option = target_for(session, actor, scope)
    if option is None:
        return SendOutcome(SendResult.NOT_ALLOWED)
    groups = groups_of(session, option.unit_ids)
    if not groups:
        return SendOutcome(SendResult.NO_GROUPS)
    ann = Announcement(
        draft_key=draft_key, sender_user_id=sender_user_id,
        sender_employee_id=actor.employee.id if actor.employee else None, text_html=text_html,
        media_kind=media_kind, media_file_id=media_file_id, scope=option.scope,
        scope_label=option.label[:120], created_at=now,
        remind_at=now + timedelta(minutes=settings.announcements.remind_after_minutes))
    try:
        with session.begin_nested():
            session.add(ann)
            session.flush()
    except IntegrityError:  # the same draft sent a moment ago by a concurrent press
        return SendOutcome(SendResult.ALREADY, session.exec(select(Announcement).where(
            Announcement.draft_key == draft_key)).one())
    session.add_all([AnnouncementUnit(announcement_id=ann.id, unit_id=u)
                     for u in option.unit_ids])
    # Everyone active in the target, frozen now, in one statement.
    session.exec(insert(AnnouncementExpected).from_select(
        ["announcement_id", "employee_id", "unit_id", "regu_id"],
        select(literal(ann.id), Employee.id, Employee.unit_id, Employee.regu_id).where(
            col(Employee.unit_id).in_(option.unit_ids), Employee.active)))
    expected = _expected_by_group(session, ann.id)
    method, payload = post_message(text_html, media_kind, media_file_id, read_keyboard(ann.id))
    rows = [OutboxMessage(key=f"ann:{ann.id}:post:{chat_id}", chat_id=chat_id, method=method,
                          payload=payload, priority=PRIORITY_ANNOUNCEMENT, next_attempt_at=now,
                          created_at=now) for _, _, chat_id in groups]
    tallies.enqueue_all(session, rows)  # a new announcement: every key is new
    posts = [AnnouncementPost(announcement_id=ann.id, unit_id=unit_id, regu_id=regu_id,
                              chat_id=chat_id, outbox_id=row.id,
                              expected=expected.get((unit_id, regu_id), 0))
             for (unit_id, regu_id, chat_id), row in zip(groups, rows, strict=True)]
    session.add_all(posts)
    ann.expected_count = sum(expected.values())
    ann.group_count = len(posts)
    session.add(ann)
    record_event(session, kind="announcement.sent", actor=f"tg:{sender_user_id}", at=now,
                 payload={"announcement_id": ann.id, "scope": option.scope,
                          "unit_ids": sorted(option.unit_ids), "groups": len(posts),
                          "expected": ann.expected_count, "media": media_kind})
    session.flush()
    log.info("announcement %d sent by %d: %d groups, %d people", ann.id, sender_user_id,
             len(posts), ann.expected_count)
    return SendOutcome(SendResult.SENT, ann)


def _expected_by_group(session: Session, announcement_id: int) -> dict[tuple[int, int | None],
                                                                       int]:
    rows = session.exec(
        select(AnnouncementExpected.unit_id, AnnouncementExpected.regu_id, func.count())
        .where(AnnouncementExpected.announcement_id == announcement_id)
        .group_by(AnnouncementExpected.unit_id, AnnouncementExpected.regu_id))
    return {(u, r): n for u, r, n in rows}

