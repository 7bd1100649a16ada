"""What the chain says the operative tables hold: its entries folded into the rows they imply.

One pass over the chain (bot/audit/scan.py calls `Ledger.visit` for the kinds below) folds the
entries, in order, into the rows they imply: `pledge.recorded` implies a pledge row,
`leave.ended` moves a leave's end, `role.revoked` marks a grant revoked, and so on. The tables
are then compared with it (bot/inspection/reconcile.py).

Entries state only some columns (those the reports and the rules depend on). A field an older
entry did not state is left MISSING and is counted in `Ledger.unstated` when compared; an entry
that names no row id at all (written by an older version) is counted in `Ledger.unbound`.
Pledges, a million rows, are matched by their exact text first (pledges.py).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from bot.audit import kinds as k
from bot.inspection import pledges as fast
from bot.inspection.tables import MISSING, TABLE, Table

_PLEDGE_STATED = TABLE["pledge"].names[:-1]  # from the payload; the last, from the actor
_PLEDGE_GET = itemgetter(*_PLEDGE_STATED)


@dataclass(slots=True)
class Expect:
    """A row as the chain says it must be: its fields (MISSING where no entry stated them) and
    the last entry that stated any."""

    seq: int
    values: tuple
    table: Table

    def get(self, name: str) -> Any:
        return self.values[self.table.index(name)]


@dataclass(frozen=True)
class Baseline:
    """A `baseline.recorded` entry: who vouched for how many rows of each table."""

    seq: int
    actor: str
    counts: dict[str, int]


@dataclass
class Ledger:
    """The rows the chain implies, per table, keyed as the table's `key` columns."""

    recount: bool = False  # also keep what the figures need (bot/inspection/recount.py)
    tables: dict[str, dict[Any, Expect]] = field(default_factory=lambda: defaultdict(dict))
    unbound: Counter = field(default_factory=Counter)  # kind -> entries naming no row
    unstated: Counter = field(default_factory=Counter)  # (table, field) -> rows not compared
    # pledge.recorded entries by their text (pledges.entry_text) -> seq, until rows claim them
    pledge_texts: dict[str, int] = field(default_factory=dict)
    # Rows the chain does not fully state (no entry, or fields it did not state), with their
    # values: what `apel-bot audit baseline` vouches for. (table, key, values)
    open_rows: list[tuple[Table, Any, tuple]] = field(default_factory=list)
    baselines: list[Baseline] = field(default_factory=list)
    apels: dict[int, dict[str, Any]] = field(default_factory=dict)
    # (apel id, employee id) -> (late, on the frozen list)
    pledges: dict[tuple[int, int], tuple[bool, bool]] = field(default_factory=dict)
    corrections: set[tuple[int, int]] = field(default_factory=set)
    _swaps: dict[tuple, list[Any]] = field(default_factory=lambda: defaultdict(list))

    def put(self, table: str, key: Any, seq: int, fields: dict[str, Any]) -> None:
        t = TABLE[table]
        self.tables[table][key] = Expect(seq, t.pack(fields), t)

    def update(self, table: str, key: Any, seq: int, fields: dict[str, Any]) -> None:
        found = self.tables[table].get(key)
        if found is None:
            self.put(table, key, seq, fields)
            return
        values = list(found.values)
        for name, value in fields.items():
            values[found.table.index(name)] = value
        found.seq, found.values = seq, tuple(values)

    def visit(self, seq: int, kind: str, actor: str, payload: Any) -> None:
        """One entry of a kind in FOLDS (payload: its JSON text or the parsed object)."""
        if kind == k.PLEDGE_RECORDED and type(payload) is str:
            self.pledge_texts[payload + fast.SEP + actor] = seq  # matched by text (pledges.py)
            if not self.recount:
                return
            kind = _RECOUNT_ONLY
        if isinstance(payload, str):
            try:
                payload = json.loads(payload)
            except ValueError:
                return  # the entry's hash check reports it
        if isinstance(payload, dict):
            if kind == k.BASELINE_RECORDED:
                self.baselines.append(Baseline(seq, actor, _counts(payload.get("tables"))))
                return
            FOLDS[kind](self, seq, tg_of(actor), payload)


