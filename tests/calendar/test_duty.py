"""The duty calendar: rotation, overrides, working days, leave, time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.calendar.duty import (
    LeaveSpan,
    Person,
    day_plan,
    expected_people,
    is_working_day,
    off_duty_regu,
    plan_apel,
    plans_due,
    regu_on_duty,
)
from bot.platform.config_loading import parse_settings


@pytest.fixture
def palu(settings):
    return settings.unit("lapas-palu")  # WITA, anchor 2024-11-01, A B C D


@pytest.fixture
def cilacap(settings):
    return settings.unit("lapas-cilacap")  # WIB, anchor 2024-01-01, I II III IV


def test_rotation_moves_one_step_a_day(palu):
    # On the anchor date A stands pagi, B siang, C malam, D is off.
    assert [regu_on_duty(palu, date(2024, 11, 1), s) for s in ("pagi", "siang", "malam")] == [
        "Regu A", "Regu B", "Regu C"]
    assert off_duty_regu(palu, date(2024, 11, 1)) == ["Regu D"]
    # Next day every regu moves on: A siang, B malam, C off, D pagi.
    assert [regu_on_duty(palu, date(2024, 11, 2), s) for s in ("pagi", "siang", "malam")] == [
        "Regu D", "Regu A", "Regu B"]


def test_rotation_across_month_and_year_ends(cilacap):
    # Four-day cycle: 2024-01-01 + 4k days repeats the anchor pattern.
    jan1 = [regu_on_duty(cilacap, date(2024, 1, 1), s) for s in ("pagi", "siang", "malam")]
    assert jan1 == ["Regu I", "Regu II", "Regu III"]
    d = date(2024, 1, 1) + timedelta(days=4 * 91)  # 2024-12-30
    assert [regu_on_duty(cilacap, d, s) for s in ("pagi", "siang", "malam")] == jan1
    # Month end to month start is one ordinary step.
    nov30 = regu_on_duty(cilacap, date(2024, 11, 30), "pagi")
    dec1_siang = regu_on_duty(cilacap, date(2024, 12, 1), "siang")
    assert nov30 == dec1_siang
    # Year end: 2024-12-31 -> 2025-01-01 (2024 is a leap year; no gap).
    assert regu_on_duty(cilacap, date(2024, 12, 31), "pagi") == regu_on_duty(
        cilacap, date(2025, 1, 1), "siang")
    # Before the anchor date the cycle runs backwards: the day before I stood pagi, I was off.
    assert off_duty_regu(cilacap, date(2023, 12, 31)) == ["Regu I"]
    assert regu_on_duty(cilacap, date(2023, 12, 31), "pagi") == "Regu II"


def test_override_replaces_one_apel_only(palu):
    assert regu_on_duty(palu, date(2024, 11, 27), "pagi") == "Regu C"  # from config override
    assert regu_on_duty(palu, date(2024, 11, 27), "siang") == "Regu D"
    assert regu_on_duty(palu, date(2024, 11, 28), "pagi") == "Regu B"


def test_local_and_utc_times_per_zone(settings, palu, cilacap):
    p = plan_apel(palu, date(2024, 11, 26), "pagi", settings.calendar)
    assert p.scheduled_local.strftime("%H:%M") == "07:00"
    assert p.scheduled_at == datetime(2024, 11, 25, 23, 0, tzinfo=UTC)  # WITA = UTC+8
    assert p.deadline_at == datetime(2024, 11, 25, 23, 30, tzinfo=UTC)
    assert p.late_after_at == datetime(2024, 11, 25, 23, 15, tzinfo=UTC)
    c = plan_apel(cilacap, date(2024, 11, 26), "siang", settings.calendar)
    assert c.scheduled_at == datetime(2024, 11, 26, 6, 30, tzinfo=UTC)  # 13:30 WIB = UTC+7


def test_wit_zone():
    data = _minimal_config(timezone="Asia/Jayapura")
    s = parse_settings(data)
    p = plan_apel(s.units[0], date(2024, 11, 26), "malam", s.calendar)
    assert p.scheduled_at == datetime(2024, 11, 26, 10, 0, tzinfo=UTC)  # 19:00 WIT = UTC+9


def test_malam_deadline_after_midnight_stays_on_duty_date():
    data = _minimal_config(timezone="Asia/Jakarta")
    data["units"][0]["apel_times"] = {"malam": "23:50"}
    data["units"][0]["deadline_minutes"] = 30
    s = parse_settings(data)
    p = plan_apel(s.units[0], date(2024, 11, 26), "malam", s.calendar)
    assert p.duty_date == date(2024, 11, 26)
    assert p.deadline_at.astimezone(s.units[0].zone).date() == date(2024, 11, 27)
    # and plans_due finds it under the 26th even when asked just after midnight
    found = list(plans_due(s.units[0], s.calendar, s.period, p.scheduled_at,
                           p.deadline_at))
    assert [(f.duty_date, f.slot) for f in found] == [(date(2024, 11, 26), "malam")]


def test_working_days(settings):
    cal = settings.calendar
    assert is_working_day(date(2024, 11, 26), cal)  # Tuesday
    assert not is_working_day(date(2024, 11, 30), cal)  # Saturday
    assert not is_working_day(date(2024, 12, 25), cal)  # Christmas (national holiday)
    assert not is_working_day(date(2024, 12, 26), cal)  # cuti bersama from config
    assert not is_working_day(date(2024, 8, 17), cal)  # Independence Day


def test_administration_only_at_pagi_on_working_days(settings, palu):
    plans = day_plan(palu, date(2024, 11, 26), settings.calendar)
    assert [p.includes_administration for p in plans] == [True, False, False]
    weekend = day_plan(palu, date(2024, 11, 30), settings.calendar)
    assert not any(p.includes_administration for p in weekend)


def test_expected_people_and_leave_boundaries(settings, palu):
    plan = plan_apel(palu, date(2024, 11, 26), "pagi", settings.calendar)  # Regu D + admin
    people = [Person(1, "Regu D"), Person(2, "Regu D"), Person(3, None), Person(4, "Regu A"),
              Person(5, "Regu D")]
    leaves = [LeaveSpan(2, date(2024, 11, 20), date(2024, 11, 26)),  # ends on the day: excused
              LeaveSpan(5, date(2024, 11, 27), date(2024, 11, 30))]  # starts next day: expected
    assert [p.id for p in expected_people(plan, people, leaves)] == [1, 3, 5]
    siang = plan_apel(palu, date(2024, 11, 26), "siang", settings.calendar)  # Regu A only
    assert [p.id for p in expected_people(siang, people, leaves)] == [4]


def test_plans_due_respects_period(settings, palu):
    since = datetime(2024, 12, 31, 0, 0, tzinfo=UTC)
    until = datetime(2025, 1, 1, 23, 0, tzinfo=UTC)
    due = list(plans_due(palu, settings.calendar, settings.period, since, until))
    assert {p.duty_date for p in due} == {date(2024, 12, 31)}  # period ends 2024-12-31


def _minimal_config(timezone: str) -> dict:
    return {
        "period": {"name": "Uji", "start": "2024-01-01", "end": "2024-12-31",
                   "pledge_points": ["a1a", "b2b", "c3c", "d4d"]},
        "units": [{
            "code": "u1", "name": "Lapas Uji", "kind": "Lapas", "kanwil": "Kanwil Uji",
            "timezone": timezone, "kalapas_chat_id": 1,
            "regu": [{"name": n, "chat_id": -i} for i, n in enumerate("ABCD", 1)],
            "rotation": {"anchor_date": "2024-01-01"},
        }],
    }
