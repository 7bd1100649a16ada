"""The platform's table: which process serves this database (bot/platform/instance_lease.py)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from bot.platform.columns import utc_field


class ServiceLease(SQLModel, table=True):
    """Which `apel-bot run` serves this database. One at a time: two would send the outbox
    twice and each pace itself as if it had Telegram's limit alone (instance_lease.py)."""

    name: str = Field(primary_key=True, max_length=20)
    holder: str = Field(max_length=80)  # host:pid:random, fresh for every start
    host: str = Field(max_length=64)
    pid: int
    heartbeat_at: datetime = utc_field(nullable=False)
