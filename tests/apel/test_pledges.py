"""Pledges recorded in batches: one row and one audit entry per (apel, employee), whatever
arrives twice, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import select

from bot.apel.apel import PledgeResult, Press, open_apel, pledge_many
from bot.audit.models import AuditEntry
from bot.calendar.duty import plan_apel
from bot.models import Pledge
from bot.org.units import sync_config
from tests.factories import add_employee

OPEN = datetime(2024, 11, 25, 23, 0, 30, tzinfo=UTC)  # 07.00 WITA, 26 Nov: Regu D stands pagi


def setup(db, settings):
    def seed(s):
        sync_config(s, settings, datetime(2024, 11, 25, 12, 0, tzinfo=UTC))
        add_employee(s, "lapas-palu", 1, "Budi Santoso", "anggota", "Regu D", 3001)
        add_employee(s, "lapas-palu", 2, "Andi Pratama", "anggota", "Regu D", 3002)
        add_employee(s, "lapas-palu", 3, "Agus Salim", "anggota", "Regu A", 3003)
        plan = plan_apel(settings.unit("lapas-palu"), date(2024, 11, 26), "pagi",
                         settings.calendar)
        return open_apel(s, settings, plan, OPEN).id

    return db.call(seed)


def test_batch_with_doubles_and_strangers(db, settings):
    apel_id = setup(db, settings)
    at = datetime(2024, 11, 25, 23, 5, tzinfo=UTC)
    late = datetime(2024, 11, 25, 23, 20, tzinfo=UTC)
    presses = [Press(apel_id, 3001, -1, at), Press(apel_id, 3001, -1, at),  # Budi twice
               Press(apel_id, 9999, -1, at),  # not registered
               Press(apel_id, 3003, -1, at),  # Agus: another regu
               Press(apel_id, 3002, -1, late),  # Andi: late
               Press(apel_id + 99, 3001, -1, at)]  # an apel that does not exist
    results = [o.result for o in db.call(lambda s: pledge_many(s, presses))]
    assert results == [PledgeResult.RECORDED, PledgeResult.ALREADY,
                       PledgeResult.NOT_REGISTERED, PledgeResult.NOT_EXPECTED,
                       PledgeResult.RECORDED_LATE, PledgeResult.UNKNOWN_APEL]
    again = db.call(lambda s: pledge_many(s, presses[:1]))
    assert again[0].result == PledgeResult.ALREADY and again[0].pledged_at == at
    pledges = db.call(lambda s: s.exec(select(Pledge)).all())
    assert len(pledges) == 3
    entries = db.call(lambda s: s.exec(select(AuditEntry).where(
        AuditEntry.kind == "pledge.recorded")).all())
    assert len(entries) == 3


def test_concurrent_writer_recorded_it_first(db, settings):
    apel_id = setup(db, settings)
    at = datetime(2024, 11, 25, 23, 5, tzinfo=UTC)
    db.call(lambda s: pledge_many(s, [Press(apel_id, 3001, -1, at)]))

    def stale_batch(s):
        # A batch that read "not yet pledged" before the other commit: the insert is skipped.
        from bot.apel import apel as apel_module
        rows = [{"apel_id": apel_id, "employee_id": s.exec(select(Pledge.employee_id)).one(),
                 "telegram_user_id": 3001, "chat_id": -1, "pledged_at": at, "late": False,
                 "after_deadline": False, "expected": True}]
        return apel_module._insert_new_pledges(s, rows)

    assert db.call(stale_batch) == {}
    assert len(db.call(lambda s: s.exec(select(Pledge)).all())) == 1
