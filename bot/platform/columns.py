"""Column types every capability's tables share: UTC times and Telegram's 64-bit ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import Field


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


def utc_field(nullable: bool = True, **kw: Any) -> Any:
    """A UTCDateTime column (None unless set); `kw` goes to the Column (index, unique...)."""
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, **kw))


def bigint_field(nullable: bool = True, **kw: Any) -> Any:
    """A 64-bit integer column (Telegram's user and chat ids), None unless set."""
    return Field(default=None, sa_column=Column(BigInteger, nullable=nullable, **kw))
