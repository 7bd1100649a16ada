"""Inspector bundles: exported from a real log, checked with no database, and tampered with."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, date, datetime
from hashlib import sha256
from pathlib import Path

import pytest

from bot.audit.canonical import canonical_payload
from bot.audit.keys import SigningKey
from bot.audit.note import parse_note, sign_note
from bot.inspection.bundle import export_bundle, verify_bundle
from bot.platform.db import Database
from tests.audit.test_audit_support import ORIGIN, build_log, copy_sqlite

NOW = datetime(2024, 12, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def built(tmp_path_factory, _sqlite_template):
    base = tmp_path_factory.mktemp("bundle")
    db = Database(copy_sqlite(_sqlite_template, base / "log.db"))
    golden = build_log(db, base / "audit.key")
    full = base / "full.zip"
    export_bundle(db, start=date(2024, 11, 1), end=date(2024, 12, 31), out=full, origin=ORIGIN,
                  keys=golden.keys(), now=NOW)
    part = base / "part.zip"
    manifest = export_bundle(db, start=date(2024, 11, 28), end=date(2024, 11, 29), out=part,
                             origin=ORIGIN, keys=golden.keys(), now=NOW)
    db.dispose()
    return golden, full, part, manifest


class Bundle:
    """An unpacked bundle an attacker edits and zips again."""

    def __init__(self, path: Path) -> None:
        with zipfile.ZipFile(path) as zf:
            self.files = {name: zf.read(name) for name in zf.namelist()}
        self.lines = self.files["entries.jsonl"].splitlines()
        self.hashes = bytearray(self.files["leaf-hashes.bin"])
        self.checkpoints = [json.loads(x) for x in self.files["checkpoints.jsonl"].splitlines()]
        self.manifest = json.loads(self.files["manifest.json"])

    def line(self, seq: int) -> dict:
        return json.loads(self.lines[seq - self.manifest["first_seq"]])

    def set_line(self, seq: int, obj: dict) -> None:
        self.lines[seq - self.manifest["first_seq"]] = _canon(obj)

    def rehash_from(self, seq: int) -> None:
        for s in range(seq, self.manifest["last_seq"] + 1):
            obj = self.line(s)
            obj["prev"] = bytes(self.hashes[32 * (s - 2): 32 * (s - 1)]).hex()
            self.set_line(s, obj)
            self.hashes[32 * (s - 1): 32 * s] = sha256(b"\x00" + _canon(obj)).digest()

    def write(self, path: Path) -> Path:
        self.files["entries.jsonl"] = b"".join(x + b"\n" for x in self.lines)
        self.files["leaf-hashes.bin"] = bytes(self.hashes)
        self.files["checkpoints.jsonl"] = b"".join(json.dumps(c).encode() + b"\n"
                                                   for c in self.checkpoints)
        self.files["manifest.json"] = json.dumps(self.manifest).encode()
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in self.files.items():
                zf.writestr(name, data)
        return path


def _canon(obj: dict) -> bytes:
    return canonical_payload(obj).encode()


def _first(report):  # noqa: ANN001, ANN202
    assert not report.ok, "tampering went unnoticed"
    return report.sorted_problems()[0]


def _pledge_seq(b: Bundle, near: int) -> int:
    return next(s for s in range(near, b.manifest["last_seq"])
                if b.line(s)["kind"] == "pledge.recorded")


def test_bundles_verify_without_database_or_config(built):
    golden, full, part, manifest = built
    keys = golden.keys()
    report = verify_bundle(full, pinned_keys=keys, outside=[("held", golden.notes[-1][1])])
    assert report.ok, report.text()
    assert report.content_checked == report.entries == golden.last_seq
    report = verify_bundle(part, outside=[("held", n) for _, n in golden.notes[::5]])
    assert report.ok, report.text()
    assert 0 < manifest["entries"] == report.content_checked < report.entries
    with zipfile.ZipFile(part) as zf:
        readme = zf.read("README.txt").decode()
    assert "apel-bot verify --bundle part.zip" in readme


def test_edited_line(built, tmp_path):
    b = Bundle(built[1])
    k = _pledge_seq(b, 100)
    obj = b.line(k)
    obj["payload"]["employee_id"] = 55
    b.set_line(k, obj)
    problem = _first(verify_bundle(b.write(tmp_path / "t.zip")))
    assert (problem.seq, problem.seq_end) == (k, k)


def test_edited_line_in_a_date_range_bundle(built, tmp_path):
    b = Bundle(built[2])
    k = _pledge_seq(b, b.manifest["first_seq"] + 3)
    obj = b.line(k)
    obj["actor"] = "tg:1"
    b.set_line(k, obj)
    assert _first(verify_bundle(b.write(tmp_path / "t.zip"))).seq == k


def test_edited_line_with_hashes_recomputed(built, tmp_path):
    b = Bundle(built[1])
    k = _pledge_seq(b, 100)
    obj = b.line(k)
    obj["payload"]["employee_id"] = 55
    b.set_line(k, obj)
    b.rehash_from(k)
    problem = _first(verify_bundle(b.write(tmp_path / "t.zip")))
    assert problem.seq <= k <= problem.seq_end and problem.seq_end - problem.seq < 12


def test_deleted_line(built, tmp_path):
    b = Bundle(built[1])
    k = _pledge_seq(b, 140)
    del b.lines[k - 1]
    problem = _first(verify_bundle(b.write(tmp_path / "t.zip")))
    assert (problem.seq, problem.seq_end) == (k, k)


def test_inserted_line(built, tmp_path):
    b = Bundle(built[1])
    k = _pledge_seq(b, 60)
    forged = b.line(k)
    forged["payload"]["employee_id"] = 99
    b.lines.insert(k - 1, _canon(forged))
    assert _first(verify_bundle(b.write(tmp_path / "t.zip"))).seq == k


def test_swapped_lines(built, tmp_path):
    b = Bundle(built[1])
    k = _pledge_seq(b, 200)
    b.lines[k - 1], b.lines[k] = b.lines[k], b.lines[k - 1]
    assert _first(verify_bundle(b.write(tmp_path / "t.zip"))).seq == k


def test_truncated_tail_caught_by_outside_checkpoint(built, tmp_path):
    golden = built[0]
    b = Bundle(built[1])
    cut = golden.last_seq - 30
    del b.lines[cut:]
    del b.hashes[32 * cut:]
    b.checkpoints = [c for c in b.checkpoints if c["tree_size"] < cut]
    b.manifest.update(last_seq=cut, tree_size=cut)
    path = b.write(tmp_path / "t.zip")
    assert verify_bundle(path).ok  # consistent in itself...
    problem = _first(verify_bundle(path, outside=[("held", golden.notes[-1][1])]))
    assert problem.seq == cut + 1  # ...but shorter than what the Kalapas was shown


def test_replaced_checkpoint(built, tmp_path):
    b = Bundle(built[1])
    cp = b.checkpoints[8]
    cp["note"] = cp["note"].replace(f"\n{cp['tree_size']}\n", f"\n{cp['tree_size'] - 3}\n")
    problem = _first(verify_bundle(b.write(tmp_path / "t.zip")))
    assert problem.seq == cp["tree_size"] + 1
    assert "does not verify" in problem.message


def test_checkpoint_resigned_with_another_key(built, tmp_path):
    golden = built[0]
    b = Bundle(built[1])
    attacker = SigningKey.generate(ORIGIN)
    cp = b.checkpoints[20]
    cp["note"] = sign_note(parse_note(cp["note"])[0], attacker)
    b.files["keys.txt"] += (attacker.verifier.text() + "\n").encode()
    path = b.write(tmp_path / "t.zip")
    # With the bundle's own (doctored) keys, the chain's record of the signing key betrays it.
    problem = _first(verify_bundle(path))
    assert problem.seq == cp["tree_size"] + 1
    # With the keys the inspector was given, the signature itself is rejected.
    problem = _first(verify_bundle(path, pinned_keys=golden.keys()))
    assert problem.seq == cp["tree_size"] + 1 and "unknown key" in problem.message


def test_wiped_checkpoints_caught_by_outside_checkpoint(built, tmp_path):
    golden = built[0]
    b = Bundle(built[1])
    b.checkpoints = []
    size, held = golden.notes[14]
    report = verify_bundle(b.write(tmp_path / "t.zip"), outside=[("held", held)])
    assert any(p.seq == size + 1 and "held outside" in p.message for p in report.problems)