def tg_of(actor: str) -> int | None:
    """The Telegram user id of an actor "tg:<id>"."""
    return int(actor[3:]) if actor.startswith("tg:") and actor[3:].isdigit() else None


def _pick(p: dict[str, Any], *names: str, **renamed: str) -> dict[str, Any]:
    """The payload's values for these fields, leaving out those it does not state."""
    out = {n: p[n] for n in names if n in p}
    out.update({col: p[key] for col, key in renamed.items() if key in p})
    return out


def _bound(ledger: Ledger, kind: str, p: dict[str, Any], id_key: str) -> Any:
    if id_key not in p:
        ledger.unbound[kind] += 1
        return None
    return p[id_key]


# ---- folding entries into rows ----------------------------------------------------------

def _pledge_figures(ledger: Ledger, seq: int, tg: int | None, p: dict) -> None:
    if ledger.recount and "apel_id" in p and "employee_id" in p:
        ledger.pledges[(p["apel_id"], p["employee_id"])] = (bool(p.get("late")),
                                                            bool(p.get("expected", True)))


def fold_pledge_row(ledger: Ledger, seq: int, tg: int | None, p: dict) -> None:
    """The row a pledge entry implies. Its entries are folded out of order (by text first,
    pledges.py), and every statement about a pledge is whole, so the newest one wins."""
    key = _bound(ledger, k.PLEDGE_RECORDED, p, "pledge_id")
    if key is None:
        return
    rows = ledger.tables["pledge"]
    if key in rows and rows[key].seq > seq:
        return
    try:
        values = (*_PLEDGE_GET(p), tg)
    except KeyError:  # an older entry that states fewer fields
        values = (*(p.get(n, MISSING) for n in _PLEDGE_STATED), tg)
    rows[key] = Expect(seq, values, TABLE["pledge"])


def _pledge(ledger: Ledger, seq: int, tg: int | None, p: dict) -> None:
    _pledge_figures(ledger, seq, tg, p)
    fold_pledge_row(ledger, seq, tg, p)


def _correction(ledger: Ledger, seq: int, tg: int | None, p: dict) -> None:
    if "apel_id" in p and "employee_id" in p:
        ledger.corrections.add((p["apel_id"], p["employee_id"]))
    key = _bound(ledger, k.CORRECTION_RECORDED, p, "correction_id")
    if key is not None:
        ledger.put("correction", key, seq, {"by": tg, **_pick(
            p, "apel_id", "employee_id", reason_code="reason", reason="reason_text")})


def _pakta(ledger: Ledger, seq: int, tg: int | None, p: dict) -> None:
    key = _bound(ledger, k.PAKTA_SIGNED, p, "signature_id")
    if key is not None:
        ledger.put("paktasignature", key, seq, {"signed": True, "telegram_user_id": tg, **_pick(
            p, "employee_id", "period_id", "text_sha256")})


def _leave(ledger: Ledger, seq: int, tg: int | None, p: dict) -> None:
    key = _bound(ledger, k.LEAVE_ADDED, p, "leave_id")
    if key is not None:
        ledger.put("leave", key, seq, _pick(p, "employee_id", "start", "end", "reason_sha256"))


def _leave_ended(ledger: Ledger, seq: int, tg: int | None, p: dict) -> None:
    key = _bound(ledger, k.LEAVE_ENDED, p, "leave_id")
    if key is not None and "new_end" in p:
        ledger.update("leave", key, seq, {"end": p["new_end"]})
        ledger.put("leaveending", (key, p["new_end"]), seq,
                   {"ended_by": tg, **_pick(p, "original_end")})


def _registration(state: str) -> Callable[[Ledger, int, int | None, dict], None]:
    def fold(ledger: Ledger, seq: int, tg: int | None, p: dict) -> None:
        key = _bound(ledger, k.REGISTRATION_REQUESTED, p, "request_id")
        if key is None:
            return
        if state == "pending":
            ledger.put("registrationrequest", key, seq, {"state": state, **_pick(
                p, "employee_id", "telegram_user_id")})
            return
        ledger.update("registrationrequest", key, seq, {"state": state})
        if state == "approved" and "employee_id" in p:
            ledger.update("employee", p["employee_id"], seq,
                          _pick(p, "telegram_user_id"))
    return fold


