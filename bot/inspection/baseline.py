"""`apel-bot audit baseline`: once, after upgrading, an operator vouches on the record for the
rows written before the chain stated them.

Rows written by an older version have no entry (employees imported earlier, leave entered
before leave was recorded) or an entry that states fewer fields (pledges before `pledged_at`,
corrections before the reason text). Verification cannot tell those from rows forged later,
so it reports them. The baseline is the honest way out: in one transaction, with the chain
locked, it reconciles the tables as `verify` does and appends

- `baseline.recorded` (actor: who ran it, `cli:<user>`; the chain's time; rows per table),
- `baseline.rows`, one per up to CHUNK rows of one table: each row's key and every compared
  field, exactly as the table's own entries state them (names in "fields").

From then on verify folds those rows like any entry: a row changed, added or deleted after the
baseline is reported as before, and the baseline itself is named under "not checked" (what a
vouched row was before it cannot be proved). It vouches only for rows with no entry and for
fields no entry stated: a stated field that differs, a deleted row or a chain that fails
verification is evidence, not history, and the baseline refuses to write anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlmodel import Session

from bot.audit import kinds as k
from bot.audit.chain import Event, append_many, lock_head
from bot.audit.report import Problem
from bot.audit.scan import scan_rows
from bot.audit.store import iter_entries
from bot.inspection.ledger import FOLD_KINDS, Ledger
from bot.inspection.reconcile import NO_ENTRY, reconcile
from bot.inspection.tables import Table
from bot.platform.db import Database

CHUNK = 500  # rows per baseline.rows entry (about 100 KB of canonical JSON at most)


@dataclass
class BaselineResult:
    written: bool = False
    seq: int | None = None  # of baseline.recorded
    counts: dict[str, int] = field(default_factory=dict)  # rows vouched for, per table
    refused: str = ""  # why nothing was written
    needed: bool = True  # False: every row was already stated (nothing to do is no failure)
    problems: list[Problem] = field(default_factory=list)  # the evidence it refused over


def _earlier(conn: Connection) -> list[tuple[int, str, str]]:
    return [tuple(r) for r in conn.execute(text(
        "SELECT seq, actor, at FROM auditentry WHERE kind = :kind ORDER BY seq"),
        {"kind": k.BASELINE_RECORDED})]


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _events(open_rows: list[tuple[Table, Any, tuple]], header_seq: int, actor: str,
            at: datetime) -> tuple[list[Event], dict[str, int]]:
    by_table: dict[str, list[list]] = {}
    names: dict[str, list[str]] = {}
    for table, key, values in open_rows:
        by_table.setdefault(table.name, []).append([_jsonable(key), *values])
        names[table.name] = list(table.names)
    counts = {name: len(rows) for name, rows in sorted(by_table.items())}
    events = [Event(k.BASELINE_RECORDED, actor, {"tables": counts, "rows": sum(counts.values())},
                    at)]
    for name, rows in sorted(by_table.items()):
        for i in range(0, len(rows), CHUNK):
            events.append(Event(k.BASELINE_ROWS, actor, {
                "baseline": header_seq, "table": name, "fields": names[name],
                "rows": rows[i:i + CHUNK]}, at))
    return events, counts


def record_baseline(session: Session, *, actor: str, at: datetime,
                    again: bool = False) -> BaselineResult:
    """In the caller's transaction: reconcile, then vouch for the open rows (or refuse)."""
    head, _, _ = lock_head(session)  # no writer can add an entry (or a row with one) meanwhile
    conn = session.connection()
    earlier = _earlier(conn)
    if earlier and not again:
        seq, who, when = earlier[-1]
        return BaselineResult(refused=f"a baseline was already recorded at seq {seq} by {who} "
                                      f"({when}); a second one would vouch for whatever "
                                      "changed since (--again if that is what you mean)")
    ledger = Ledger()
    scan = scan_rows(iter_entries(conn), set(), keep_leaves=False, visit=ledger.visit,
                     visit_kinds=FOLD_KINDS)
    if scan.problems:
        return BaselineResult(refused="the chain itself fails verification (apel-bot verify)",
                              problems=scan.problems)
    problems, _ = reconcile(ledger, conn)
    evidence = [p for p in problems if p.code != NO_ENTRY]
    if evidence:
        return BaselineResult(refused=f"{len(evidence)} problem(s) are evidence of changes, not "
                                      "rows from before: investigate them first",
                              problems=evidence)
    if not ledger.open_rows:
        return BaselineResult(refused="nothing to vouch for: every row is stated by its entries",
                              needed=False)
    events, counts = _events(ledger.open_rows, head + 1, actor, at)
    append_many(session, events)
    return BaselineResult(written=True, seq=head + 1, counts=counts)


def run_baseline(db: Database, *, actor: str, at: datetime, again: bool = False
                 ) -> BaselineResult:
    with db.transaction() as session:
        return record_baseline(session, actor=actor, at=at, again=again)


def summary(result: BaselineResult) -> str:
    """English lines for the operator."""
    if not result.written:
        lines = [f"no baseline written: {result.refused}"]
        lines += ["  " + p.line() for p in result.problems]
        return "\n".join(lines)
    listed = ", ".join(f"{name} {n}" for name, n in result.counts.items())
    return (f"baseline recorded at seq {result.seq}: vouched for {sum(result.counts.values())} "
            f"rows ({listed}); verify now checks them for any change from here on")


__all__ = ["BaselineResult", "record_baseline", "run_baseline", "summary"]
