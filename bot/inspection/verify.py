"""`apel-bot verify`: the chain, every checkpoint, and checkpoints held outside.

Checks, each reported with the sequence number it concerns:
- every leaf re-hashed from its stored fields; prev links; seq contiguous from 1; time
  never running backwards (scan.py);
- every checkpoint: signed note verifies with a known key, origin matches, table columns
  equal the signed values, tree size never shrinks over checkpoint time, the size is not
  beyond the log's end, the root equals the Merkle root of the first N leaves, and it is the
  checkpoint the chain itself recorded (`checkpoint.signed` at seq N+1), and vice versa;
- key use follows the chain's `key.rotated` records;
- each checkpoint held outside: verifies, is not larger than the log, is consistent with
  it (RFC 9162 consistency proof), and is still among the log's checkpoints.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.audit.keys import VerifierKey
from bot.audit.kinds import CHECKPOINT_SIGNED, KEY_ROTATED
from bot.audit.merkle import EMPTY_ROOT, consistency_proof, verify_consistency
from bot.audit.note import NoteError, as_pasted, open_note, parse_checkpoint_body, parse_note
from bot.audit.report import Gap, Problem, Report
from bot.audit.scan import Scan, scan_rows
from bot.audit.store import (
    StoredCheckpoint,
    iter_entries,
    load_checkpoints,
    read_head,
    read_snapshot,
)
from bot.inspection.ledger import FOLD_KINDS, Ledger
from bot.inspection.reconcile import baseline_note, reconcile, unbound_note, unstated_note
from bot.inspection.recount import compare, shown_figures
from bot.platform.db import Database


def _cp(seq: int | None, message: str, seq_end: int | None = None, *, code: str,
        data: dict | None = None) -> Problem:
    """A problem found through checkpoints (listed after those found in the entries)."""
    return Problem(seq, message, seq_end, layer=1, code=code, data=data or {})


def claimed_size(note: str) -> int | None:
    """The tree size a note states, before any signature check (to know which roots to keep)."""
    try:
        return parse_checkpoint_body(parse_note(note)[0]).size
    except NoteError:
        return None


def wanted_sizes(checkpoints: Iterable[StoredCheckpoint], outside: Iterable[str]) -> set[int]:
    sizes = {cp.tree_size for cp in checkpoints}
    sizes |= {s for s in map(claimed_size, [cp.note for cp in checkpoints]) if s is not None}
    sizes |= {s for s in map(claimed_size, outside) if s is not None}
    return sizes


def held_outside(outside: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Notes held outside as pasted from a chat (see note.as_pasted)."""
    return [(label, as_pasted(text)) for label, text in outside]


def coverage_gaps(scan: Scan, checkpoints: Sequence[StoredCheckpoint], outside: int) -> list[Gap]:
    """What the checkpoints cannot vouch for, in words, for `Report.unchecked`."""
    notes = []
    if not outside:
        notes.append(Gap("no_outside", "no checkpoint held outside was given (--checkpoint): "
                         "removing the newest entries together with the checkpoints that cover "
                         "them cannot be detected without a note kept outside the database"))
    covered = max((cp.tree_size for cp in checkpoints), default=0)
    if scan.last_seq > covered + 1:  # the last entry is often the checkpoint's own record
        notes.append(Gap("uncovered", f"entries {covered + 1}-{scan.last_seq} are not covered by "
                         "any checkpoint yet: they could be dropped or rewritten unnoticed until "
                         "one is signed", {"first": covered + 1, "last": scan.last_seq}))
    return notes


def _root_at(scan: Scan, size: int) -> bytes | None:
    return EMPTY_ROOT if size == 0 else scan.roots.get(size)


def _lower_bound(good: list[int], size: int) -> int:
    """Last entry known good: the largest verified checkpoint below `size`."""
    return max((s for s in good if s < size), default=0)


