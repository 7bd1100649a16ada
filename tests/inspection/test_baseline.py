"""Upgrading a database written before the entries stated every row: verify fails on the old
rows until `apel-bot audit baseline` vouches for them on the record; afterwards a row changed,
added or deleted is caught as before."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from bot.audit import chain, log
from bot.audit import kinds as k
from bot.audit.keys import load_signing_key
from bot.inspection.baseline import CHUNK, run_baseline
from bot.inspection.verify import verify_database
from tests.audit.test_audit_world import build_world
from tests.inspection.test_reconcile import _raw

ORIGIN = "apel-bot"
NOW = datetime(2024, 11, 27, 8, 0, tzinfo=UTC)
OLD_FIELDS = {k.PLEDGE_RECORDED: "pledged_at", k.CORRECTION_RECORDED: "reason_text"}


def _old_shape(events):  # noqa: ANN001, ANN202
    """What the version before reconciliation wrote: no employee or leave entries, pledges
    without pledged_at, corrections without their reason text."""
    out = []
    for e in events:
        if e.kind in (k.EMPLOYEE_CHANGED, k.LEAVE_ADDED):
            continue
        dropped = OLD_FIELDS.get(e.kind)
        out.append(replace(e, payload={n: v for n, v in e.payload.items() if n != dropped}))
    return out


@pytest.fixture
def old(db, settings, tmp_path, monkeypatch):
    real = chain.append_many

    def append_old(session, events):  # noqa: ANN001, ANN202
        kept = _old_shape(events)
        written = real(session, kept) if kept else []
        # append() builds its (unsaved) entry from the first row: an empty one if not written.
        return written + [{}] * (len(events) - len(written))

    with monkeypatch.context() as m:
        for module in (chain, log):
            m.setattr(module, "append_many", append_old)
        w = build_world(db, settings)
    key = load_signing_key(tmp_path / "audit.key", ORIGIN)
    return db, w, [key.verifier]


def _verify(db, keys, recount=False):  # noqa: ANN001, ANN202
    return verify_database(db, keys=keys, origin=ORIGIN, recount=recount)


def _lines(report, word):  # noqa: ANN001, ANN202
    return [p.message for p in report.problems if word in p.message]


def test_an_old_database_fails_and_says_what_it_could_not_compare(old):
    db, _, keys = old
    report = _verify(db, keys)
    assert _lines(report, "employee row") and _lines(report, "leave row"), report.text()
    assert all("has no entry" in p.message for p in report.problems), report.text()
    gaps = {g.code: g for g in report.unchecked}
    counts = gaps["unstated"].data["counts"]
    assert counts["correction.reason"] == 1 and counts["pledge.pledged_at"] == 2
    assert counts["employee.nip_sha256"] == 2  # approvals bound an account, nothing else
    assert "pledge.pledged_at (2 rows)" in report.text()


def test_baseline_then_verify_is_ok_and_names_who_vouched(old):
    db, _, keys = old
    result = run_baseline(db, actor="cli:ops", at=NOW)
    assert result.written, result.refused
    assert result.counts["employee"] > 5 and result.counts["pledge"] == 2
    assert result.counts["correction"] == 1 and result.counts["leave"] >= 1
    report = _verify(db, keys, recount=True)
    assert report.ok, report.text()
    gaps = {g.code: g for g in report.unchecked}
    assert "unstated" not in gaps
    assert gaps["baseline"].data == {"seq": result.seq, "actor": "cli:ops",
                                     "counts": result.counts}
    assert f"by the baseline cli:ops recorded at seq {result.seq}" in report.text()
    with db.engine.connect() as conn:
        header = conn.execute(text("SELECT actor, at, payload FROM auditentry WHERE seq = :s"),
                              {"s": result.seq}).one()
    assert header.actor == "cli:ops" and header.at.startswith("2024-11-27T08:00")
    assert json.loads(header.payload)["tables"] == result.counts


def test_baseline_is_recorded_once(old):
    db, _, _ = old
    assert run_baseline(db, actor="cli:ops", at=NOW).written
    again = run_baseline(db, actor="cli:ops", at=NOW)
    assert not again.written and "already recorded" in again.refused
    assert run_baseline(db, actor="cli:ops", at=NOW, again=True).needed is False


def test_baseline_on_a_current_database_has_nothing_to_do(db, settings):
    build_world(db, settings)
    result = run_baseline(db, actor="cli:ops", at=NOW)
    assert not result.written and not result.needed


CHANGES = [  # (table, column, new value, where): each after the baseline
    ("employee", "name", "Orang Lain", "unit_id = 1"),
    ("pledge", "pledged_at", "2024-11-25 23:01:00.000000", "late"),
    ("correction", "reason", "Dinas luar", "1=1"),
    ("leave", "reason", "diubah", "1=1"),
]


@pytest.mark.parametrize("table,column,value,where", CHANGES, ids=[c[0] for c in CHANGES])
def test_a_row_changed_after_the_baseline_is_caught(old, table, column, value, where):
    db, _, keys = old
    seq = run_baseline(db, actor="cli:ops", at=NOW).seq
    with _raw(db) as conn:
        row_id = conn.execute(text(f"SELECT id FROM {table} WHERE {where} "  # noqa: S608
                                   "ORDER BY id LIMIT 1")).scalar_one()
        if db.is_sqlite or column != "pledged_at":
            conn.execute(text(f'UPDATE {table} SET "{column}" = :v WHERE id = :id'),  # noqa: S608
                         {"v": value, "id": row_id})
        else:
            conn.execute(text("UPDATE pledge SET pledged_at = pledged_at - interval '20 minutes' "
                              "WHERE id = :id"), {"id": row_id})
        conn.commit()
    report = _verify(db, keys)
    found = [p for p in report.problems if p.message.startswith(f"{table} row {row_id}: ")]
    assert found and found[0].seq > seq, report.text()


def test_rows_added_or_deleted_after_the_baseline_are_caught(old):
    db, w, keys = old
    run_baseline(db, actor="cli:ops", at=NOW)
    with _raw(db) as conn:
        emp = dict(conn.execute(text("SELECT * FROM employee ORDER BY id LIMIT 1")).one()._mapping)
        emp.update(id=emp["id"] + 1000, nip="199912312020121999", telegram_user_id=None)
        conn.execute(text(f"INSERT INTO employee ({', '.join(emp)}) "  # noqa: S608
                          f"VALUES ({', '.join(':' + c for c in emp)})"), emp)
        conn.execute(text("DELETE FROM employee WHERE id = :id"), {"id": w.spare_id})
        conn.commit()
    report = _verify(db, keys)
    assert _lines(report, f"employee row {emp['id']} has no entry"), report.text()
    assert _lines(report, f"employee row {w.spare_id} recorded here is missing"), report.text()


def test_baseline_refuses_to_vouch_for_a_changed_stated_field(old):
    db, _, _ = old
    with _raw(db) as conn:
        conn.execute(text("UPDATE rolegrant SET role = 'admin' WHERE id = "
                          "(SELECT MIN(id) FROM rolegrant)"))
        conn.commit()
    result = run_baseline(db, actor="cli:ops", at=NOW)
    assert not result.written and "evidence of changes" in result.refused
    assert any("rolegrant row" in p.message for p in result.problems)
    with db.engine.connect() as conn:
        n = conn.execute(text("SELECT COUNT(*) FROM auditentry WHERE kind LIKE 'baseline.%'"))
        assert n.scalar_one() == 0


def test_baseline_rows_come_in_chunks(old, monkeypatch):
    db, _, keys = old
    monkeypatch.setattr("bot.inspection.baseline.CHUNK", 2)
    result = run_baseline(db, actor="cli:ops", at=NOW)
    with db.engine.connect() as conn:
        chunks = conn.execute(text("SELECT payload FROM auditentry WHERE kind = :k"),
                              {"k": k.BASELINE_ROWS}).scalars().all()
    assert len(chunks) == sum((n + 1) // 2 for n in result.counts.values())
    assert all(len(json.loads(c)["rows"]) <= 2 for c in chunks) and CHUNK > 2
    assert _verify(db, keys).ok
