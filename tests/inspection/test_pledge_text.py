"""Pledge rows are matched with their entries by exact text (bot/inspection/pledges.py): what
the application writes must be what the database spells back, or verify loses its speed."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from bot.audit.chain import append
from bot.audit.keys import load_signing_key
from bot.audit.kinds import PLEDGE_RECORDED
from bot.audit.scan import scan_rows
from bot.audit.store import iter_entries, read_snapshot
from bot.inspection import pledges
from bot.inspection.ledger import FOLD_KINDS, Ledger
from bot.inspection.verify import verify_database
from tests.audit.test_audit_world import build_world


def test_every_pledge_the_application_writes_is_claimed_by_its_text(db, settings):
    build_world(db, settings)
    ledger = Ledger()
    with read_snapshot(db) as conn:
        scan_rows(iter_entries(conn), set(), keep_leaves=False, visit=ledger.visit,
                  visit_kinds=FOLD_KINDS)
        assert len(ledger.pledge_texts) == 2
        left, rows, refold = pledges.claim(ledger, conn)
    assert (left, rows, refold, ledger.pledge_texts) == (set(), 2, [], {})


def test_a_pledge_recorded_twice_is_reported(db, settings, tmp_path):
    build_world(db, settings)
    with db.engine.connect() as conn:
        p = conn.execute(text("SELECT * FROM pledge ORDER BY id LIMIT 1")).one()
    db.call(lambda s: append(s, kind=PLEDGE_RECORDED, actor=f"tg:{p.telegram_user_id}",
                             at=datetime(2024, 11, 27, tzinfo=UTC), payload={
                                 "pledge_id": p.id, "apel_id": p.apel_id,
                                 "employee_id": p.employee_id, "late": not p.late}))
    key = load_signing_key(tmp_path / "audit.key", "apel-bot")
    report = verify_database(db, keys=[key.verifier], origin="apel-bot")
    assert [x.message for x in report.problems] == [
        f"pledge row {p.id} is named by more than one pledge.recorded entry (recorded twice)"]