def _check_table(scan: Scan, checkpoints: Sequence[StoredCheckpoint], keys: list[VerifierKey],
                 origin: str | None, good: list[int], recorded: set[tuple[int, str]],
                 problems: list[Problem]) -> None:
    signed_events: dict[int, list] = {}
    for ev in scan.events:
        if ev.kind == CHECKPOINT_SIGNED:
            signed_events.setdefault(ev.payload.get("tree_size"), []).append(ev)
    mismatched: list[tuple[str, int, str]] = []
    largest = 0
    for cp in checkpoints:
        label = f"checkpoint #{cp.id}"
        try:
            body, key = open_note(cp.note, keys)
        except NoteError as err:
            problems.append(_cp(cp.tree_size + 1,
                                    f"{label} (tree size {cp.tree_size}): {err}",
                                code="cp_note", data={"label": label, "error": str(err)}))
            continue
        size, root = body.size, body.root.hex()
        recorded.add((size, root))
        if origin is not None and body.origin != origin:
            problems.append(_cp(size + 1,
                                    f"{label} is for log {body.origin!r}, not {origin!r}",
                                code="cp_origin", data={"label": label, "origin": body.origin}))
        if (cp.tree_size, cp.root_hash, cp.key_id) != (size, root, key.key_id_hex):
            problems.append(_cp(size + 1, f"{label}: table columns differ from its signed "
                                              "note (edited)",
                                code="cp_columns", data={"label": label}))
        if size < largest:
            problems.append(_cp(size + 1, f"{label} signed at {cp.created_at} has tree size "
                                              f"{size}, smaller than an earlier checkpoint's "
                                              f"{largest}: the log shrank",
                                code="cp_shrank",
                                data={"label": label, "size": size, "largest": largest}))
        largest = max(largest, size)
        if size > scan.last_seq:
            problems.append(_cp(scan.last_seq + 1, f"missing: {label} signed at "
                                    f"{cp.created_at} covers {size} entries but the log ends "
                                    f"at seq {scan.last_seq} (entries deleted)", size,
                                code="cp_beyond", data={"label": label, "size": size}))
            continue
        if _root_at(scan, size) != body.root:
            mismatched.append((label, size, cp.created_at))
        else:
            good.append(size)
        if scan.covers(size + 1):
            events = signed_events.get(size, [])
            if not any(e.payload.get("root") == root and e.payload.get("key_id") == key.key_id_hex
                       for e in events):
                problems.append(_cp(size + 1, f"{label} is not the checkpoint the chain "
                                                  "recorded here (replaced or forged)",
                                    code="cp_not_recorded", data={"label": label}))
    # Once a root stops matching, every later checkpoint fails too: one line per break,
    # bounded by the last checkpoint that still matches and the first that does not.
    groups: dict[int, list[tuple[str, int, str]]] = {}
    for item in sorted(mismatched, key=lambda m: m[1]):
        groups.setdefault(_lower_bound(good, item[1]), []).append(item)
    for lower, items in groups.items():
        label, size, created = items[0]
        more = (f" (and {len(items) - 1} later checkpoint(s), up to {items[-1][0]} of tree size "
                f"{items[-1][1]}, fail the same way)" if len(items) > 1 else "")
        problems.append(_cp(lower + 1, f"the first {size} entries no longer hash to the root "
                            f"signed in {label} at {created}{more}: entries in this range were "
                            "changed, added or removed after it was signed", size,
                            code="cp_root",
                            data={"label": label, "size": size, "later": len(items) - 1}))
    for size, events in signed_events.items():
        for ev in events:
            if (size, ev.payload.get("root")) not in recorded:
                problems.append(_cp(ev.seq, f"the checkpoint of tree size {size} recorded "
                                                "here is missing from the checkpoints (deleted "
                                                "or replaced)",
                                    code="cp_deleted", data={"size": size}))


def _check_key_history(scan: Scan, problems: list[Problem]) -> None:
    current = None
    for ev in scan.events:
        if ev.kind == KEY_ROTATED:
            old = ev.payload.get("old_key_id")
            if current is not None and old != current:
                problems.append(_cp(ev.seq, f"key.rotated retires key {old} but the key in "
                                                f"use was {current}",
                                    code="key_rotation", data={"old": old, "current": current}))
            current = ev.payload.get("new_key_id")
        else:
            kid = ev.payload.get("key_id")
            if current is not None and kid != current:
                problems.append(_cp(ev.seq, f"checkpoint signed with key {kid} while key "
                                                f"{current} was in use and no key.rotated entry "
                                                "records a change",
                                    code="key_unrotated", data={"kid": kid, "current": current}))
            current = kid


