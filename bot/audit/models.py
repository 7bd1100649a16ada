"""Tables of the audit trail. Entries and checkpoints are append-only (triggers enforce it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel

from bot.platform.columns import UTCDateTime


class AuditEntry(SQLModel, table=True):
    """One link of the hash chain; holds everything needed to recompute its leaf hash."""

    __tablename__ = "auditentry"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    # RFC 3339 text exactly as hashed (see bot.audit.canonical); fixed width, so it sorts.
    at: str = Field(max_length=27, index=True)
    kind: str = Field(max_length=40)
    actor: str = Field(max_length=80)
    # The canonical JSON text exactly as hashed: re-serialising a parsed copy could differ.
    payload: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    leaf_hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The chain head in one row. Appenders lock it (FOR UPDATE) so seq numbers never fork.

    Only a lock and a cache: verification never trusts it, it recomputes from the entries.
    """

    __tablename__ = "audithead"
    id: int = Field(default=1, primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    leaf_hash: str = Field(max_length=64)
    at: str = Field(max_length=27)


class Checkpoint(SQLModel, table=True):
    """A signed tree head: the note text is what gets posted to the Kalapas chat."""

    __tablename__ = "auditcheckpoint"
    id: int | None = Field(default=None, primary_key=True)
    tree_size: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    root_hash: str = Field(max_length=64)
    key_id: str = Field(max_length=8)
    note: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Roots of the perfect subtrees at the right edge of the tree (hex, comma separated), so
    # the next checkpoint hashes only the new leaves. Bound to the signed root: a tampered
    # value is detected before use.
    frontier: str = Field(sa_column=Column(Text, nullable=False))
