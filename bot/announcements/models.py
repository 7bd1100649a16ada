"""Satgas announcements: the announcement, its target units, its posts, who was expected to read
it (frozen when sent) and who confirmed. Constraints make a double send or a double
confirmation impossible."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

import bot.org.models  # noqa: F401  (units, regu, employees: the foreign keys below)
from bot.delivery.models import group_post
from bot.platform.columns import bigint_field, utc_field


class Announcement(SQLModel, table=True):
    __table_args__ = (Index("ix_announcement_remind", "reminded_at", "remind_at"),)
    id: int | None = Field(default=None, primary_key=True)
    # One announcement per confirmed draft: a second "Kirim" (double tap, redelivered update,
    # second process) finds this row instead of sending again.
    draft_key: str = Field(unique=True, max_length=80)
    sender_user_id: int = bigint_field(nullable=False, index=True)
    sender_employee_id: int | None = Field(default=None, foreign_key="employee.id")
    text_html: str = Field(sa_column=Column(Text, nullable=False))  # Telegram HTML, as composed
    media_kind: str | None = Field(default=None, max_length=10)  # photo | document
    media_file_id: str | None = Field(default=None, max_length=255)  # re-sent by file_id
    scope: str = Field(max_length=10)  # unit | kanwil | all
    scope_label: str = Field(max_length=120)
    created_at: datetime = utc_field(nullable=False, index=True)
    expected_count: int = 0
    group_count: int = 0
    remind_at: datetime = utc_field(nullable=False)
    reminded_at: datetime | None = utc_field()
    # Highest acknowledgement id already reflected in the posts' tallies.
    tally_ack_id: int = 0
    withdrawn_at: datetime | None = utc_field()
    withdrawn_by: int | None = bigint_field()


class AnnouncementUnit(SQLModel, table=True):
    announcement_id: int = Field(foreign_key="announcement.id", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", primary_key=True, index=True)


@group_post
class AnnouncementPost(SQLModel, table=True):
    """One post of an announcement in one group (a regu group or a unit's administration group)."""

    __table_args__ = (UniqueConstraint("announcement_id", "chat_id"),)
    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = Field(foreign_key="announcement.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    regu_id: int | None = Field(default=None, foreign_key="regu.id")  # None: administration
    chat_id: int = bigint_field(nullable=False)
    outbox_id: int | None = Field(default=None, foreign_key="outboxmessage.id")
    expected: int = 0
    tally_shown: int = 0
    tally_edited_at: datetime | None = utc_field()


class AnnouncementExpected(SQLModel, table=True):
    """Who was meant to read it, frozen when it was sent: roster edits do not rewrite it."""

    announcement_id: int = Field(foreign_key="announcement.id", primary_key=True)
    employee_id: int = Field(foreign_key="employee.id", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")
    regu_id: int | None = Field(default=None, foreign_key="regu.id")


class Acknowledgement(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("announcement_id", "employee_id"),)
    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = Field(foreign_key="announcement.id", index=True)
    employee_id: int = Field(foreign_key="employee.id", index=True)
    telegram_user_id: int = bigint_field(nullable=False)
    chat_id: int = bigint_field(nullable=False)
    acknowledged_at: datetime = utc_field(nullable=False)
