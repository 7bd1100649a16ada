"""The apel core's tables: each apel, who was expected (frozen when it opened), its briefings,
the pledges, the kept counts of a closed apel; and the two changes the unit makes to them: duty
swaps (the day plan) and corrections (the attendance). Nothing here rewrites history: a revoked
swap keeps its row, a correction sits beside the apel record it excuses."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

import bot.org.models  # noqa: F401  (units, regu, employees, periods: the foreign keys below)
from bot.delivery.models import group_post
from bot.platform.columns import bigint_field, utc_field

# apel_counts.stale() as each dialect renders it, so the planner matches it to the index.
UNCOUNTED_PG = "state = 'closed' AND (counted_version = change_version) IS NOT true"
UNCOUNTED_SQLITE = "state = 'closed' AND (counted_version = change_version) IS NOT 1"


class Apel(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("unit_id", "duty_date", "slot"),
        Index("ix_apel_state_deadline", "state", "deadline_at"),
        # Small: the closed apel whose counts are missing or stale (apel_counts.stale).
        Index("ix_apel_uncounted", "id",
              postgresql_where=text(UNCOUNTED_PG), sqlite_where=text(UNCOUNTED_SQLITE)),
    )
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")
    duty_date: date
    slot: str = Field(max_length=5)
    period_id: int = Field(foreign_key="pledgeperiod.id")
    scheduled_at: datetime = utc_field(nullable=False)
    late_after_at: datetime = utc_field(nullable=False)
    deadline_at: datetime = utc_field(nullable=False)
    opened_at: datetime | None = utc_field()
    closed_at: datetime | None = utc_field()
    state: str = Field(max_length=8)  # open | closed | missed
    opened_late: bool = False
    # Reports read a closed apel's ApelStatusCount rows while counted_version == change_version;
    # a pledge, leave or correction touching it bumps change_version (bot/apel/counts.py).
    change_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    counted_version: int = Field(default=-1, sa_column_kwargs={"server_default": "-1"})


class ApelStatusCount(SQLModel, table=True):
    """How many of a closed apel's frozen roster ended in each status, per group: what the
    reports add up instead of classifying every person again (bot/apel/counts.py)."""

    __table_args__ = (Index("ix_apelstatuscount_unit_day", "unit_id", "duty_date"),)
    id: int | None = Field(default=None, primary_key=True)
    apel_id: int = Field(foreign_key="apel.id", index=True)
    regu_id: int | None = Field(default=None, foreign_key="regu.id")
    status: str = Field(max_length=12)
    n: int
    # The apel's unit, duty date and slot (they never change): a year of many units adds up
    # these rows without joining each apel (migration 1100; None only before it ran).
    unit_id: int | None = None
    duty_date: date | None = None
    slot: str | None = Field(default=None, max_length=5)


class ApelExpected(SQLModel, table=True):
    """Who was expected when the apel opened: frozen, roster edits do not rewrite it."""

    apel_id: int = Field(foreign_key="apel.id", primary_key=True)
    employee_id: int = Field(foreign_key="employee.id", primary_key=True)
    regu_id: int | None = Field(default=None, foreign_key="regu.id")


@group_post
class Briefing(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("apel_id", "chat_id"),)
    id: int | None = Field(default=None, primary_key=True)
    apel_id: int = Field(foreign_key="apel.id", index=True)
    regu_id: int | None = Field(default=None, foreign_key="regu.id")
    chat_id: int = bigint_field(nullable=False)
    outbox_id: int | None = Field(default=None, foreign_key="outboxmessage.id")
    tally_shown: int = 0
    tally_base: int = 0  # the "dari N" the post shows (the briefing's text says N at first)
    tally_edited_at: datetime | None = utc_field()


class Pledge(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("apel_id", "employee_id"),)
    id: int | None = Field(default=None, primary_key=True)
    apel_id: int = Field(foreign_key="apel.id", index=True)
    employee_id: int = Field(foreign_key="employee.id", index=True)
    telegram_user_id: int = bigint_field(nullable=False)
    chat_id: int = bigint_field(nullable=False)
    pledged_at: datetime = utc_field(nullable=False)
    late: bool = False  # after the on-time window
    after_deadline: bool = False
    expected: bool = True  # False: pressed although not on the frozen list (kept, with a note)


class DutySwap(SQLModel, table=True):
    """A per-date change to who stands an apel: a regu (regu_id) or one person (employee_id).

    A regu swap stands `slot` on `duty_date` instead of the rotation's regu; when the two regu
    exchange apel, the second row points at the first through `pair_id`. A person swap is
    expected at `slot` instead of their own apel that day. Revoked rows are kept."""

    __table_args__ = (
        Index("ix_dutyswap_unit_date", "unit_id", "duty_date"),
        Index("ix_dutyswap_employee_date", "employee_id", "duty_date"),
    )
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")
    duty_date: date
    slot: str = Field(max_length=5)
    regu_id: int | None = Field(default=None, foreign_key="regu.id")
    employee_id: int | None = Field(default=None, foreign_key="employee.id")
    pair_id: int | None = Field(default=None, foreign_key="dutyswap.id")
    created_by: int = bigint_field(nullable=False)
    created_at: datetime = utc_field(nullable=False)
    revoked_at: datetime | None = utc_field()
    revoked_by: int | None = bigint_field()


class Correction(SQLModel, table=True):
    """A missing person excused at a past apel, with who and why. The apel record stays."""

    __table_args__ = (UniqueConstraint("apel_id", "employee_id"),)
    id: int | None = Field(default=None, primary_key=True)
    apel_id: int = Field(foreign_key="apel.id", index=True)
    employee_id: int = Field(foreign_key="employee.id", index=True)
    reason_code: str = Field(max_length=20)
    reason: str = Field(max_length=200)  # the reason as shown, in Indonesian
    by: int = bigint_field(nullable=False)  # Telegram user id of the KPLP / Kalapas / admin
    by_name: str = Field(default="", max_length=120)
    at: datetime = utc_field(nullable=False)
