"""The operative tables the inspector reconciles with the chain: how each is read, keyed and
which of its fields the chain's entries state (bot/inspection/ledger.py folds the entries,
bot/inspection/reconcile.py compares).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, func, select

from bot.announcements.models import Acknowledgement, Announcement
from bot.apel.models import Correction, DutySwap, Pledge
from bot.audit.facts import digest
from bot.org.models import Employee, Leave, RegistrationRequest, RoleGrant
from bot.unit_admin.models import LeaveEnding, PaktaSignature


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # a field the entry did not state: not compared


def _iso(v: date | None) -> str | None:
    return None if v is None else v.isoformat()


def _at(column: Any, dialect: str) -> Any:
    """SQL: a UTC time column as the chain spells it (canonical.format_at), computed by the
    database: formatting a million datetimes in Python would cost more than the whole scan.
    SQLite holds SQLAlchemy's text "YYYY-MM-DD HH:MM:SS.ffffff"."""
    if dialect == "postgresql":
        return func.to_char(column, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    return func.replace(column, " ", "T") + "Z"


def _set(v: Any) -> bool:
    return v is not None


def _hash(v: str | None) -> str | None:
    return None if v is None else digest(v)


Field = tuple[str, str, Callable[[Any], Any] | None]  # (name, column, converter)
AT_TEXT: Any = _at  # as a converter: done in SQL (see _at)


def _same(*names: str) -> tuple[Field, ...]:
    return tuple((n, n, None) for n in names)


@dataclass(frozen=True)
class Table:
    """How to read one table: the key the entries use, and each compared field's column."""

    name: str
    model: Any
    key: tuple[str, ...]  # columns; one column keys by its value, several by a tuple
    fields: tuple[Field, ...]
    needs_entry: str | None = None  # a field: rows where it is false need no entry

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f[0] for f in self.fields)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def pack(self, stated: dict[str, Any]) -> tuple:
        return tuple(stated.get(n, MISSING) for n in self.names)

    def rows(self, conn: Connection, ids: set[Any] | None = None
             ) -> Iterator[tuple[Any, Any, tuple]]:
        """(key, row id, field values in `names` order) of every row (or of these few ids),
        streamed."""
        t, dialect = self.model.__table__, conn.dialect.name
        columns = [t.c[c] for c in self.key] + [t.c.id] + [
            _at(t.c[col], dialect) if fn is AT_TEXT else t.c[col] for _, col, fn in self.fields]
        query = select(*(c.label(f"c{i}") for i, c in enumerate(columns)))
        if ids is not None:
            query = query.where(t.c.id.in_(sorted(ids)))
        start = len(self.key) + 1
        convert = [(start + i, f[2]) for i, f in enumerate(self.fields)
                   if f[2] is not None and f[2] is not AT_TEXT]
        result = conn.execute(query, execution_options={"yield_per": 10_000})  # not the conn's
        for part in result.partitions():
            for row in part:
                values = list(row)
                for i, fn in convert:
                    values[i] = fn(values[i])
                if len(self.key) == 1:
                    key = values[0]
                else:
                    key = tuple(_iso(v) if isinstance(v, date) else v for v in values[:start - 1])
                yield key, values[start - 1], tuple(values[start:])


TABLES = (
    Table("pledge", Pledge, ("id",), (
        *_same("apel_id", "employee_id", "late", "after_deadline", "expected"),
        ("pledged_at", "pledged_at", AT_TEXT), *_same("telegram_user_id"))),
    Table("correction", Correction, ("id",), _same("apel_id", "employee_id", "reason_code",
                                                   "reason", "by")),
    Table("paktasignature", PaktaSignature, ("id",), (
        *_same("employee_id", "period_id", "text_sha256", "telegram_user_id"),
        ("signed", "signed_at", _set)), needs_entry="signed"),
    Table("leave", Leave, ("id",), (
        *_same("employee_id"), ("start", "start", _iso), ("end", "end", _iso),
        ("reason_sha256", "reason", _hash))),
    Table("leaveending", LeaveEnding, ("leave_id", "new_end"), (
        ("original_end", "original_end", _iso), ("ended_by", "ended_by", None))),
    Table("registrationrequest", RegistrationRequest, ("id",),
          _same("employee_id", "telegram_user_id", "state")),
    Table("employee", Employee, ("id",), (
        *_same("unit_id", "regu_id", "role", "active", "telegram_user_id"),
        ("nip_sha256", "nip", _hash), ("name_sha256", "name", _hash))),
    Table("rolegrant", RoleGrant, ("id",), (
        *_same("telegram_user_id", "role", "unit_id", "kanwil"),
        ("revoked", "revoked_at", _set))),
    Table("dutyswap", DutySwap, ("id",), (
        *_same("unit_id", "slot", "regu_id", "employee_id", "pair_id", "created_by"),
        ("duty_date", "duty_date", _iso), ("revoked", "revoked_at", _set))),
    Table("announcement", Announcement, ("id",), (
        *_same("scope", "expected_count", "group_count", "media_kind", "sender_user_id"),
        ("withdrawn", "withdrawn_at", _set))),
    Table("acknowledgement", Acknowledgement, ("id",),
          _same("announcement_id", "employee_id", "telegram_user_id")),
)
TABLE = {t.name: t for t in TABLES}
