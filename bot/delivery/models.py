"""Delivery's tables: the outbox (every message to Telegram), the inbox (every update Telegram
delivers, stored before Telegram is told it arrived), and the groups Telegram upgraded to
supergroups, with the posts that follow them."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from bot.platform.columns import bigint_field, utc_field


class InboxUpdate(SQLModel, table=True):
    """One update as Telegram sent it. Handled from here; its handled mark and its effect
    (a pledge) commit together, so a crash neither loses nor doubles it."""

    __table_args__ = (Index("ix_inbox_open", "handled_at", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    # update_id plus a digest of the update: the same update delivered twice is stored once,
    # while a later update reusing the id (a new token, a week of silence) is not mistaken for it.
    update_key: str = Field(unique=True, max_length=60)
    update_id: int = bigint_field(nullable=False)
    payload: dict = Field(sa_column=Column(JSON, nullable=False))
    received_at: datetime = utc_field(nullable=False)
    # A process working on it holds it until then; a dead one's claim runs out.
    claimed_by: str | None = Field(default=None, max_length=80)
    claimed_until: datetime | None = utc_field()
    handled_at: datetime | None = utc_field()


class OutboxMessage(SQLModel, table=True):
    __table_args__ = (Index("ix_outbox_due", "state", "priority", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=120)
    chat_id: int = bigint_field(nullable=False, index=True)
    method: str = Field(max_length=30)
    payload: dict = Field(sa_column=Column(JSON, nullable=False))
    priority: int = 5  # lower goes first
    state: str = Field(default="pending", max_length=10)  # pending|sending|sent|failed
    attempts: int = 0
    next_attempt_at: datetime = utc_field(nullable=False)
    created_at: datetime = utc_field(nullable=False)
    sent_at: datetime | None = utc_field()
    message_id: int | None = bigint_field()
    last_error: str | None = Field(default=None, max_length=500)
    # Set when a send may or may not have arrived (timeout, crash mid-send): resent once, marked.
    uncertain: bool = False


class ChatMigration(SQLModel, table=True):
    """Telegram upgraded a group to a supergroup: its id changed for good. Config still naming
    the old id is read through this (bot/org/units.py), so a restart does not go back."""

    old_chat_id: int = bigint_field(nullable=False, primary_key=True, autoincrement=False)
    new_chat_id: int = bigint_field(nullable=False)
    migrated_at: datetime = utc_field(nullable=False)


T = TypeVar("T", bound=type[SQLModel])
# Tables of posts in groups whose chat_id follows a group Telegram upgraded to a supergroup
# (bot/org/units.py, move_chat): a press in the supergroup is checked against them, and their
# tally edits go to the new id. Each is marked where it is defined (@group_post).
GROUP_POSTS: list[type[SQLModel]] = []


def group_post(table: T) -> T:
    """Class decorator: this table's rows are posts in groups, their chat_id follows moves."""
    GROUP_POSTS.append(table)
    return table
