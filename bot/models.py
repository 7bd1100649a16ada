"""The records. One table per thing the product talks about; constraints make doubles impossible."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint, text
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, always hands back aware UTC (SQLite forgets the zone otherwise)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _utc(nullable: bool = True, **kw: Any) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, **kw))


def _bigint(nullable: bool = True, **kw: Any) -> Any:
    return Field(default=None, sa_column=Column(BigInteger, nullable=nullable, **kw))


class Unit(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=40)
    name: str = Field(max_length=120)
    kind: str = Field(max_length=10)
    kanwil: str = Field(max_length=120, index=True)
    timezone: str = Field(max_length=40)
    kalapas_chat_id: int = _bigint(nullable=False)
    admin_group_chat_id: int | None = _bigint()
    active: bool = True
    created_at: datetime = _utc(nullable=False)


class Regu(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("unit_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    name: str = Field(max_length=60)
    chat_id: int = _bigint(nullable=False, unique=True)
    active: bool = True


class ChatMigration(SQLModel, table=True):
    """Telegram upgraded a group to a supergroup: its id changed for good. Config still naming
    the old id is read through this (bot/org/units.py), so a restart does not go back."""

    old_chat_id: int = _bigint(nullable=False, primary_key=True, autoincrement=False)
    new_chat_id: int = _bigint(nullable=False)
    migrated_at: datetime = _utc(nullable=False)


class ServiceLease(SQLModel, table=True):
    """Which `apel-bot run` serves this database. One at a time: two would send the outbox
    twice and each pace itself as if it had Telegram's limit alone (services/instance_lease)."""

    name: str = Field(primary_key=True, max_length=20)
    holder: str = Field(max_length=80)  # host:pid:random, fresh for every start
    host: str = Field(max_length=64)
    pid: int
    heartbeat_at: datetime = _utc(nullable=False)


class Employee(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    nip: str = Field(unique=True, max_length=18)
    name: str = Field(max_length=120)
    role: str = Field(max_length=20)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    regu_id: int | None = Field(default=None, foreign_key="regu.id", index=True)
    telegram_user_id: int | None = _bigint(unique=True)
    # True once the person has opened a private chat with the bot (/start), so we may DM them.
    private_chat_ok: bool = False
    active: bool = True
    updated_at: datetime = _utc(nullable=False)


class RoleGrant(SQLModel, table=True):
    """Roles beyond the roster's jabatan: admin, kanwil officer, satgas member."""

    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int = _bigint(nullable=False, index=True)
    role: str = Field(max_length=20)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    kanwil: str | None = Field(default=None, max_length=120)
    granted_by: int | None = _bigint()
    granted_at: datetime = _utc(nullable=False)
    revoked_at: datetime | None = _utc()


class RegistrationRequest(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int = _bigint(nullable=False, index=True)
    telegram_name: str = Field(default="", max_length=200)
    employee_id: int = Field(foreign_key="employee.id", index=True)
    state: str = Field(default="pending", max_length=10)  # pending | approved | refused
    created_at: datetime = _utc(nullable=False)
    decided_at: datetime | None = _utc()
    decided_by: int | None = _bigint()


class Leave(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("employee_id", "start", "end"),)
    id: int | None = Field(default=None, primary_key=True)
    employee_id: int = Field(foreign_key="employee.id", index=True)
    start: date
    end: date
    reason: str = Field(max_length=200)
    created_by: str = Field(default="import", max_length=60)
    created_at: datetime = _utc(nullable=False)


class PledgePeriod(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=120)
    start: date
    end: date
    pledge_points: list[str] = Field(sa_column=Column(JSON, nullable=False))
    topics: list[str] = Field(sa_column=Column(JSON, nullable=False))


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
    scheduled_at: datetime = _utc(nullable=False)
    late_after_at: datetime = _utc(nullable=False)
    deadline_at: datetime = _utc(nullable=False)
    opened_at: datetime | None = _utc()
    closed_at: datetime | None = _utc()
    state: str = Field(max_length=8)  # open | closed | missed
    opened_late: bool = False
    # Reports read a closed apel's ApelStatusCount rows while counted_version == change_version;
    # a pledge, leave or correction touching it bumps change_version (services/apel_counts.py).
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


class Briefing(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("apel_id", "chat_id"),)
    id: int | None = Field(default=None, primary_key=True)
    apel_id: int = Field(foreign_key="apel.id", index=True)
    regu_id: int | None = Field(default=None, foreign_key="regu.id")
    chat_id: int = _bigint(nullable=False)
    outbox_id: int | None = Field(default=None, foreign_key="outboxmessage.id")
    tally_shown: int = 0
    tally_base: int = 0  # the "dari N" the post shows (the briefing's text says N at first)
    tally_edited_at: datetime | None = _utc()


class Pledge(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("apel_id", "employee_id"),)
    id: int | None = Field(default=None, primary_key=True)
    apel_id: int = Field(foreign_key="apel.id", index=True)
    employee_id: int = Field(foreign_key="employee.id", index=True)
    telegram_user_id: int = _bigint(nullable=False)
    chat_id: int = _bigint(nullable=False)
    pledged_at: datetime = _utc(nullable=False)
    late: bool = False  # after the on-time window
    after_deadline: bool = False
    expected: bool = True  # False: pressed although not on the frozen list (kept, with a note)


class OutboxMessage(SQLModel, table=True):
    __table_args__ = (Index("ix_outbox_due", "state", "priority", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=120)
    chat_id: int = _bigint(nullable=False, index=True)
    method: str = Field(max_length=30)
    payload: dict = Field(sa_column=Column(JSON, nullable=False))
    priority: int = 5  # lower goes first
    state: str = Field(default="pending", max_length=10)  # pending|sending|sent|failed
    attempts: int = 0
    next_attempt_at: datetime = _utc(nullable=False)
    created_at: datetime = _utc(nullable=False)
    sent_at: datetime | None = _utc()
    message_id: int | None = _bigint()
    last_error: str | None = Field(default=None, max_length=500)
    # Set when a send may or may not have arrived (timeout, crash mid-send): resent once, marked.
    uncertain: bool = False


# Each capability's tables join this metadata (and Alembic's). Explicit imports, not a scan of
# module names: a module that moves or is renamed fails here at once instead of dropping its tables.
import bot.announcements.models  # noqa: E402, F401
import bot.audit.models  # noqa: E402, F401
import bot.delivery.models  # noqa: E402, F401
import bot.reports.models  # noqa: E402, F401
import bot.unit_admin.models  # noqa: E402, F401
