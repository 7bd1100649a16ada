"""Offline figures and the inspector's report: a bundle carries what `--recount` needs, its
figures are checked, and the HTML page says what was and was not checked, escaped."""

from __future__ import annotations

import json
import re
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.audit.checkpoint import sign_checkpoint
from bot.audit.keys import load_signing_key
from bot.cli import main
from bot.inspection.bundle import export_bundle, verify_bundle
from bot.inspection.inspector import write_report
from tests.audit.test_audit_world import build_world

ORIGIN = "apel-bot"
NOW = datetime(2024, 12, 1, tzinfo=UTC)


@pytest.fixture
def bundle(db, settings, tmp_path):
    """The world's 25 November (UTC): the correction of the 26th comes in as support."""
    w = build_world(db, settings)
    key = load_signing_key(tmp_path / "audit.key", ORIGIN)
    with db.transaction() as s:
        sign_checkpoint(s, at=NOW, key=key)
    path = tmp_path / "nov.zip"
    export_bundle(db, start=date(2024, 11, 25), end=date(2024, 11, 25), out=path,
                  origin=ORIGIN, keys=[key.verifier], now=NOW)
    return path, w, key.verifier


def _edit(path: Path, name: str, change) -> Path:  # noqa: ANN001
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    files[name] = change(files[name])
    out = path.with_name("edited.zip")
    with zipfile.ZipFile(out, "w") as zf:
        for n, data in files.items():
            zf.writestr(n, data)
    return out


def test_a_bundle_recounts_its_apel_offline(bundle):
    path, w, key = bundle
    report = verify_bundle(path, pinned_keys=[key], recount=True)
    assert report.ok, report.text()
    [apel] = report.figures
    assert apel.apel_id == w.apel_id and apel.shown == apel.chain
    assert (apel.chain.leave, apel.chain.corrected) == (1, 1)  # the correction: from support


def _more_on_time(data: bytes) -> bytes:
    rows = [json.loads(x) for x in data.splitlines()]
    rows[0]["figures"]["on_time"] += 1
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_changed_figures_in_a_bundle_are_caught_by_recount(bundle):
    path, w, key = bundle
    edited = _edit(path, "figures.jsonl", _more_on_time)
    assert verify_bundle(edited, pinned_keys=[key]).ok  # without --recount: not looked at
    report = verify_bundle(edited, pinned_keys=[key], recount=True)
    [problem] = report.problems
    assert problem.message.startswith(f"apel {w.apel_id} ") and "on_time 2 (chain: 1)" in \
        problem.message


def test_an_edited_supporting_entry_is_caught(bundle):
    path, _, key = bundle
    edited = _edit(path, "support.jsonl", lambda d: d.replace(b'"reason":"sakit"',
                                                             b'"reason":"dinas"'))
    report = verify_bundle(edited, pinned_keys=[key], recount=True)
    assert any("support.jsonl: the entry does not match its leaf hash" in p.message
               for p in report.problems), report.text()


def test_the_report_of_a_clean_bundle(bundle, tmp_path):
    path, _, key = bundle
    out = tmp_path / "laporan.html"
    assert write_report(path, out, outside=[], pinned_keys=[key], now=NOW).ok
    html = out.read_text(encoding="utf-8")
    assert "LOLOS" in html and "GAGAL" not in html
    assert "Lapas Kelas IIA Palu (lapas-palu)" in html
    assert "Tidak ada checkpoint yang disimpan di luar basis data" in html
    assert "<td>1</td><td>1</td>" in html  # on time, late
    for external in ("http://", "https://", "src=", "<link", "<script"):
        assert external not in html


def test_the_report_of_a_tampered_bundle_escapes_what_it_shows(bundle, tmp_path):
    path, _, key = bundle
    edited = _edit(path, "figures.jsonl", _more_on_time)
    edited = _edit(edited, "units.json", lambda d: d.replace(
        b"Lapas Kelas IIA Palu", b"<script>alert(1)</script>"))
    out = tmp_path / "laporan.html"
    assert not write_report(edited, out, outside=[], pinned_keys=[key], now=NOW).ok
    html = out.read_text(encoding="utf-8")
    assert "GAGAL" in html and "berbeda: tepat waktu 2" in html and 'class="beda"' in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_report_command(bundle, tmp_path, capsys):
    path, _, key = bundle
    out = tmp_path / "laporan.html"
    code = main(["audit", "report", "--bundle", str(path), "--out", str(out),
                 "--key", key.text()])
    assert code == 0 and out.is_file()
    assert "1 closed apel recounted" in capsys.readouterr().out
    assert main(["verify", "--bundle", str(path), "--key", key.text(), "--recount"]) == 0


def test_the_report_words_each_problem_in_indonesian(bundle, tmp_path):
    path, _, key = bundle
    edited = _edit(path, "support.jsonl", lambda d: d.replace(b'"reason":"sakit"',
                                                             b'"reason":"dinas"'))
    edited = _edit(edited, "figures.jsonl", _more_on_time)
    out = tmp_path / "laporan.html"
    report = write_report(edited, out, outside=[], pinned_keys=[key], now=NOW)
    html = out.read_text(encoding="utf-8")
    assert {p.code for p in report.problems} == {"support_hash", "figures_differ"}
    assert "entri pendukung (support.jsonl) tidak cocok dengan nilai hash-nya" in html
    assert "berbeda dengan hasil hitung ulang dari rantai audit" in html
    for p in report.problems:
        assert p.message not in html  # the English stays in the CLI


TEMPLATE = Path(__file__).resolve().parents[2] / "bot/messages/audit_report.html.j2"


_CODE = re.compile(r'(?<!\w)code="([^"]+)"|runs\.add\("([^"]+)"|^NO_ENTRY = "([^"]+)"', re.M)


def _codes_in_sources() -> set[str]:
    """Every problem code the verification code can give (scan's run codes included)."""
    root = TEMPLATE.parents[2]
    files = [root / "bot/audit/scan.py", *(root / "bot/inspection").glob("*.py")]
    return {"".join(m) for f in files for m in _CODE.findall(f.read_text(encoding="utf-8"))}


def test_every_problem_kind_has_an_indonesian_sentence():
    template = TEMPLATE.read_text(encoding="utf-8")
    worded = set(re.findall(r'p\.code == "([^"]+)"', template))
    codes = _codes_in_sources()
    assert len(codes) > 40
    assert codes - worded == set()
