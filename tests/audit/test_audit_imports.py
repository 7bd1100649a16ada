"""`apel-bot roster import` and `apel-bot leave import` put every change on the record."""

from __future__ import annotations

import json
from hashlib import sha256

import pytest
from sqlalchemy import text

from bot.audit.facts import digest
from bot.cli import main
from bot.platform.db import Database
from tests.audit.test_audit_cli import cfg  # noqa: F401 (fixture)

ROSTER = ("nip,nama,jabatan,unit,regu\n"
          "198507252009121001,Budi Santoso,anggota,lapas-palu,Regu A\n"
          "198601012010011002,Ahmad Fauzi,karupam,lapas-palu,Regu B\n")
LEAVE = "nip,dari,sampai,alasan\n198507252009121001,2024-11-25,2024-11-27,{reason}\n"


@pytest.fixture
def upgraded(cfg):  # noqa: F811
    assert main(["db", "upgrade", "--config", cfg]) == 0
    return cfg


def _entries(tmp_path) -> list[dict]:  # noqa: ANN001
    db = Database(f"sqlite:///{tmp_path}/apel.db")
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT kind, actor, payload FROM auditentry ORDER BY seq"))
            return [{"kind": r.kind, "actor": r.actor, **json.loads(r.payload)} for r in rows]
    finally:
        db.dispose()


def _import(cfg_path: str, tmp_path, what: str, content: str, *extra: str) -> int:  # noqa: ANN001
    path = tmp_path / f"{what}.csv"
    path.write_text(content, encoding="utf-8")
    return main([what, "import", str(path), "--config", cfg_path, *extra])


def test_roster_import_records_the_file_and_each_person_changed(upgraded, tmp_path):
    assert _import(upgraded, tmp_path, "roster", ROSTER) == 0
    entries = _entries(tmp_path)
    summary = next(e for e in entries if e["kind"] == "roster.imported")
    assert summary["actor"].startswith("cli:")
    assert summary["file_sha256"] == sha256(ROSTER.encode()).hexdigest()
    assert (summary["import"], summary["added"]) == ("roster", 2)
    people = [e for e in entries if e["kind"] == "employee.changed"]
    assert {p["nip_sha256"] for p in people} == {digest("198507252009121001"),
                                                  digest("198601012010011002")}
    assert all(p["active"] and p["role"] in {"anggota", "karupam"} for p in people)

    renamed = ROSTER.replace("Budi Santoso", "Budi Santosa")
    assert _import(upgraded, tmp_path, "roster", renamed) == 0
    new = _entries(tmp_path)[len(entries):]
    assert [e["kind"] for e in new] == ["roster.imported", "employee.changed"]
    assert new[1]["name_sha256"] == digest("Budi Santosa")


def test_dry_runs_and_refused_files_write_nothing(upgraded, tmp_path):
    assert _import(upgraded, tmp_path, "roster", ROSTER, "--dry-run") == 0
    assert _import(upgraded, tmp_path, "roster", ROSTER + "123,X,anggota,lapas-palu,Regu A\n") == 1
    assert not [e for e in _entries(tmp_path) if e["kind"] != "checkpoint.signed"]


def test_leave_import_records_each_leave_added_or_changed(upgraded, tmp_path):
    assert _import(upgraded, tmp_path, "roster", ROSTER) == 0
    before = len(_entries(tmp_path))
    assert _import(upgraded, tmp_path, "leave", LEAVE.format(reason="Cuti tahunan")) == 0
    assert _import(upgraded, tmp_path, "leave", LEAVE.format(reason="Sakit")) == 0
    new = _entries(tmp_path)[before:]
    assert [(e["kind"], e.get("import")) for e in new] == [
        ("roster.imported", "leave"), ("leave.added", None),
        ("roster.imported", "leave"), ("leave.changed", None)]
    assert new[1]["leave_id"] == new[3]["leave_id"]
    assert (new[1]["start"], new[1]["end"]) == ("2024-11-25", "2024-11-27")
    assert new[3]["reason_sha256"] == digest("Sakit")
