"""What services call to put an event on the tamper-evident record (see bot/audit/)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.audit.chain import append


def record_event(session: Session, *, kind: str, actor: str, at: datetime, payload: dict) -> None:
    """Append in the caller's transaction: the event and its record commit or vanish together."""
    append(session, kind=kind, actor=actor, payload=payload, at=at)
