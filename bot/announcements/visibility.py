"""Who may follow an announcement up, see which units' confirmations, and withdraw it."""

from __future__ import annotations

from sqlalchemy import or_
from sqlmodel import Session, col, select

from bot.announcements.models import Announcement, AnnouncementUnit
from bot.org.access import Actor, kalapas_units


def viewer_units(session: Session, actor: Actor, ann: Announcement) -> set[int] | None:
    """The target units whose confirmations this person may see (the sender and admins: all;
    a Kalapas: their own units in the target). None: not allowed."""
    target = set(session.exec(select(AnnouncementUnit.unit_id).where(
        AnnouncementUnit.announcement_id == ann.id)).all())
    if actor.is_admin or ann.sender_user_id == actor.telegram_user_id:
        return target
    own = kalapas_units(actor) & target
    return own or None


def may_withdraw(actor: Actor, ann: Announcement) -> bool:
    return actor.is_admin or ann.sender_user_id == actor.telegram_user_id

def visible_query(session: Session, actor: Actor):  # noqa: ANN202
    query = select(Announcement)
    if actor.is_admin:
        return query
    heads = kalapas_units(actor)
    mine = col(Announcement.sender_user_id) == actor.telegram_user_id
    if not heads:
        return query.where(mine)
    return query.where(or_(mine, col(Announcement.id).in_(
        select(AnnouncementUnit.announcement_id).where(
            col(AnnouncementUnit.unit_id).in_(heads)))))
