"""What services call to put an event on the tamper-evident record (see bot/audit/)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from bot.audit.canonical import format_at
from bot.audit.chain import Event, append, append_many


def record_event(session: Session, *, kind: str, actor: str, at: datetime, payload: dict) -> None:
    """Append in the caller's transaction: the event and its record commit or vanish together."""
    append(session, kind=kind, actor=actor, payload=payload, at=at)


def record_events(session: Session, events: Sequence[Event]) -> None:
    """Several events in order, in one write (a burst of pledges)."""
    append_many(session, events)


__all__ = ["Event", "format_at", "record_event", "record_events"]