def _employee(ledger: Ledger, seq: int, tg: int | None, p: dict) -> None:
    key = _bound(ledger, k.EMPLOYEE_CHANGED, p, "employee_id")
    if key is not None:
        ledger.put("employee", key, seq, _pick(p, "unit_id", "regu_id", "role", "active",
                                               "telegram_user_id", "nip_sha256", "name_sha256"))


def _role(revoked: bool) -> Callable[[Ledger, int, int | None, dict], None]:
    def fold(ledger: Ledger, seq: int, tg: int | None, p: dict) -> None:
        key = _bound(ledger, k.ROLE_GRANTED, p, "grant_id")
        if key is None:
            return
        fields = {"revoked": revoked}
        if not revoked:
            fields.update(_pick(p, "telegram_user_id", "role", "unit_id", "kanwil"))
        ledger.update("rolegrant", key, seq, fields)
    return fold


def _supersede(ledger: Ledger, seq: int, scope: tuple, slots: set | None) -> None:
    """A new swap revokes the active ones it replaces (as bot/unit_admin/swap_rules.py does)."""
    rows = ledger.tables["dutyswap"]
    for key in ledger._swaps[scope]:
        row = rows.get(key)
        if row and row.get("revoked") is False and (slots is None
                                                    or row.get("slot") in slots):
            ledger.update("dutyswap", key, seq, {"revoked": True})


def _swap(ledger: Ledger, seq: int, tg: int | None, p: dict) -> None:
    ids = p.get("swap_ids")
    if not isinstance(ids, list) or not ids:
        ledger.unbound[k.SWAP_RECORDED] += 1
        return
    base = {"revoked": False, "created_by": tg, **_pick(p, "unit_id", duty_date="date")}
    if p.get("employee_id") is not None:
        scope = ("person", p["employee_id"], p.get("date"))
        _supersede(ledger, seq, scope, None)
        rows = [(ids[0], {"slot": p.get("slot"), "employee_id": p["employee_id"],
                          "regu_id": None, "pair_id": None})]
    else:
        scope = ("regu", p.get("unit_id"), p.get("date"))
        _supersede(ledger, seq, scope, {p.get("slot"), p.get("other_slot")} - {None})
        rows = [(ids[0], {"slot": p.get("slot"), "regu_id": p.get("regu_id"), "pair_id": None,
                          "employee_id": None})]
        if len(ids) > 1:
            rows.append((ids[1], {"slot": p.get("other_slot"), "pair_id": ids[0],
                                  "regu_id": p.get("displaced_regu_id"), "employee_id": None}))
    for key, fields in rows:
        ledger.put("dutyswap", key, seq, {**base, **fields})
        ledger._swaps[scope].append(key)


def _swap_revoked(ledger: Ledger, seq: int, tg: int | None, p: dict) -> None:
    for key in p.get("swap_ids") or ():
        ledger.update("dutyswap", key, seq, {"revoked": True})


def _announcement(ledger: Ledger, seq: int, tg: int | None, p: dict) -> None:
    key = _bound(ledger, k.ANNOUNCEMENT_SENT, p, "announcement_id")
    if key is not None:
        ledger.put("announcement", key, seq, {"sender_user_id": tg, "withdrawn": False, **_pick(
            p, "scope", expected_count="expected", group_count="groups", media_kind="media")})


def _withdrawn(ledger: Ledger, seq: int, tg: int | None, p: dict) -> None:
    key = _bound(ledger, k.ANNOUNCEMENT_WITHDRAWN, p, "announcement_id")
    if key is not None:
        ledger.update("announcement", key, seq, {"withdrawn": True})


def _acknowledged(ledger: Ledger, seq: int, tg: int | None, p: dict) -> None:
    key = _bound(ledger, k.ANNOUNCEMENT_ACKNOWLEDGED, p, "acknowledgement_id")
    if key is not None:
        ledger.put("acknowledgement", key, seq, {"telegram_user_id": tg, **_pick(
            p, "announcement_id", "employee_id")})


