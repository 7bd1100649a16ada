"""/pengumuman: the latest announcements a person may follow up, with confirmation rates."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from bot.announcements.models import (
    Acknowledgement,
    Announcement,
    AnnouncementExpected,
    AnnouncementUnit,
)
from bot.announcements.posts import excerpt
from bot.announcements.read_report import sender_name
from bot.announcements.visibility import visible_query
from bot.org.access import actor_for, announce_reach, kalapas_units
from bot.org.models import Unit
from bot.platform.config import Settings


@dataclass(frozen=True)
class Listed:
    announcement: Announcement
    expected: int
    confirmed: int
    sender_name: str
    zone: str  # of the first target unit, for the time shown

    @property
    def excerpt(self) -> str:
        return excerpt(self.announcement.text_html, 90)


def recent(session: Session, settings: Settings, *, telegram_user_id: int,
           limit: int = 10) -> list[Listed] | None:
    """The latest announcements this person may follow up, with confirmation rates (of the
    units they may see). None: not a sender, Kalapas or admin."""
    actor = actor_for(session, settings, telegram_user_id)
    if not (actor.is_admin or announce_reach(session, actor) or kalapas_units(actor)):
        return None
    anns = session.exec(visible_query(session, actor).order_by(
        col(Announcement.created_at).desc(), col(Announcement.id).desc()).limit(limit)).all()
    if not anns:
        return []
    ids = [a.id for a in anns]
    expected = session.exec(
        select(AnnouncementExpected.announcement_id, AnnouncementExpected.unit_id, func.count())
        .where(col(AnnouncementExpected.announcement_id).in_(ids))
        .group_by(AnnouncementExpected.announcement_id, AnnouncementExpected.unit_id)).all()
    confirmed = session.exec(
        select(AnnouncementExpected.announcement_id, AnnouncementExpected.unit_id, func.count())
        .join(Acknowledgement, and_(
            col(Acknowledgement.announcement_id) == AnnouncementExpected.announcement_id,
            col(Acknowledgement.employee_id) == AnnouncementExpected.employee_id))
        .where(col(AnnouncementExpected.announcement_id).in_(ids))
        .group_by(AnnouncementExpected.announcement_id, AnnouncementExpected.unit_id)).all()
    heads = kalapas_units(actor)
    zones = dict(session.exec(
        select(AnnouncementUnit.announcement_id, Unit.timezone)
        .join(Unit, col(Unit.id) == AnnouncementUnit.unit_id)
        .where(col(AnnouncementUnit.announcement_id).in_(ids))
        .order_by(col(AnnouncementUnit.unit_id).desc())).all())
    out = []
    for ann in anns:
        every = actor.is_admin or ann.sender_user_id == telegram_user_id

        def seen(a: int, u: int, ann: Announcement = ann, every: bool = every) -> bool:
            return a == ann.id and (every or u in heads)

        out.append(Listed(ann, sum(n for a, u, n in expected if seen(a, u)),
                          sum(n for a, u, n in confirmed if seen(a, u)),
                          sender_name(session, ann), zones.get(ann.id, "Asia/Jakarta")))
    return out
