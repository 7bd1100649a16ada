"""Inspector bundles: a zip that `apel-bot verify --bundle` checks with no database or config.

Contents (format apel-bot-audit-bundle/1):
- manifest.json      origin, date range, first/last seq of the full entries, tree size
- leaf-hashes.bin    the leaf hash of EVERY entry from seq 1 to the tree size, 32 bytes each,
                     in seq order: enough to recompute every checkpoint's root
- entries.jsonl      the full entries of the date range, one per line; each line is exactly
                     the canonical JSON that was hashed (leaf hash = SHA-256(0x00 || line))
- checkpoints.jsonl  every signed checkpoint of the log up to the tree size
- keys.txt           the log's public (verifier) keys, oldest first
- README.txt         how to check it, for the inspector
Entries outside the range are represented only by their leaf hashes: the checkpoints prove
them unchanged without disclosing them.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from bot.audit.canonical import format_at, leaf_data
from bot.audit.keys import KeyFileError, VerifierKey
from bot.audit.report import Gap, Problem, Report
from bot.audit.scan import scan_bundle
from bot.audit.store import (
    StoredCheckpoint,
    iter_entries,
    iter_leaf_hashes,
    last_seq,
    load_checkpoints,
    read_snapshot,
    seq_range,
)
from bot.inspection.bundle_recount import (
    RangeApel,
    read_shown,
    read_support,
    read_units,
    visit,
    write_recount_files,
)
from bot.inspection.ledger import FOLD_KINDS, Ledger
from bot.inspection.recount import compare
from bot.inspection.verify import (
    NOT_RECOUNTED,
    check_log,
    coverage_gaps,
    held_outside,
    wanted_sizes,
)
from bot.platform.db import Database

FORMAT = "apel-bot-audit-bundle/1"

README = """\
Audit bundle of the apel-bot log "{origin}"
============================================

Full entries: {first}..{last} (UTC dates {start} to {end}); leaf hashes: 1..{size}.

Check it (no database or configuration needed):

    apel-bot verify --bundle {name} --key '<verifier key you were given>' \\
        [--checkpoint checkpoint-you-hold.txt ...]

Pass with --key the verifier key(s) the unit published or handed to you (text of the form
<name>+<8 hex digits>+<base64>); without --key the keys in keys.txt are used and you must
compare their key ids with the published ones yourself. Pass with --checkpoint every
checkpoint note you received earlier (for example posted in the Kalapas chat): the command
proves the log has only grown since (RFC 9162 consistency) and that no entry was removed.
It prints OK or every problem with its sequence number and exits non-zero on any problem.

Checking by hand:
- entries.jsonl: each line is the RFC 8785 canonical JSON of
  {{actor, at, kind, payload, prev, seq}}; its leaf hash is SHA-256(0x00 || line bytes) and
  must equal the 32 bytes at offset 32*(seq-1) of leaf-hashes.bin; "prev" is the hex leaf
  hash of seq-1 (64 zeros for seq 1).
- Tree: RFC 6962 Merkle tree over leaf-hashes.bin (node = SHA-256(0x01 || left || right),
  split at the largest power of two below n). The root of the first N leaves must equal the
  root in each checkpoint of size N.
- checkpoints.jsonl: C2SP signed notes (tlog-checkpoint): "origin\\nsize\\nbase64(root)\\n",
  a blank line, then "— <key name> base64(key id || Ed25519 signature)". Key id = first
  4 bytes of SHA-256(key name || 0x0A || 0x01 || public key); the signature covers the
  text before the blank line.