def _counts(tables: Any) -> dict[str, int]:
    if not isinstance(tables, dict):
        return {}
    return {str(name): n for name, n in tables.items() if isinstance(n, int)}


def _baseline_rows(ledger: Ledger, seq: int, tg: int | None, p: dict) -> None:
    """Rows an operator vouched for (bot/inspection/baseline.py): each stated whole, as the
    table's own entries would state it, from this seq on."""
    t = TABLE.get(p.get("table"))  # type: ignore[arg-type]
    rows = p.get("rows")
    if t is None or p.get("fields") != list(t.names) or not isinstance(rows, list):
        ledger.unbound[k.BASELINE_ROWS] += 1
        return
    for row in rows:
        if not isinstance(row, list) or len(row) != len(t.names) + 1:
            ledger.unbound[k.BASELINE_ROWS] += 1
            continue
        key = tuple(row[0]) if isinstance(row[0], list) else row[0]
        want = Expect(seq, tuple(row[1:]), t)
        ledger.tables[t.name][key] = want
        _vouched(ledger, t.name, key, want)


def _vouched(ledger: Ledger, table: str, key: Any, want: Expect) -> None:
    """What a vouched row means beyond its own table: the figures, the swaps it may yield to."""
    if table == "pledge" and ledger.recount:
        ledger.pledges[(want.get("apel_id"), want.get("employee_id"))] = (
            bool(want.get("late")), bool(want.get("expected")))
    elif table == "correction":
        ledger.corrections.add((want.get("apel_id"), want.get("employee_id")))
    elif table == "dutyswap" and want.get("revoked") is False:
        person = want.get("employee_id")
        scope = (("person", person, want.get("duty_date")) if person is not None
                 else ("regu", want.get("unit_id"), want.get("duty_date")))
        ledger._swaps[scope].append(key)


def _apel(state: str) -> Callable[[Ledger, int, int | None, dict], None]:
    def fold(ledger: Ledger, seq: int, tg: int | None, p: dict) -> None:
        apel_id = p.get("apel_id")
        if state == "closed":
            if apel_id in ledger.apels:
                ledger.apels[apel_id].update(state=state, closed_seq=seq, reported=p)
            return
        ledger.apels[apel_id] = {"seq": seq, "state": state, **_pick(
            p, "unit_id", "date", "slot", "expected")}
    return fold


FOLDS: dict[str, Callable[[Ledger, int, int | None, dict], None]] = {
    k.PLEDGE_RECORDED: _pledge,
    k.CORRECTION_RECORDED: _correction,
    k.PAKTA_SIGNED: _pakta,
    k.LEAVE_ADDED: _leave,
    k.LEAVE_CHANGED: _leave,
    k.LEAVE_ENDED: _leave_ended,
    k.REGISTRATION_REQUESTED: _registration("pending"),
    k.REGISTRATION_APPROVED: _registration("approved"),
    k.REGISTRATION_REFUSED: _registration("refused"),
    k.EMPLOYEE_CHANGED: _employee,
    k.ROLE_GRANTED: _role(False),
    k.ROLE_REVOKED: _role(True),
    k.SWAP_RECORDED: _swap,
    k.SWAP_REVOKED: _swap_revoked,
    k.ANNOUNCEMENT_SENT: _announcement,
    k.ANNOUNCEMENT_WITHDRAWN: _withdrawn,
    k.ANNOUNCEMENT_ACKNOWLEDGED: _acknowledged,
    k.APEL_OPENED: _apel("open"),
    k.APEL_MISSED: _apel("missed"),
    k.APEL_CLOSED: _apel("closed"),
    k.BASELINE_RECORDED: lambda *_: None,  # read in Ledger.visit (it needs the actor)
    k.BASELINE_ROWS: _baseline_rows,
}
FOLD_KINDS = frozenset(FOLDS)
_RECOUNT_ONLY = "pledge.recorded (figures only)"  # its row is matched by text (pledges.py)
FOLDS[_RECOUNT_ONLY] = _pledge_figures
