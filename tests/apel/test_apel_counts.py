"""The counts kept per closed apel (bot/apel/counts.py) always equal the live
classification, through everything that changes a closed apel, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.apel import closing, opening, pledging
from bot.apel import counts as apel_counts
from bot.apel.models import Apel, ApelStatusCount, Pledge
from bot.audit.models import AuditEntry
from bot.calendar.duty import plan_apel
from bot.delivery import outbox
from bot.delivery.models import OutboxMessage
from bot.org.access import actor_for
from bot.org.models import Employee
from bot.reports import tally
from bot.unit_admin import corrections, leave
from tests.unit_admin.test_unit_admin import DAY, DEWI, KPLP, REGU_D, _closed_pagi, utc
from tests.unit_admin.test_unit_admin import world as unit_admin_world  # noqa: F401 (a fixture)


@pytest.fixture
def palu(db, request):
    """The Lapas Palu staff of tests/unit_admin/test_unit_admin.py (its `world`), on each db."""
    return request.getfixturevalue("unit_admin_world")


def kept_and_live(db, apel_id: int) -> tuple[dict, dict]:
    """Tallies per (apel, regu): as the reports read them (kept counts when current) and as
    the live classification gives them (per person, which never reads the kept counts)."""
    def read(s):
        unit_id = s.get(Apel, apel_id).unit_id
        kept = tally.tallies(s, [unit_id], DAY, DAY, ("apel", "regu"))
        live: dict[tuple, tally.Tally] = defaultdict(tally.Tally)
        for (a, r, _), t in tally.tallies(s, [unit_id], DAY, DAY,
                                            ("apel", "regu", "employee")).items():
            live[(a, r)].add(t)
        return kept, dict(live)

    return db.read(read)


def is_current(db, apel_id: int) -> bool:
    return db.read(lambda s: s.exec(select(Apel.id).where(
        Apel.id == apel_id, apel_counts.counted())).first() is not None)


def figures(db, apel_id: int) -> tuple:
    kept, live = kept_and_live(db, apel_id)
    assert kept == live
    t = tally.total(kept.values())
    return (t.expected, t.on_time, t.late, t.leave, t.corrected, t.missing)


def race(db, *, held, then, meanwhile) -> None:  # noqa: ANN001
    """A worker's transaction does `held`; while it stays open, `meanwhile` runs in another
    transaction; then the worker does `then` and commits. Any error (a deadlock) fails."""
    started, going = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with db.transaction() as s:
                held(s)
                started.set()
                going.wait(timeout=1.0)  # SQLite: the other waits for our write lock instead
                time.sleep(0.3)  # let the other transaction take its locks first
                then(s)
        except BaseException as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    thread = threading.Thread(target=worker)
    thread.start()
    assert started.wait(timeout=5)
    going.set()
    db.call(meanwhile)
    thread.join(timeout=10)
    assert not errors and not thread.is_alive()


def test_counts_follow_every_change_to_a_closed_apel(palu, settings):
    db = palu
    apel_id = _closed_pagi(db, settings)
    assert is_current(db, apel_id)  # counted when it closed
    assert db.read(lambda s: s.exec(select(ApelStatusCount).where(
        ApelStatusCount.apel_id == apel_id)).all())
    # Regu D: Hendra, Budi (on time), Sari, Dewi; administration: Yusuf (KPLP), Rina. Ketut,
    # the Kalapas, receives the report and stands no apel.
    assert figures(db, apel_id) == (6, 1, 0, 0, 0, 5)

    # Dewi presses after the deadline: late, counted again at once.
    db.call(lambda s: pledging.pledge(s, apel_id=apel_id, telegram_user_id=DEWI,
                                          chat_id=REGU_D, now=utc(1, 0, day=26)))
    assert is_current(db, apel_id) and figures(db, apel_id) == (6, 1, 1, 0, 0, 4)

    # The KPLP excuses Sari: corrected.
    sari = db.read(lambda s: s.exec(select(Employee.id).where(
        Employee.name == "Sari Wulandari")).one())
    out = db.call(lambda s: corrections.record(
        s, actor=actor_for(s, settings, KPLP), apel_id=apel_id, employee_id=sari,
        code="sakit", now=utc(1, 5, day=26)))
    assert "tercatat" in out.toast
    assert is_current(db, apel_id) and figures(db, apel_id) == (6, 1, 1, 0, 1, 3)

    # Leave recorded afterwards over the day: Hendra is on leave, not missing.
    reply = db.call(lambda s: leave.command(
        s, settings, actor=actor_for(s, settings, KPLP), text="Hendra hari ini sakit",
        now=utc(1, 10, day=26)))
    assert reply.template == "cuti_saved"
    assert is_current(db, apel_id) and figures(db, apel_id) == (6, 1, 1, 1, 1, 2)


def test_stale_counts_are_never_read_and_are_caught_up(palu, settings):
    db = palu
    apel_id = _closed_pagi(db, settings)
    before = figures(db, apel_id)
    # A change whose recount did not happen (e.g. a pledge that raced the close): the version
    # moved, so the kept rows are ignored and the reports classify the apel live.
    db.call(lambda s: apel_counts._touch(s, [apel_id]))
    assert not is_current(db, apel_id)
    assert figures(db, apel_id) == before
    assert db.call(apel_counts.recount_stale) == 1
    assert db.call(apel_counts.recount_stale) == 0
    assert is_current(db, apel_id) and figures(db, apel_id) == before


def test_open_apel_is_always_classified_live(palu, settings):
    db = palu
    apel_id = _closed_pagi(db, settings)
    tomorrow = db.call(lambda s: opening.open_apel(
        s, settings, plan_apel(settings.unit("lapas-palu"), DAY + timedelta(days=1), "pagi",
                     settings.calendar), utc(23, 0, day=26)).id)
    assert not is_current(db, tomorrow) and is_current(db, apel_id)
    assert db.call(apel_counts.recount_stale) == 0  # open apel are not counted


def test_a_recount_and_a_change_at_once_wait_for_each_other(palu, settings):
    """PostgreSQL: a housekeeping recount while a late pledge's transaction already bumped the
    apel waits for it (no deadlock), and the counts end current and right."""
    db = palu
    apel_id = _closed_pagi(db, settings)
    before = figures(db, apel_id)
    race(db, held=lambda s: apel_counts._touch(s, [apel_id]),
         then=lambda s: apel_counts.recount(s, [apel_id]),
         meanwhile=lambda s: apel_counts.recount(s, [apel_id]))
    assert is_current(db, apel_id) and figures(db, apel_id) == before


def test_an_apel_closed_with_a_briefing_in_flight_is_counted_once_it_settles(palu, settings):
    """At the close a briefing may still be in flight; if it then turns out delivered before
    the deadline, its group was reached after all. Counted only once that is known."""
    db = palu
    plan = plan_apel(settings.unit("lapas-palu"), DAY, "pagi", settings.calendar)

    def close_with_one_in_flight(s):
        apel = opening.open_apel(s, settings, plan, utc(23, 0))
        briefings = list(s.exec(select(OutboxMessage).where(
            col(OutboxMessage.key).startswith("briefing:"))))
        for b in briefings:
            b.state, b.sent_at = "sent", utc(23, 0)
        briefings[0].state, briefings[0].sent_at = "sending", None
        s.add_all(briefings)
        s.flush()
        closing.close_apel(s, apel, utc(23, 31))
        return apel.id, briefings[0].id

    apel_id, in_flight = db.call(close_with_one_in_flight)
    assert not is_current(db, apel_id)  # read live meanwhile
    assert db.call(apel_counts.recount_stale) == 0
    # The answer arrives: delivered at 07.29, before the deadline.
    db.call(lambda s: outbox.mark_sent(s, in_flight, 77, utc(23, 29)))
    assert db.call(apel_counts.recount_stale) == 1
    kept, live = kept_and_live(db, apel_id)
    assert is_current(db, apel_id) and kept == live
    assert tally.total(kept.values()).not_reached == 0


def test_a_close_and_a_pledge_being_written_do_not_deadlock(palu, settings):
    """PostgreSQL: a pledge row being inserted holds KEY SHARE on its apel (the foreign key);
    the close must not wait on it while the pledge's bump waits on the close."""
    db = palu
    plan = plan_apel(settings.unit("lapas-palu"), DAY, "pagi", settings.calendar)

    def open_delivered(s):
        apel = opening.open_apel(s, settings, plan, utc(23, 0))
        for b in s.exec(select(OutboxMessage).where(
                col(OutboxMessage.key).startswith("briefing:"))):
            b.state, b.sent_at = "sent", utc(23, 0)
            s.add(b)
        return apel.id

    apel_id = db.call(open_delivered)
    dewi = db.read(lambda s: s.exec(select(Employee).where(
        Employee.telegram_user_id == DEWI)).one())
    def insert_pledge(s):
        s.add(Pledge(apel_id=apel_id, employee_id=dewi.id, telegram_user_id=DEWI, chat_id=DEWI,
                     pledged_at=utc(23, 29), late=True, after_deadline=False))
        s.flush()  # KEY SHARE on the apel row, as in pledge_many

    race(db, held=insert_pledge, then=lambda s: apel_counts.changed(s, [apel_id]),
         meanwhile=lambda s: closing.close_apel(s, s.get(Apel, apel_id), utc(23, 31)))
    kept, live = kept_and_live(db, apel_id)
    assert is_current(db, apel_id) and kept == live
    assert tally.total(kept.values()).late == 1


def test_two_closers_at_once_close_an_apel_once(palu, settings):
    """A leader that froze in the middle of closing and woke after another had taken over:
    the second closer waits for the first and finds the apel closed. One report, one entry."""
    db = palu
    plan = plan_apel(settings.unit("lapas-palu"), DAY, "pagi", settings.calendar)
    db.call(lambda s: opening.open_apel(s, settings, plan, utc(23, 0)))
    reports = []

    def close_due(s):
        reports.extend(closing.close_apel(s, apel, utc(23, 31))
                       for apel in closing.apels_past_deadline(s, utc(23, 31), lock=True))

    race(db, held=close_due, then=lambda s: None, meanwhile=close_due)
    closed = db.read(lambda s: s.exec(select(AuditEntry).where(
        AuditEntry.kind == "apel.closed")).all())
    assert len(reports) == 1 and len(closed) == 1
