"""Pledges, the table of a million rows, reconciled by their exact text.

A `pledge.recorded` entry states every compared column of its row, so the database can spell
the row back as the entry's canonical payload and actor: equal text means equal fields, with
no JSON decoded and no Python object per row. While the chain streams past, the entries are
held by their text (Ledger.visit); each row then claims its own. Whatever is left on either
side — an older entry that states fewer fields, a row changed or added, an entry whose row was
deleted, a pledge a baseline vouched for — is compared field by field (reconcile.py), so the
problems read the same as for every other table.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from bot.audit.report import Problem
from bot.audit.store import stream

if TYPE_CHECKING:
    from bot.inspection.ledger import Ledger

SEP = "\x1f"  # refused in actors and escaped in canonical JSON: the text splits one way only


def entry_text(payload: str, actor: str) -> str:
    return payload + SEP + actor


def _int(col: str) -> str:
    # SQLite: an INTEGER column converts any text that reads as an integer, so what is left
    # as text or real never spells a canonical JSON integer.
    return f"CAST({col} AS TEXT)"


def _bool(col: str) -> str:
    # SQLite's BOOLEAN has numeric affinity: true and false are the integers 1 and 0.
    return f"CASE {col} WHEN TRUE THEN 'true' WHEN FALSE THEN 'false' END"


def _time(col: str, dialect: str) -> str:
    """As canonical.format_at spells it (SQLite holds "YYYY-MM-DD HH:MM:SS.ffffff"); a text
    with a quote or backslash is left unspelled (it would not be one JSON string)."""
    if dialect == "postgresql":
        return f"""to_char({col}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
    return (f"CASE WHEN instr({col}, '\"') = 0 AND instr({col}, '\\') = 0 "
            f"THEN replace({col}, ' ', 'T') || 'Z' END")


def row_text_sql(dialect: str) -> str:
    """(id, the text of the entry that recorded the row): NULL where a value could not be
    spelled (a wrong type: never equal, so compared field by field)."""
    parts = [
        "'{\"after_deadline\":'", _bool("after_deadline"),
        "',\"apel_id\":'", _int("apel_id"),
        "',\"employee_id\":'", _int("employee_id"),
        "',\"expected\":'", _bool("expected"),
        "',\"late\":'", _bool("late"),
        "',\"pledge_id\":'", _int("id"),
        "',\"pledged_at\":\"'", _time("pledged_at", dialect),
        "'\"}'", "chr(31)" if dialect == "postgresql" else "char(31)",
        "'tg:'", _int("telegram_user_id")]
    return f"SELECT id, {' || '.join(parts)} FROM pledge"  # noqa: S608 (no input in it)


def claim(ledger: Ledger, conn: Connection) -> tuple[set[Any], int, list[tuple[int, str]]]:
    """Let every row claim its entry by text: (ids of rows left to compare field by field,
    rows read, claimed entries to fold anyway). A row a baseline vouched for is compared field
    by field, with the entry it claimed folded in too (the newer statement wins)."""
    texts, stated = ledger.pledge_texts, ledger.tables["pledge"]
    pop, left, rows, refold = texts.pop, set(), 0, []
    for row_id, text in stream(conn, row_text_sql(conn.dialect.name)):
        rows += 1
        seq = pop(text, None) if text is not None else None
        if seq is None:
            left.add(row_id)
        elif row_id in stated:
            refold.append((seq, text))
            left.add(row_id)
    return left, rows, refold


def split(text: str) -> tuple[str, str]:
    """(payload, actor) of an entry's text."""
    payload, actor = text.split(SEP, 1)
    return payload, actor


def unclaimed_rows(rows: Iterator[tuple[Any, Any, tuple]], left: set[Any], ledger: Ledger,
                   problems: list[Problem], layer: int) -> Iterator[tuple[Any, Any, tuple]]:
    """The rows to compare field by field. A row that claimed an entry by text and is also
    named by an unclaimed one was recorded twice."""
    stated = ledger.tables["pledge"]
    for key, row_id, values in rows:
        if key in left:
            yield key, row_id, values
        elif key in stated:
            want = stated.pop(key)
            problems.append(Problem(want.seq, f"pledge row {row_id} is named by more than one "
                                    "pledge.recorded entry (recorded twice)", layer=layer,
                                    code="row_twice", data={"table": "pledge", "row": row_id}))
