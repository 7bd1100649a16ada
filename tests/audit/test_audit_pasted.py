"""Checkpoint notes as a chat shows them, and what `verify` says it could not check."""

from __future__ import annotations

import pytest

from bot.inspection.verify import verify_database
from bot.platform.db import Database
from tests.audit.test_audit_support import ORIGIN, build_log, copy_sqlite


@pytest.fixture(scope="module")
def small(tmp_path_factory, _sqlite_template):
    base = tmp_path_factory.mktemp("pasted")
    db = Database(copy_sqlite(_sqlite_template, base / "log.db"))
    golden = build_log(db, base / "audit.key", batches=3)
    yield db, golden
    db.dispose()


def _verify(small, notes: list[str]):  # noqa: ANN202
    db, golden = small
    return verify_database(db, keys=golden.keys(), origin=ORIGIN,
                           outside=[(f"held{i}", n) for i, n in enumerate(notes)])


@pytest.mark.parametrize("paste", [
    lambda n: n.rstrip("\n"),                       # Telegram trims the final newline
    lambda n: n + "\n\n",                           # blank lines after it
    lambda n: n.replace("\n", "\r\n"),              # CRLF
    lambda n: "\n  " + n.rstrip("\n") + "  \r\n",   # spaces and blank lines around it
])
def test_note_accepted_as_a_chat_shows_it(small, paste):
    note = small[1].notes[-1][1]
    report = _verify(small, [paste(note)])
    assert report.ok, report.text()
    assert report.outside == 1


def test_pasting_does_not_excuse_a_changed_signed_text(small):
    note = small[1].notes[-1][1]
    size = small[1].notes[-1][0]
    forged = note.replace(f"\n{size}\n", f"\n{size - 1}\n").rstrip("\n")
    report = _verify(small, [forged])
    assert not report.ok and "does not verify" in report.text()


def test_verify_names_what_it_could_not_check(small):
    text = _verify(small, []).text()
    assert text.startswith("OK: ")
    assert "not checked: no checkpoint held outside was given" in text
    held = _verify(small, [small[1].notes[-1][1]]).text()
    assert "no checkpoint held outside" not in held