def _check_outside(scan: Scan, outside: Sequence[tuple[str, str]], keys: list[VerifierKey],
                   origin: str | None, good: list[int], recorded: set[tuple[int, str]],
                   problems: list[Problem]) -> None:
    for label, text in outside:
        try:
            body, _ = open_note(text, keys)
        except NoteError as err:
            problems.append(_cp(None, f"checkpoint held outside ({label}): {err}",
                                code="outside_note", data={"label": label, "error": str(err)}))
            continue
        size = body.size
        if origin is not None and body.origin != origin:
            problems.append(_cp(None, f"checkpoint held outside ({label}) is for log "
                                          f"{body.origin!r}, not {origin!r}",
                                code="outside_origin",
                                data={"label": label, "origin": body.origin}))
            continue
        if size > scan.last_seq:
            problems.append(_cp(scan.last_seq + 1, f"missing: the checkpoint held outside "
                                    f"({label}) covers {size} entries but the log ends at seq "
                                    f"{scan.last_seq} (entries deleted)", size,
                                code="outside_beyond", data={"label": label, "size": size}))
            continue
        if scan.leaves is not None and 0 < size <= scan.count:
            proof = consistency_proof(size, scan.leaves)
            consistent = verify_consistency(size, scan.count, body.root, scan.final_root, proof)
        else:
            consistent = _root_at(scan, size) == body.root
        if not consistent:
            lower = _lower_bound(good, size)
            problems.append(_cp(lower + 1, f"the log is not consistent with the checkpoint "
                                    f"held outside ({label}, tree size {size}): entries in this "
                                    "range were changed, added or removed after it was signed",
                                    size,
                                code="outside_inconsistent", data={"label": label, "size": size}))
        if (size, body.root.hex()) not in recorded:
            problems.append(_cp(size + 1, f"the checkpoint held outside ({label}, tree size "
                                              f"{size}) is missing from the log's checkpoints "
                                              "(deleted or replaced)",
                                code="outside_missing", data={"label": label, "size": size}))


def check_log(scan: Scan, checkpoints: Sequence[StoredCheckpoint], keys: list[VerifierKey],
              origin: str | None, outside: Sequence[tuple[str, str]]) -> list[Problem]:
    problems: list[Problem] = []
    good: list[int] = []
    recorded: set[tuple[int, str]] = set()
    _check_table(scan, checkpoints, keys, origin, good, recorded, problems)
    _check_key_history(scan, problems)
    _check_outside(scan, outside, keys, origin, good, recorded, problems)
    return problems


NOT_RECOUNTED = Gap("not_recounted", "the figures of closed apel were not recomputed from the "
                    "chain (--recount)")


def verify_database(db: Database, *, keys: list[VerifierKey], origin: str | None,
                    outside: Sequence[tuple[str, str]] = (), recount: bool = False) -> Report:
    """Verify the live database from one read snapshot (the bot may keep running)."""
    outside = held_outside(outside)
    with read_snapshot(db) as conn:
        checkpoints = load_checkpoints(conn)
        wanted = wanted_sizes(checkpoints, [text for _, text in outside])
        ledger = Ledger(recount=recount)
        # Every leaf is at hand, so a note held outside is consistent with the log exactly when
        # the root of the log's first N leaves is its root (computed in the same pass): the
        # RFC 9162 proof is for those without the leaves, i.e. a bundle's inspector.
        scan = scan_rows(iter_entries(conn), wanted, keep_leaves=False,
                         visit=ledger.visit, visit_kinds=FOLD_KINDS)
        head = read_head(conn)
        table_problems, rows = reconcile(ledger, conn)
        figures, figure_problems = compare(ledger, shown_figures(conn)) if recount else ([], [])
    problems = scan.problems + check_log(scan, checkpoints, keys, origin, outside)
    problems += table_problems + figure_problems
    if head is not None:
        head_seq, head_leaf = head
        if head_seq > scan.last_seq:
            problems.append(Problem(scan.last_seq + 1, f"missing: the chain head records "
                                    f"{head_seq} entries but the log ends at seq "
                                    f"{scan.last_seq} (entries deleted)", head_seq,
                                    code="head_beyond"))
        elif head_seq < scan.last_seq:
            problems.append(Problem(head_seq + 1, "entries added without moving the chain head "
                                                  "(written outside the application)",
                                    scan.last_seq, code="head_behind"))
        elif head_leaf != scan.last_leaf:
            problems.append(Problem(scan.last_seq, "the chain head's hash differs from the last "
                                                   "entry's (the tail was rewritten)",
                                    code="head_hash"))
    return Report(source=db.safe_url, entries=scan.count, content_checked=scan.content_count,
                  last_seq=scan.last_seq, checkpoints=len(checkpoints), outside=len(outside),
                  rows_reconciled=rows,
                  keys=sorted({f"{k.name}+{k.key_id_hex}" for k in keys}), problems=problems,
                  unchecked=coverage_gaps(scan, checkpoints, len(outside))
                  + unbound_note(ledger) + unstated_note(ledger)
                  + baseline_note(ledger)
                  + ([] if recount else [NOT_RECOUNTED]),
                  figures=figures)
