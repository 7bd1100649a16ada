"""Confirmations: the "Sudah dibaca" press, bound to whoever Telegram says pressed."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.announcements.models import (
    Acknowledgement,
    Announcement,
    AnnouncementExpected,
    AnnouncementUnit,
)
from bot.audit.log import record_event
from bot.org.models import Employee, Unit


class AckResult(enum.Enum):
    RECORDED = "recorded"
    ALREADY = "already"
    NOT_REGISTERED = "not_registered"
    NOT_TARGET = "not_target"
    WITHDRAWN = "withdrawn"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class AckOutcome:
    result: AckResult
    name: str | None = None
    at: datetime | None = None
    timezone: str = "Asia/Jakarta"  # the presser's unit's, for the time in the toast


def acknowledge(session: Session, *, announcement_id: int, telegram_user_id: int, chat_id: int,
                now: datetime) -> AckOutcome:
    """Record that the presser read it. The person is whoever Telegram says pressed."""
    ann = session.get(Announcement, announcement_id)
    if ann is None:
        return AckOutcome(AckResult.UNKNOWN)
    if ann.withdrawn_at is not None:
        return AckOutcome(AckResult.WITHDRAWN)
    employee = session.exec(select(Employee).where(
        Employee.telegram_user_id == telegram_user_id, Employee.active)).first()
    if employee is None:
        return AckOutcome(AckResult.NOT_REGISTERED)
    zone = session.get(Unit, employee.unit_id).timezone
    if session.get(AnnouncementUnit, (ann.id, employee.unit_id)) is None:
        return AckOutcome(AckResult.NOT_TARGET, employee.name, timezone=zone)
    existing = session.exec(select(Acknowledgement).where(
        Acknowledgement.announcement_id == ann.id,
        Acknowledgement.employee_id == employee.id)).first()
    if existing is not None:
        return AckOutcome(AckResult.ALREADY, employee.name, existing.acknowledged_at, zone)
    row = Acknowledgement(announcement_id=ann.id, employee_id=employee.id,
                          telegram_user_id=telegram_user_id, chat_id=chat_id,
                          acknowledged_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # the same press delivered twice, concurrently
        return AckOutcome(AckResult.ALREADY, employee.name, now, zone)
    expected = session.get(AnnouncementExpected, (ann.id, employee.id)) is not None
    record_event(session, kind="announcement.acknowledged", actor=f"tg:{telegram_user_id}",
                 at=now, payload={"acknowledgement_id": row.id, "announcement_id": ann.id,
                                  "employee_id": employee.id, "expected": expected})
    return AckOutcome(AckResult.RECORDED, employee.name, now, zone)
