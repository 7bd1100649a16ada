"""Pledges recorded in batches: one row and one audit entry per (apel, employee), whatever
arrives twice, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import event
from sqlmodel import col, select

from bot.apel.models import Briefing, Pledge
from bot.apel.opening import open_apel
from bot.apel.pledging import PledgeResult, Press, pledge_many
from bot.audit.models import AuditEntry
from bot.calendar.duty import plan_apel
from bot.org.units import move_chat, sync_config
from tests.factories import add_employee

OPEN = datetime(2024, 11, 25, 23, 0, 30, tzinfo=UTC)  # 07.00 WITA, 26 Nov: Regu D stands pagi
REGU_D = -1001000000004  # Lapas Palu's Regu D group, where the briefing is posted


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
    presses = [Press(apel_id, 3001, REGU_D, at), Press(apel_id, 3001, REGU_D, at),  # Budi twice
               Press(apel_id, 9999, REGU_D, at),  # not registered
               Press(apel_id, 3003, REGU_D, at),  # Agus: another regu
               Press(apel_id, 3002, REGU_D, late),  # Andi: late
               Press(apel_id + 99, 3001, REGU_D, at)]  # an apel that does not exist
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
    db.call(lambda s: pledge_many(s, [Press(apel_id, 3001, REGU_D, at)]))

    def stale_batch(s):
        # A batch that read "not yet pledged" before the other commit: the insert is skipped.
        from bot.apel import pledging
        rows = [{"apel_id": apel_id, "employee_id": s.exec(select(Pledge.employee_id)).one(),
                 "telegram_user_id": 3001, "chat_id": -1, "pledged_at": at, "late": False,
                 "after_deadline": False, "expected": True}]
        return pledging._insert_new_pledges(s, rows)

    assert db.call(stale_batch) == {}
    assert len(db.call(lambda s: s.exec(select(Pledge)).all())) == 1


def _open_cilacap(db, settings):
    """Lapas Kembangkuning's (WIB) apel pagi of the same day, and the group it was posted to."""
    def run(s):
        plan = plan_apel(settings.unit("lapas-cilacap"), date(2024, 11, 26), "pagi",
                         settings.calendar)
        apel = open_apel(s, settings, plan, plan.scheduled_at)
        return apel.id, s.exec(select(Briefing.chat_id).where(
            Briefing.apel_id == apel.id, col(Briefing.regu_id).is_not(None))).one()

    return db.call(run)


def test_a_press_counts_only_where_the_briefing_was_posted(db, settings):
    palu = setup(db, settings)
    cilacap, cilacap_group = _open_cilacap(db, settings)
    at = datetime(2024, 11, 26, 0, 35, tzinfo=UTC)
    regu_a = -1001000000001  # Palu's Regu A: no briefing of this apel there
    presses = [Press(cilacap, 3001, REGU_D, at),  # another unit's apel id, in his own group
               Press(palu, 3001, regu_a, at),  # his unit's apel, pressed in another group
               Press(palu, 3001, 3001, at),  # in his private chat, where nothing was posted
               # where it was posted, but by a guest from another unit: not his apel either
               Press(cilacap, 3002, cilacap_group, at)]
    results = [o.result for o in db.call(lambda s: pledge_many(s, presses))]
    assert results == [PledgeResult.WRONG_CHAT] * 4
    assert db.call(lambda s: s.exec(select(Pledge)).all()) == []
    assert db.call(lambda s: s.exec(select(AuditEntry).where(
        AuditEntry.kind == "pledge.recorded")).all()) == []


def test_a_group_upgraded_to_a_supergroup_keeps_its_buttons(db, settings):
    apel_id = setup(db, settings)
    supergroup = -1009000000004
    db.call(lambda s: move_chat(s, REGU_D, supergroup, datetime(2024, 11, 25, 23, 2, tzinfo=UTC)))
    at = datetime(2024, 11, 25, 23, 5, tzinfo=UTC)
    result = db.call(lambda s: pledge_many(s, [Press(apel_id, 3001, supergroup, at)]))[0]
    assert result.result == PledgeResult.RECORDED


def test_a_batch_of_presses_costs_a_fixed_handful_of_statements(db, settings):
    """Each statement of the batch's transaction is a round trip that, in a burst, waits for
    the GIL behind the event loop: the presses of a batch wait for all of them (issue 17).
    Nine, whatever the batch holds: the apel, the pressers with what they pledged and were
    expected at, the chats briefed, the insert, the apel's counts, the audit head, its entries,
    the head again, the updates handled."""
    apel_id = setup(db, settings)
    at = datetime(2024, 11, 25, 23, 5, tzinfo=UTC)
    presses = [Press(apel_id, 3001, REGU_D, at, inbox_id=1),
               Press(apel_id, 3002, REGU_D, at, inbox_id=2),
               Press(apel_id, 3003, REGU_D, at, inbox_id=3)]
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # noqa: ANN001, ANN002
        if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE, not the batch's
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        db.call(lambda s: pledge_many(s, presses))
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) <= 9, "\n".join(statements)
