"""What /healthz reports of the database: reachable, and how the outbox is keeping up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.delivery.models import OutboxMessage


@dataclass(frozen=True)
class OutboxState:
    depth: int  # rows not yet sent (pending or on the wire)
    oldest_due_age_s: float | None  # how long the oldest row that may go now has waited


def outbox_state(session: Session, now: datetime) -> OutboxState:
    depth = session.exec(select(func.count()).select_from(OutboxMessage).where(
        col(OutboxMessage.state).in_(("pending", "sending")))).one()
    oldest = session.exec(select(func.min(OutboxMessage.next_attempt_at)).where(
        OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now)).one()
    age = (now - oldest).total_seconds() if oldest is not None else None
    return OutboxState(int(depth), age)
