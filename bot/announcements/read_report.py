"""/dibaca: confirmed/expected per unit and group, with the names still missing."""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_
from sqlmodel import Session, col, select

from bot.announcements.models import (
    Acknowledgement,
    Announcement,
    AnnouncementExpected,
    AnnouncementPost,
)
from bot.announcements.visibility import may_withdraw, viewer_units, visible_query
from bot.delivery.models import OutboxMessage
from bot.org.access import actor_for
from bot.org.models import Employee, Regu, Unit
from bot.platform.config import Settings
from bot.platform.texts import render


@dataclass
class GroupRead:
    unit_id: int
    regu_id: int | None
    name: str
    reached: bool  # the post was delivered
    has_group: bool = True  # False: no Telegram group for these people (nothing was posted)
    expected: int = 0
    confirmed: int = 0
    missing: list[Employee] = field(default_factory=list)


@dataclass
class UnitRead:
    unit: Unit
    groups: list[GroupRead]

    @property
    def expected(self) -> int:
        return sum(g.expected for g in self.groups)

    @property
    def confirmed(self) -> int:
        return sum(g.confirmed for g in self.groups)


@dataclass
class ReadReport:
    announcement: Announcement
    units: list[UnitRead]
    sender_name: str
    may_withdraw: bool = False
    # For the spreadsheet: every expected person with the time they confirmed (or None).
    rows: list[tuple[Unit, str, Employee, datetime | None]] = field(default_factory=list)

    @property
    def expected(self) -> int:
        return sum(u.expected for u in self.units)

    @property
    def confirmed(self) -> int:
        return sum(u.confirmed for u in self.units)

    @property
    def missing(self) -> int:
        return self.expected - self.confirmed


class FollowUpResult(enum.Enum):
    OK = "ok"
    NONE = "none"  # no announcement this person may see
    UNKNOWN = "unknown"
    NOT_ALLOWED = "not_allowed"


@dataclass(frozen=True)
class FollowUp:
    result: FollowUpResult
    report: ReadReport | None = None


def follow_up(session: Session, settings: Settings, *, telegram_user_id: int,
              announcement_id: int | None) -> FollowUp:
    """/dibaca: confirmed/expected per unit and group, with the names still missing."""
    actor = actor_for(session, settings, telegram_user_id)
    if announcement_id is None:
        ann = session.exec(visible_query(session, actor).order_by(
            col(Announcement.created_at).desc(), col(Announcement.id).desc()).limit(1)).first()
        if ann is None:
            return FollowUp(FollowUpResult.NONE)
    else:
        ann = session.get(Announcement, announcement_id)
        if ann is None:
            return FollowUp(FollowUpResult.UNKNOWN)
    units = viewer_units(session, actor, ann)
    if units is None:
        return FollowUp(FollowUpResult.NOT_ALLOWED)
    report = build_report(session, ann, units)
    report.may_withdraw = may_withdraw(actor, ann) and ann.withdrawn_at is None
    return FollowUp(FollowUpResult.OK, report)


def build_report(session: Session, ann: Announcement, unit_ids: set[int]) -> ReadReport:
    units = {u.id: u for u in session.exec(select(Unit).where(col(Unit.id).in_(unit_ids)))}
    regu_names = {r.id: r.name for r in session.exec(
        select(Regu).where(col(Regu.unit_id).in_(unit_ids)))}
    admin_name = render("admin_group_name")
    reached = {(p.unit_id, p.regu_id): state == "sent" for p, state in session.exec(
        select(AnnouncementPost, OutboxMessage.state)
        .join(OutboxMessage, col(OutboxMessage.id) == AnnouncementPost.outbox_id)
        .where(AnnouncementPost.announcement_id == ann.id))}
    rows = session.exec(
        select(AnnouncementExpected.unit_id, AnnouncementExpected.regu_id, Employee,
               Acknowledgement.acknowledged_at)
        .join(Employee, col(Employee.id) == AnnouncementExpected.employee_id)
        .outerjoin(Acknowledgement, and_(
            col(Acknowledgement.announcement_id) == AnnouncementExpected.announcement_id,
            col(Acknowledgement.employee_id) == AnnouncementExpected.employee_id))
        .where(AnnouncementExpected.announcement_id == ann.id,
               col(AnnouncementExpected.unit_id).in_(unit_ids))
        .order_by(col(Employee.name))).all()
    groups: dict[tuple[int, int | None], GroupRead] = {}
    sheet: list[tuple[Unit, str, Employee, datetime | None]] = []
    for unit_id, regu_id, employee, at in rows:
        key = (unit_id, regu_id)
        group = groups.get(key)
        if group is None:
            name = regu_names.get(regu_id, admin_name) if regu_id else admin_name
            group = groups[key] = GroupRead(unit_id, regu_id, name, reached.get(key, False),
                                            has_group=key in reached)
        group.expected += 1
        if at is not None:
            group.confirmed += 1
        else:
            group.missing.append(employee)
        sheet.append((units[unit_id], group.name, employee, at))
    by_unit: dict[int, list[GroupRead]] = defaultdict(list)
    for group in groups.values():
        by_unit[group.unit_id].append(group)
    ordered = sorted(units.values(), key=lambda u: u.name)
    unit_reads = [UnitRead(u, sorted(by_unit.get(u.id, []),
                                     key=lambda g: (g.regu_id is None, g.name)))
                  for u in ordered]
    sheet.sort(key=lambda r: (r[0].name, r[1], r[2].name))
    return ReadReport(ann, unit_reads, sender_name(session, ann), rows=sheet)

def sender_name(session: Session, ann: Announcement) -> str:
    if ann.sender_employee_id is not None:
        employee = session.get(Employee, ann.sender_employee_id)
        if employee is not None:
            return employee.name
    return ""
