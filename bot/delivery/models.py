"""The inbox: every update Telegram delivers, stored before Telegram is told it arrived."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from bot.models import _bigint, _utc


class InboxUpdate(SQLModel, table=True):
    """One update as Telegram sent it. Handled from here; its handled mark and its effect
    (a pledge) commit together, so a crash neither loses nor doubles it."""

    __table_args__ = (Index("ix_inbox_open", "handled_at", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    # update_id plus a digest of the update: the same update delivered twice is stored once,
    # while a later update reusing the id (a new token, a week of silence) is not mistaken for it.
    update_key: str = Field(unique=True, max_length=60)
    update_id: int = _bigint(nullable=False)
    payload: dict = Field(sa_column=Column(JSON, nullable=False))
    received_at: datetime = _utc(nullable=False)
    # A process working on it holds it until then; a dead one's claim runs out.
    claimed_by: str | None = Field(default=None, max_length=80)
    claimed_until: datetime | None = _utc()
    handled_at: datetime | None = _utc()
