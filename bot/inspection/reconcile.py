"""The operative tables against the chain: every row the reports read must be what its entries
say, and every entry's row must exist.

The chain's entries are folded into the rows they imply first (bot/inspection/ledger.py). Then
each table (bot/inspection/tables.py) is read once from the same snapshot and compared: a row
without its entry, an entry without its row, or a field that differs is a Problem naming the
table, the row and the seq. Fields older entries did not state (`Ledger.unstated`) and entries
that name no row (`Ledger.unbound`) are reported as not checked. Pledges, a million rows, are
matched by their exact text first (pledges.py).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection

from bot.audit.report import Gap, Problem
from bot.inspection import pledges as fast
from bot.inspection.ledger import Expect, Ledger, fold_pledge_row, tg_of
from bot.inspection.tables import MISSING, TABLE, TABLES, Table

LAYER = 2  # listed after the chain's own findings and the checkpoints'
NO_ENTRY = "row_no_entry"  # the one problem a baseline may vouch for


def _show(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False)


def _row_label(table: Table, row_id: Any) -> str:
    return f"{table.name} row {row_id}"


def _differences(table: Table, row_id: Any, values: tuple, want: Expect,
                 unstated: Counter) -> Iterator[Problem]:
    for name, have, said in zip(table.names, values, want.values, strict=True):
        if said is MISSING:
            unstated[(table.name, name)] += 1
        elif have != said:
            yield Problem(want.seq, f"{_row_label(table, row_id)}: {name} is {_show(have)} but "
                          f"the chain says {_show(said)} (changed after it was recorded)",
                          layer=LAYER, code="row_changed", data={
                              "table": table.name, "row": row_id, "field": name,
                              "have": _show(have), "said": _show(said)})


def _compare(table: Table, rows: Iterable[tuple[Any, Any, tuple]], expected: dict[Any, Expect],
             ledger: Ledger, problems: list[Problem]) -> int:
    """Each row against what the chain implies for it (popped from `expected`); whatever is
    left in `expected` has no row. Returns the rows read."""
    n = 0
    needs = None if table.needs_entry is None else table.index(table.needs_entry)
    for key, row_id, values in rows:
        n += 1
        want = expected.pop(key, None)
        if want is None:
            if needs is None or values[needs]:
                problems.append(Problem(None, f"{_row_label(table, row_id)} has no entry in the "
                                        "chain (written outside the application, or its entry "
                                        "was never made)", layer=LAYER, code=NO_ENTRY,
                                        data={"table": table.name, "row": row_id}))
                ledger.open_rows.append((table, key, values))
        elif values != want.values:  # equal is the common case; else compare what was stated
            found = list(_differences(table, row_id, values, want, ledger.unstated))
            problems.extend(found)
            if not found:  # only fields the entry did not state
                ledger.open_rows.append((table, key, values))
    for key, want in expected.items():
        problems.append(Problem(want.seq, f"{table.name} row {_show(key)} recorded here is "
                                "missing from the table (deleted)", layer=LAYER,
                                code="row_deleted", data={"table": table.name, "row": key}))
    return n


_FEW = 500  # fewer rows left than this: read by id


def _fold_texts(ledger: Ledger, entries: Iterable[tuple[int, str]]) -> None:
    for seq, text in sorted(entries):
        payload, actor = fast.split(text)
        try:
            p = json.loads(payload)
        except ValueError:
            continue  # the entry's hash check reports it
        if isinstance(p, dict):
            fold_pledge_row(ledger, seq, tg_of(actor), p)


def _check_pledges(ledger: Ledger, conn: Connection, problems: list[Problem]) -> int:
    """Rows claim their entries by text; what is left on either side, field by field."""
    table = TABLE["pledge"]
    left, rows, refold = fast.claim(ledger, conn)
    _fold_texts(ledger, refold + [(seq, text) for text, seq in ledger.pledge_texts.items()])
    ledger.pledge_texts.clear()
    expected = ledger.tables["pledge"]
    if left or expected:
        ids = left | set(expected) if len(left) + len(expected) < _FEW else None
        rest = fast.unclaimed_rows(table.rows(conn, ids), left, ledger, problems, LAYER)
        _compare(table, rest, expected, ledger, problems)
    return rows


def reconcile(ledger: Ledger, conn: Connection) -> tuple[list[Problem], int]:
    """Compare every table with what the chain implies; (problems, rows read)."""
    problems: list[Problem] = []
    rows = 0
    for table in TABLES:
        if table.name == "pledge":
            rows += _check_pledges(ledger, conn, problems)
            continue
        expected = dict(ledger.tables.get(table.name, {}))
        rows += _compare(table, table.rows(conn), expected, ledger, problems)
    return problems, rows


def unbound_note(ledger: Ledger) -> list[Gap]:
    if not ledger.unbound:
        return []
    counts = dict(sorted(ledger.unbound.items()))
    listed = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    return [Gap("unbound", "entries that name no row (written by an older version) were not "
                f"matched to table rows: {listed}", {"counts": counts})]


def baseline_note(ledger: Ledger) -> list[Gap]:
    """Rows vouched for by an operator: checked for changes since, not for what came before."""
    notes = []
    for b in ledger.baselines:
        listed = ", ".join(f"{name} {n}" for name, n in sorted(b.counts.items()))
        notes.append(Gap("baseline", f"{sum(b.counts.values())} rows ({listed}) are vouched for "
                         f"by the baseline {b.actor} recorded at seq {b.seq}, not by entries of "
                         "their own: any change since is checked, what they were before is not",
                         {"seq": b.seq, "actor": b.actor, "counts": b.counts}))
    return notes


def unstated_note(ledger: Ledger) -> list[Gap]:
    """Fields older entries did not state: compared with nothing, said so."""
    if not ledger.unstated:
        return []
    counts = {f"{table}.{name}": n for (table, name), n in sorted(ledger.unstated.items())}
    listed = ", ".join(f"{name} ({n} row{'s' if n != 1 else ''})" for name, n in counts.items())
    return [Gap("unstated", "fields that older entries did not state could not be compared "
                f"with the rows: {listed} (`apel-bot audit baseline` vouches for them once)",
                {"counts": counts})]
