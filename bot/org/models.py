"""The organisation: units and their regu, employees and the roles granted beyond the roster,
registrations, leave, the pledge period (config.toml's, kept in the database), and the command
menu each person was last given (bot/org/menus.py)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.platform.columns import bigint_field, utc_field


class Unit(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=40)
    name: str = Field(max_length=120)
    kind: str = Field(max_length=10)
    kanwil: str = Field(max_length=120, index=True)
    timezone: str = Field(max_length=40)
    kalapas_chat_id: int = bigint_field(nullable=False)
    admin_group_chat_id: int | None = bigint_field()
    active: bool = True
    created_at: datetime = utc_field(nullable=False)


class Regu(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("unit_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    name: str = Field(max_length=60)
    chat_id: int = bigint_field(nullable=False, unique=True)
    active: bool = True


class Employee(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    nip: str = Field(unique=True, max_length=18)
    name: str = Field(max_length=120)
    role: str = Field(max_length=20)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    regu_id: int | None = Field(default=None, foreign_key="regu.id", index=True)
    telegram_user_id: int | None = bigint_field(unique=True)
    # True once the person has opened a private chat with the bot (/start), so we may DM them.
    private_chat_ok: bool = False
    active: bool = True
    updated_at: datetime = utc_field(nullable=False)


class RoleGrant(SQLModel, table=True):
    """Roles beyond the roster's jabatan: admin, kanwil officer, satgas member."""

    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int = bigint_field(nullable=False, index=True)
    role: str = Field(max_length=20)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    kanwil: str | None = Field(default=None, max_length=120)
    granted_by: int | None = bigint_field()
    granted_at: datetime = utc_field(nullable=False)
    revoked_at: datetime | None = utc_field()


class RegistrationRequest(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int = bigint_field(nullable=False, index=True)
    telegram_name: str = Field(default="", max_length=200)
    employee_id: int = Field(foreign_key="employee.id", index=True)
    state: str = Field(default="pending", max_length=10)  # pending | approved | refused
    created_at: datetime = utc_field(nullable=False)
    decided_at: datetime | None = utc_field()
    decided_by: int | None = bigint_field()


class Leave(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("employee_id", "start", "end"),)
    id: int | None = Field(default=None, primary_key=True)
    employee_id: int = Field(foreign_key="employee.id", index=True)
    start: date
    end: date
    reason: str = Field(max_length=200)
    created_by: str = Field(default="import", max_length=60)
    created_at: datetime = utc_field(nullable=False)


class PledgePeriod(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=120)
    start: date
    end: date
    pledge_points: list[str] = Field(sa_column=Column(JSON, nullable=False))
    topics: list[str] = Field(sa_column=Column(JSON, nullable=False))


class MenuState(SQLModel, table=True):
    """The command menu last set for a person's private chat (BotCommandScopeChat)."""

    telegram_user_id: int = bigint_field(nullable=False, primary_key=True)
    signature: str = Field(max_length=64)
    version: int = 0
    checked_at: datetime = utc_field(nullable=False)