"""


def _day_start(day: date) -> str:
    return format_at(datetime.combine(day, time(0), tzinfo=UTC))


def export_bundle(db: Database, *, start: date, end: date, out: str | Path, origin: str,
                  keys: Sequence[VerifierKey], now: datetime) -> dict:
    """Write the bundle for entries dated start..end (UTC, inclusive); returns the manifest."""
    if end < start:
        raise ValueError("--to is before --from")
    out = Path(out)
    with read_snapshot(db) as conn:
        size = last_seq(conn)
        found = seq_range(conn, _day_start(start), _day_start(end + timedelta(days=1)))
        first, last = found if found else (0, -1)
        checkpoints = [cp for cp in load_checkpoints(conn) if cp.tree_size <= size]
        manifest = {"format": FORMAT, "origin": origin, "from": start.isoformat(),
                    "to": end.isoformat(), "first_seq": first, "last_seq": last,
                    "entries": max(0, last - first + 1), "tree_size": size,
                    "exported_at": format_at(now)}
        tmp = out.with_name(out.name + ".part")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            with zf.open("leaf-hashes.bin", "w", force_zip64=True) as fh:
                for h in iter_leaf_hashes(conn, size):
                    fh.write(bytes.fromhex(h))
            apels = RangeApel()
            with zf.open("entries.jsonl", "w", force_zip64=True) as fh:
                if found:
                    for row in iter_entries(conn, first, last):
                        fh.write(leaf_data(*row[:6]) + b"\n")
                        apels.note(row[2], row[4])
            manifest["recount"] = write_recount_files(zf, conn, first, last, apels.ids)
            zf.writestr("checkpoints.jsonl", "".join(
                json.dumps({"id": cp.id, "created_at": cp.created_at, "tree_size": cp.tree_size,
                            "root_hash": cp.root_hash, "key_id": cp.key_id, "note": cp.note},
                           ensure_ascii=False) + "\n" for cp in checkpoints))
            zf.writestr("keys.txt", "".join(k.text() + "\n" for k in keys))
            zf.writestr("manifest.json", json.dumps(manifest, indent=2) + "\n")
            zf.writestr("README.txt", README.format(
                origin=origin, first=first, last=last, start=start, end=end, size=size,
                name=out.name))
    tmp.replace(out)
    return manifest


BUNDLE_TABLES = Gap("bundle_tables", "the unit's tables are not in a bundle: rows are reconciled "
                    "with the chain only by `apel-bot verify` on the database")
NO_FIGURES = Gap("no_figures", "the bundle carries no report figures (exported by an older "
                 "version): the recomputed figures are listed, not compared")


def _lines(zf: zipfile.ZipFile) -> Iterator[bytes]:
    with zf.open("entries.jsonl") as fh:
        for raw in fh:
            line = raw.rstrip(b"\n")
            if line:
                yield line


def verify_bundle(path: str | Path, *, outside: Sequence[tuple[str, str]] = (),
                  pinned_keys: Sequence[VerifierKey] = (), recount: bool = False) -> Report:
    """Check a bundle alone; pinned keys (given by the inspector) replace the bundle's own.
    With `recount`, also recompute the range's figures and compare them with figures.jsonl."""
    outside = held_outside(outside)
    report = Report(source=str(path), outside=len(outside))
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as err:
        report.problems.append(Problem(None, f"cannot read the bundle: {err}",
                                       code="bundle_unreadable"))
        return report
    with zf:
        try:
            manifest = json.loads(zf.read("manifest.json"))
            if manifest.get("format") != FORMAT:
                raise ValueError(f"unknown bundle format {manifest.get('format')!r}")
            hashes = zf.read("leaf-hashes.bin")
            checkpoints = [StoredCheckpoint(int(c["id"]), int(c["tree_size"]), c["root_hash"],
                                            c["key_id"], c["note"], c["created_at"])
                           for c in map(json.loads, zf.read("checkpoints.jsonl").splitlines())]
            keys = list(pinned_keys) or [
                VerifierKey.parse(line) for line in zf.read("keys.txt").decode().splitlines()
                if line.strip()]
        except (KeyError, ValueError, TypeError, KeyFileError) as err:
            report.problems.append(Problem(None, f"malformed bundle: {err}",
                                           code="bundle_malformed"))
            return report
        if len(hashes) % 32:
            report.problems.append(Problem(None, "leaf-hashes.bin is not a whole number of "
                                                 "32-byte hashes", code="bundle_hashes_partial"))
            hashes = hashes[: len(hashes) - len(hashes) % 32]
        wanted = wanted_sizes(checkpoints, [text for _, text in outside])
        first, last = int(manifest["first_seq"]), int(manifest["last_seq"])
        ledger = Ledger(recount=recount)
        support = read_support(zf, hashes, first, last, report.problems) if recount else []
        visit(ledger, (s for s in support if s[0] < first))
        scan = scan_bundle(hashes, _lines(zf), first, last, wanted,
                           visit=ledger.visit if recount else None, visit_kinds=FOLD_KINDS)
        visit(ledger, (s for s in support if s[0] > last))
        shown = read_shown(zf, report.problems) if recount else None
        report.units = read_units(zf)
    if recount:
        report.figures, figure_problems = compare(ledger, shown)
        report.problems += figure_problems
    report.problems += scan.problems
    report.problems += check_log(scan, checkpoints, keys, manifest.get("origin"), outside)
    if int(manifest["tree_size"]) != scan.count:
        report.problems.append(Problem(scan.count + 1, f"the manifest says {manifest['tree_size']}"
                                       f" entries but leaf-hashes.bin holds {scan.count}",
                                       code="bundle_manifest_size",
                                       data={"said": manifest["tree_size"], "held": scan.count}))
    report.entries, report.last_seq = scan.count, scan.last_seq
    report.content_checked, report.checkpoints = scan.content_count, len(checkpoints)
    report.keys = sorted({f"{k.name}+{k.key_id_hex}" for k in keys})
    report.unchecked = coverage_gaps(scan, checkpoints, len(outside)) + [BUNDLE_TABLES]
    if not recount:
        report.unchecked.append(NOT_RECOUNTED)
    elif shown is None:
        report.unchecked.append(NO_FIGURES)
    return report
