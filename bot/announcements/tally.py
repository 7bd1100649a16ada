"""The tally on each post ("12 dari 30 sudah membaca"), edited as confirmations come in."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from bot.announcements.models import (
    Acknowledgement,
    Announcement,
    AnnouncementExpected,
    AnnouncementPost,
)
from bot.announcements.posts import edit_message, post_text, read_keyboard
from bot.delivery import tallies
from bot.delivery.models import OutboxMessage

TALLY_HORIZON = timedelta(days=7)  # confirmations keep moving the tallies for a week


def confirmed_by_group(session: Session, announcement_id: int) -> dict[tuple[int, int | None],
                                                                        int]:
    rows = session.exec(
        select(AnnouncementExpected.unit_id, AnnouncementExpected.regu_id, func.count())
        .join(Acknowledgement, and_(
            col(Acknowledgement.announcement_id) == AnnouncementExpected.announcement_id,
            col(Acknowledgement.employee_id) == AnnouncementExpected.employee_id))
        .where(AnnouncementExpected.announcement_id == announcement_id)
        .group_by(AnnouncementExpected.unit_id, AnnouncementExpected.regu_id))
    return {(u, r): n for u, r, n in rows}

def refresh_tallies(session: Session, now: datetime, min_interval_s: float) -> int:
    """Edit the tally on posts whose count changed, at most once per interval per post.

    Cheap when nothing happened: one indexed look at acknowledgements newer than the oldest
    watermark of the announcements still live."""
    live = session.exec(select(Announcement).where(
        col(Announcement.withdrawn_at).is_(None),
        Announcement.created_at >= now - TALLY_HORIZON)).all()
    if not live:
        return 0
    floor = min(a.tally_ack_id for a in live)
    newest = dict(session.exec(
        select(Acknowledgement.announcement_id, func.max(Acknowledgement.id))
        .where(col(Acknowledgement.id) > floor,
               col(Acknowledgement.announcement_id).in_([a.id for a in live]))
        .group_by(Acknowledgement.announcement_id)).all())
    queued = 0
    for ann in live:
        top = newest.get(ann.id)
        if top is None or top <= ann.tally_ack_id:
            continue
        confirmed = confirmed_by_group(session, ann.id)
        posts = session.exec(
            select(AnnouncementPost, OutboxMessage.state)
            .join(OutboxMessage, col(OutboxMessage.id) == AnnouncementPost.outbox_id)
            .where(AnnouncementPost.announcement_id == ann.id)).all()

        def edit(post: AnnouncementPost, count: int, ann: Announcement = ann) -> tuple[str, dict]:
            return edit_message(ann, post_text(ann.text_html, (count, post.expected)),
                                 read_keyboard(ann.id))

        done = tallies.refresh_posts(
            session, posts, lambda p, c=confirmed: c.get((p.unit_id, p.regu_id), 0), edit,
            key_prefix=f"ann:{ann.id}:tally", now=now, min_interval_s=min_interval_s)
        queued += done.queued
        if not done.deferred:
            ann.tally_ack_id = top
            session.add(ann)
    return queued
