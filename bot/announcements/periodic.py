"""What the scheduler runs for announcements every few seconds: tallies, then reminders."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.announcements.reminders import send_reminders
from bot.announcements.tally import refresh_tallies
from bot.platform.config import Settings


def refresh(session: Session, settings: Settings, now: datetime) -> int:
    """What the scheduler runs every few seconds. Returns the number of messages queued."""
    return (refresh_tallies(session, now, settings.telegram.tally_edit_seconds)
            + send_reminders(session, now))
