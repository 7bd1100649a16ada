"""What a bundle carries so an inspector can recompute its figures with no database.

- support.jsonl  full entries outside the date range that the range's figures depend on:
                 every leave entry (a leave may be recorded months before), and the pledges,
                 corrections and closings of the range's apel that came after it. Each line is
                 the exact hashed JSON, checked against leaf-hashes.bin like entries.jsonl.
- figures.jsonl  what the reports showed at export for each closed apel of the range
                 ({"apel_id", "figures"}): the claim `verify --bundle --recount` checks.
- units.json     unit ids with their code and name, only to label the inspector's report.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Iterator
from hashlib import sha256
from typing import Any

from sqlalchemy import Connection, bindparam, select, text

from bot.audit import kinds as k
from bot.audit.canonical import leaf_data
from bot.audit.report import Problem
from bot.inspection.ledger import FOLD_KINDS, Ledger
from bot.inspection.recount import Figures, shown_figures
from bot.org.models import Unit

LEAVE_KINDS = frozenset({k.LEAVE_ADDED, k.LEAVE_CHANGED, k.LEAVE_ENDED})
LATER_KINDS = frozenset({k.PLEDGE_RECORDED, k.CORRECTION_RECORDED, k.APEL_CLOSED})


class RangeApel:
    """Collects the apel opened within the exported range while its entries stream past."""

    def __init__(self) -> None:
        self.ids: set[int] = set()

    def note(self, kind: str, payload: str) -> None:
        if kind == k.APEL_OPENED:
            self.ids.add(json.loads(payload).get("apel_id"))


_OUTSIDE = text(
    "SELECT seq, at, kind, actor, payload, prev_hash, leaf_hash FROM auditentry "
    "WHERE kind IN :kinds AND (seq < :first OR seq > :last) ORDER BY seq"
).bindparams(bindparam("kinds", expanding=True))


def _support_rows(conn: Connection, first: int, last: int, apel_ids: set[int]
                  ) -> Iterator[tuple]:
    rows = conn.execution_options(yield_per=10_000).execute(_OUTSIDE, {
        "kinds": sorted(LEAVE_KINDS | LATER_KINDS), "first": first, "last": last})
    for row in rows:
        seq, kind, payload = row[0], row[2], row[4]
        if kind in LEAVE_KINDS or (seq > last and json.loads(payload).get("apel_id")
                                   in apel_ids):
            yield row


def write_recount_files(zf: zipfile.ZipFile, conn: Connection, first: int, last: int,
                        apel_ids: set[int]) -> dict[str, int]:
    """support.jsonl, figures.jsonl and units.json; returns their counts for the manifest."""
    support = 0
    with zf.open("support.jsonl", "w", force_zip64=True) as fh:
        for row in _support_rows(conn, first, last, apel_ids):
            fh.write(leaf_data(*row[:6]) + b"\n")
            support += 1
    shown = {a: f for a, f in shown_figures(conn).items() if a in apel_ids}
    zf.writestr("figures.jsonl", "".join(json.dumps({"apel_id": a, "figures": f.as_dict()})
                                         + "\n" for a, f in sorted(shown.items())))
    units = conn.execute(select(Unit.id, Unit.code, Unit.name).order_by(Unit.id)).all()
    zf.writestr("units.json", json.dumps([{"id": u.id, "code": u.code, "name": u.name}
                                          for u in units], ensure_ascii=False, indent=1) + "\n")
    return {"support_entries": support, "figures": len(shown)}


def read_support(zf: zipfile.ZipFile, hashes: bytes, first: int, last: int,
                 problems: list[Problem]) -> list[tuple[int, dict[str, Any]]]:
    """The supporting entries that hash to their leaf, in seq order; others are problems."""
    if "support.jsonl" not in zf.namelist():
        return []
    out = []
    for line in zf.read("support.jsonl").splitlines():
        try:
            obj = json.loads(line)
            seq = obj["seq"]
        except (ValueError, KeyError, TypeError):
            problems.append(Problem(None, "support.jsonl: a line is not an audit entry",
                                    code="support_line"))
            continue
        if not isinstance(seq, int) or not 1 <= seq <= len(hashes) // 32 or first <= seq <= last:
            problems.append(Problem(None, f"support.jsonl: seq {seq!r} is not outside the range",
                                    code="support_range"))
        elif sha256(b"\x00" + line).digest() != hashes[32 * (seq - 1): 32 * seq]:
            problems.append(Problem(seq, "support.jsonl: the entry does not match its leaf hash "
                                    "(edited)", code="support_hash"))
        else:
            out.append((seq, obj))
    return sorted(out, key=lambda item: item[0])


def visit(ledger: Ledger, entries: Iterable[tuple[int, dict[str, Any]]]) -> None:
    for seq, obj in entries:
        if obj.get("kind") in FOLD_KINDS:
            ledger.visit(seq, obj["kind"], str(obj.get("actor")), obj.get("payload"))


def read_shown(zf: zipfile.ZipFile, problems: list[Problem]) -> dict[int, Figures] | None:
    """figures.jsonl, or None when the bundle has none (exported by an older version)."""
    if "figures.jsonl" not in zf.namelist():
        return None
    try:
        return {int(o["apel_id"]): Figures.from_dict(o["figures"])
                for o in map(json.loads, zf.read("figures.jsonl").splitlines())}
    except (ValueError, KeyError, TypeError) as err:
        problems.append(Problem(None, f"figures.jsonl is malformed: {err}",
                                code="figures_malformed"))
        return {}


def read_units(zf: zipfile.ZipFile) -> dict[int, dict[str, str]]:
    """Unit labels (not bound to the chain: for display only)."""
    try:
        return {int(u["id"]): {"code": str(u["code"]), "name": str(u["name"])}
                for u in json.loads(zf.read("units.json"))}
    except (KeyError, ValueError, TypeError):
        return {}

