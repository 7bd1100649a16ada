"""Running the unit from Telegram: leave requests and early ends, and the integrity pact. (Duty
swaps and corrections change the apel core's day plan and attendance: bot/apel/models.py.)

Nothing here rewrites history: an early end keeps the original end date.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

import bot.org.models  # noqa: F401  (employees, leave, periods: the foreign keys below)
from bot.platform.columns import bigint_field, utc_field


class LeaveRequest(SQLModel, table=True):
    """A guard asking for their own leave; their Karupam (or the KPLP) decides."""

    __table_args__ = (Index("ix_leaverequest_employee_state", "employee_id", "state"),)
    id: int | None = Field(default=None, primary_key=True)
    employee_id: int = Field(foreign_key="employee.id")
    start: date
    end: date
    reason: str = Field(max_length=200)
    state: str = Field(default="pending", max_length=10)  # pending | approved | refused
    requested_by: int = bigint_field(nullable=False)  # Telegram user id
    created_at: datetime = utc_field(nullable=False)
    decided_at: datetime | None = utc_field()
    decided_by: int | None = bigint_field()
    leave_id: int | None = Field(default=None, foreign_key="leave.id")


class LeaveEnding(SQLModel, table=True):
    """A leave ended early: the Leave row's end moved from `original_end` to `new_end`.

    `new_end` before the leave's start means the leave was withdrawn before it began."""

    id: int | None = Field(default=None, primary_key=True)
    leave_id: int = Field(foreign_key="leave.id", index=True)
    original_end: date
    new_end: date
    ended_by: int = bigint_field(nullable=False)  # Telegram user id
    ended_at: datetime = utc_field(nullable=False)


class PaktaSignature(SQLModel, table=True):
    """One employee and the integrity pact of one pledge period: shown, then signed.

    `text_sha256` is the SHA-256 of the exact pact text shown; signing checks it is still the
    text in force, so nobody signs words they were not shown."""

    __table_args__ = (
        UniqueConstraint("employee_id", "period_id"),
        Index("ix_paktasignature_period_signed", "period_id", "signed_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    employee_id: int = Field(foreign_key="employee.id")
    period_id: int = Field(foreign_key="pledgeperiod.id")
    text_sha256: str = Field(max_length=64)
    shown_at: datetime = utc_field(nullable=False)
    signed_at: datetime | None = utc_field()
    telegram_user_id: int | None = bigint_field()
