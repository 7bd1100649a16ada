"""Running the unit from Telegram: leave requests and early ends, duty swaps, the integrity pact,
corrections of apel records, and the command menu each person was last given.

Nothing here rewrites history: an early end keeps the original end date, a revoked swap keeps
its row, a correction sits beside the apel record it excuses.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models import _bigint, _utc


class LeaveRequest(SQLModel, table=True):
    """A guard asking for their own leave; their Karupam (or the KPLP) decides."""

    __table_args__ = (Index("ix_leaverequest_employee_state", "employee_id", "state"),)
    id: int | None = Field(default=None, primary_key=True)
    employee_id: int = Field(foreign_key="employee.id")
    start: date
    end: date
    reason: str = Field(max_length=200)
    state: str = Field(default="pending", max_length=10)  # pending | approved | refused
    requested_by: int = _bigint(nullable=False)  # Telegram user id
    created_at: datetime = _utc(nullable=False)
    decided_at: datetime | None = _utc()
    decided_by: int | None = _bigint()
    leave_id: int | None = Field(default=None, foreign_key="leave.id")


class LeaveEnding(SQLModel, table=True):
    """A leave ended early: the Leave row's end moved from `original_end` to `new_end`.

    `new_end` before the leave's start means the leave was withdrawn before it began."""

    id: int | None = Field(default=None, primary_key=True)
    leave_id: int = Field(foreign_key="leave.id", index=True)
    original_end: date
    new_end: date
    ended_by: int = _bigint(nullable=False)  # Telegram user id
    ended_at: datetime = _utc(nullable=False)


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
    created_by: int = _bigint(nullable=False)
    created_at: datetime = _utc(nullable=False)
    revoked_at: datetime | None = _utc()
    revoked_by: int | None = _bigint()


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
    shown_at: datetime = _utc(nullable=False)
    signed_at: datetime | None = _utc()
    telegram_user_id: int | None = _bigint()


class Correction(SQLModel, table=True):
    """A missing person excused at a past apel, with who and why. The apel record stays."""

    __table_args__ = (UniqueConstraint("apel_id", "employee_id"),)
    id: int | None = Field(default=None, primary_key=True)
    apel_id: int = Field(foreign_key="apel.id", index=True)
    employee_id: int = Field(foreign_key="employee.id", index=True)
    reason_code: str = Field(max_length=20)
    reason: str = Field(max_length=200)  # the reason as shown, in Indonesian
    by: int = _bigint(nullable=False)  # Telegram user id of the KPLP / Kalapas / admin
    by_name: str = Field(default="", max_length=120)
    at: datetime = _utc(nullable=False)


class MenuState(SQLModel, table=True):
    """The command menu last set for a person's private chat (BotCommandScopeChat)."""

    telegram_user_id: int = _bigint(nullable=False, primary_key=True)
    signature: str = Field(max_length=64)
    version: int = 0
    checked_at: datetime = _utc(nullable=False)
