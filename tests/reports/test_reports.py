"""Report figures on SQLite and PostgreSQL, against data the test wrote (tests/report_factories)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from bot.apel.classification import STATUSES
from bot.apel.closing import build_report
from bot.calendar.periods import PERIOD, RANGE, TODAY, PeriodSpec, Span
from bot.org.models import Regu, Unit
from bot.reports import many_units, one_unit, per_person, tally
from tests.factories import add_employee
from tests.report_factories import add_apel, add_pledge, seed_palu

NOW = datetime(2024, 11, 26, 23, 10, tzinfo=UTC)  # 07.10 WITA on the 27th: pagi open


def day_span(day: date) -> Span:
    return Span(PeriodSpec(RANGE, day, day), day, day)


def figures(t: tally.Tally) -> tuple:
    """expected, on time, late, leave, missing, pending, not reached (corrected: see below)"""
    assert t.corrected == 0 or t.expected
    return (t.expected, t.on_time, t.late, t.leave, t.missing, t.pending, t.not_reached)


@pytest.fixture
def palu(db, settings):
    seeded = db.call(lambda s: seed_palu(s, settings, NOW))
    unit = db.call(lambda s: s.exec(select(Unit).where(Unit.code == "lapas-palu")).one())
    return seeded, unit


def test_one_day_per_apel_and_regu(db, palu):
    _, unit = palu
    rekap = db.call(lambda s: one_unit.unit_rekap(s, unit, day_span(date(2024, 11, 26))))
    assert rekap.apel_count == 2 and [(a.slot, a.state) for a in rekap.missed] == [
        ("malam", "missed")]
    pagi, siang = rekap.apels
    assert pagi.apel.slot == "pagi" and siang.apel.slot == "siang"
    groups = {name: figures(t) for name, t in pagi.groups}
    # expected, on time, late, leave, missing, pending, not reached
    assert groups == {"Regu D": (7, 1, 2, 1, 3, 0, 0), "Staf administrasi": (1, 1, 0, 0, 0, 0, 0)}
    assert [name for name, _ in pagi.groups] == ["Regu D", "Staf administrasi"]  # admin last
    assert figures(siang.total) == (1, 0, 0, 0, 0, 0, 1)  # briefing failed: not reached
    assert figures(rekap.total) == (9, 2, 2, 1, 3, 0, 1)
    assert rekap.total.due == 8 and rekap.total.pledged == 4
    assert {s: figures(t) for s, t in rekap.by_slot} == {
        "pagi": (8, 2, 2, 1, 3, 0, 0), "siang": (1, 0, 0, 0, 0, 0, 1)}


def test_open_apel_counts_pending_not_missing(db, palu):
    _, unit = palu
    rekap = db.call(lambda s: one_unit.unit_rekap(s, unit, day_span(date(2024, 11, 27))))
    (line,) = rekap.apels
    assert line.apel.state == "open"
    assert figures(line.total) == (7, 1, 0, 1, 0, 5, 0)


def test_range_groups_by_slot_and_regu(db, palu):
    _, unit = palu
    span = Span(PeriodSpec(RANGE, date(2024, 11, 1), date(2024, 11, 30)), date(2024, 11, 1),
                date(2024, 11, 30))
    rekap = db.call(lambda s: one_unit.unit_rekap(s, unit, span))
    assert rekap.apels == [] and rekap.apel_count == 3 and len(rekap.missed) == 1
    assert {n: figures(t) for n, t in rekap.by_regu} == {
        "Regu A": (1, 0, 0, 0, 0, 0, 1),
        "Regu D": (14, 2, 2, 2, 3, 5, 0),
        "Staf administrasi": (1, 1, 0, 0, 0, 0, 0)}
    assert [n for n, _ in rekap.by_regu][-1] == "Staf administrasi"
    assert figures(rekap.total) == (16, 3, 2, 2, 3, 5, 1)


def test_figures_agree_with_the_apel_report(db, palu):
    """/rekap and the report sent at close come from the same rules (apel.closing.build_report)."""
    seeded, unit = palu
    for apel in (seeded.pagi, seeded.siang, seeded.besok):
        rows = db.call(lambda s, a=apel: tally.tallies(
            s, [unit.id], a.duty_date, a.duty_date, ("apel", "regu")))
        report = db.call(lambda s, a=apel: build_report(
            s, s.get(type(a), a.id), at=NOW, reached_at=min(NOW, a.deadline_at)))
        for group in report.groups:
            t = rows[(apel.id, group.regu_id)]
            assert t.expected == group.expected
            assert t.on_time == group.on_time and t.late == len(group.late)
            assert t.leave == len(group.excused)
            assert t.missing + t.pending == len(group.missing)
            assert t.not_reached == (0 if group.reached else group.expected - t.pledged - t.leave)


def test_person_record(db, palu):
    seeded, unit = palu
    span = Span(PeriodSpec(PERIOD), date(2024, 9, 1), date(2024, 12, 31), "Pilkada 2024")
    hendra = seeded.people["Hendra"]
    rec = db.call(lambda s: per_person.person_record(s, hendra, unit, span))
    assert figures(rec.total) == (2, 0, 1, 0, 0, 1, 0)
    assert [(n.duty_date, n.slot, n.status, n.after_deadline) for n in rec.notable] == [
        (date(2024, 11, 26), "pagi", "late", True), (date(2024, 11, 27), "pagi", "pending", False)]
    assert rec.regu_name == "Regu D" and rec.not_scheduled_pledges == 0
    eko = db.call(lambda s: per_person.person_record(s, seeded.people["Eko"], unit, span))
    assert figures(eko.total) == (2, 0, 0, 2, 0, 0, 0)
    assert [(lv.start, lv.end) for lv in eko.leaves] == [(date(2024, 11, 25), date(2024, 11, 27))]


def test_regu_person_by_person(db, palu):
    seeded, unit = palu
    regu_d = db.call(lambda s: s.get(Regu, seeded.people["Budi"].regu_id))
    span = Span(PeriodSpec(RANGE, date(2024, 11, 26), date(2024, 11, 27)), date(2024, 11, 26),
                date(2024, 11, 27))
    rekap = db.call(lambda s: per_person.regu_rekap(s, regu_d, unit, span))
    people = {p.name: figures(p.total) for p in rekap.people}
    assert people["Budi Santoso"] == (2, 2, 0, 0, 0, 0, 0)
    assert people["Sari Wulandari"] == (2, 0, 0, 0, 1, 1, 0)
    assert people["Eko Saputra"] == (2, 0, 0, 2, 0, 0, 0)
    assert "Rina Marlina" not in people and "Agus Salim" not in people
    assert [p.name for p in rekap.people] == sorted(people)


def test_rollup_per_unit_and_per_kanwil(db, palu, settings):
    seeded, palu_unit = palu

    def more(s):
        cilacap = s.exec(select(Unit).where(Unit.code == "lapas-cilacap")).one()
        people = [add_employee(s, "lapas-cilacap", 100 + i, f"Pegawai {i}", "anggota", "Regu I")
                  for i in range(4)]
        apel = add_apel(s, settings, "lapas-cilacap", date(2024, 11, 26), "pagi", people)
        for p in people[:3]:
            add_pledge(s, apel, p, 1)
        return cilacap

    cilacap = db.call(more)
    units = [palu_unit, cilacap]
    span = day_span(date(2024, 11, 26))
    spans = {u.id: span for u in units}
    roll = db.call(lambda s: many_units.rollup(s, units, spans, span, by_kanwil=True))
    lines = {line.name: (figures(line.total), line.missed, line.apel_count) for line in roll.lines}
    assert lines == {"Kanwil Jawa Tengah": ((4, 3, 0, 0, 1, 0, 0), 0, 1),
                     "Kanwil Sulawesi Tengah": ((9, 2, 2, 1, 3, 0, 1), 1, 2)}
    assert figures(roll.total) == (13, 5, 2, 1, 4, 0, 1) and roll.missed == 1
    # worst first: Sulawesi Tengah pledged 4 of 8 due, Jawa Tengah 3 of 4
    assert [line.name for line in roll.lines] == ["Kanwil Sulawesi Tengah", "Kanwil Jawa Tengah"]
    per_unit = db.call(lambda s: many_units.rollup(s, [palu_unit], spans, span, by_kanwil=False))
    assert per_unit.kanwil == "Kanwil Sulawesi Tengah"
    assert [line.key_unit_id for line in per_unit.lines] == [palu_unit.id]


def test_daily_series_and_detail_rows(db, palu):
    seeded, unit = palu
    span = Span(PeriodSpec(RANGE, date(2024, 11, 25), date(2024, 11, 27)), date(2024, 11, 25),
                date(2024, 11, 27))
    series = db.call(lambda s: one_unit.daily_series(s, unit, span))
    by_name = {name: {d: (t.on_time, t.late, t.missing, t.pledged, t.due)
                      for d, t in points.items()} for name, points in series.series}
    # on time and late told apart; the 27th is open (pending, not missing)
    assert by_name["Regu D"] == {date(2024, 11, 26): (1, 2, 3, 3, 6),
                                 date(2024, 11, 27): (1, 0, 0, 1, 6)}
    assert [name for name, _ in series.series][-1] == "Staf administrasi"
    # The base of the reports' percentages: Regu A, never reached on the 26th, stays in it.
    siang = db.call(lambda s: one_unit.unit_rekap(s, unit, day_span(date(2024, 11, 26)))).apels[1]
    assert by_name["Regu A"][date(2024, 11, 26)][3:] == (siang.total.pledged, siang.total.due)
    assert by_name["Regu A"][date(2024, 11, 26)][3:] == (0, 1)
    assert series.missed_days == [date(2024, 11, 26)] and series.missed_apel == 1
    rows = db.call(lambda s: one_unit.detail_rows(s, unit, span))
    assert len(rows) == 16
    first = rows[0]
    assert first[:2] == (date(2024, 11, 26), "pagi") and first[4] == "Andi Pratama"
    statuses = [(r[4], r[5]) for r in rows[:8]]
    assert ("Dewi Lestari", "missing") in statuses and ("Eko Saputra", "leave") in statuses
    assert rows[7][4] == "Rina Marlina"  # administration after the regu


def test_last_apel(db, palu):
    seeded, unit = palu
    assert db.call(lambda s: one_unit.last_apel(s, unit, NOW)).id == seeded.besok.id
    earlier = datetime(2024, 11, 26, 12, 0, tzinfo=UTC)  # 20.00 WITA on the 26th
    assert db.call(lambda s: one_unit.last_apel(s, unit, earlier)).id == seeded.malam.id


def test_tally_helpers():
    t = tally.Tally()
    t.count("on_time", 3)
    t.count("leave", 1)
    assert (t.expected, t.due, t.pledged, t.ratio) == (4, 3, 3, 1.0)
    assert tally.Tally().ratio is None
    assert TODAY == "today"


def test_a_correction_excuses_a_missing_person(db, palu):
    """/koreksi: the KPLP excuses Dewi afterwards; every figure reads the correction."""
    from bot.apel.models import Correction

    seeded, unit = palu
    dewi = seeded.people["Dewi"]
    db.call(lambda s: s.add(Correction(apel_id=seeded.pagi.id, employee_id=dewi.id,
                                       reason_code="sakit", reason="Sakit", by=1, at=NOW)))
    rekap = db.call(lambda s: one_unit.unit_rekap(s, unit, day_span(date(2024, 11, 26))))
    regu_d = dict(rekap.apels[0].groups)["Regu D"]
    assert (regu_d.missing, regu_d.corrected, regu_d.due, regu_d.pledged) == (2, 1, 5, 3)
    rows = db.call(lambda s: one_unit.detail_rows(s, unit, day_span(date(2024, 11, 26))))
    assert [(r[5], r[8]) for r in rows if r[4] == "Dewi Lestari"] == [("corrected", "Sakit")]
    report = db.call(lambda s: build_report(s, s.get(type(seeded.pagi), seeded.pagi.id), at=NOW,
                                            reached_at=seeded.pagi.deadline_at))
    group = next(g for g in report.groups if g.name == "Regu D")
    assert len(group.corrected) == regu_d.corrected and len(group.missing) == regu_d.missing


def test_aggregates_agree_with_the_rows(db, palu):
    """The grouped counts and the one-row-per-person export classify everyone the same way."""
    _, unit = palu
    span = Span(PeriodSpec(RANGE, date(2024, 11, 1), date(2024, 11, 30)), date(2024, 11, 1),
                date(2024, 11, 30))
    rows = db.call(lambda s: one_unit.detail_rows(s, unit, span))
    by_row: dict[str, int] = {}
    for r in rows:
        by_row[r[5]] = by_row.get(r[5], 0) + 1
    t = tally.total(db.call(lambda s: tally.tallies(
        s, [unit.id], span.start, span.end, ("unit",))).values())
    assert {k: v for k, v in by_row.items()} == {
        s: getattr(t, s) for s in STATUSES if getattr(t, s)}
    assert len(rows) == t.expected
