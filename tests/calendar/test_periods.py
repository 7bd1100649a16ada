"""Periods typed after /rekap, /status, ..., their button tokens, and unit-local resolution."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.calendar.periods import (
    MONTH,
    PERIOD,
    RANGE,
    SPEC_PERIOD,
    SPEC_TODAY,
    TODAY,
    WEEK,
    YESTERDAY,
    PeriodError,
    PeriodSpec,
    parse_period,
    resolve,
    spec_from_token,
    split_dates,
    split_period,
)

PILKADA = ("Pilkada 2024", date(2024, 9, 1), date(2024, 12, 31))


@pytest.mark.parametrize(("text", "kind"), [
    ("", TODAY), ("hari ini", TODAY), ("  Hari   Ini ", TODAY), ("kemarin", YESTERDAY),
    ("minggu ini", WEEK), ("pekan ini", WEEK), ("BULAN INI", MONTH), ("periode", PERIOD)])
def test_words(text, kind):
    assert parse_period(text).kind == kind


RANGES = [
    "01-11-2024 s.d. 30-11-2024", "1-11-2024 s.d 30-11-2024", "01/11/2024 sd 30/11/2024",
    "01-11-2024 s/d 30-11-2024", "01-11-2024 sampai 30-11-2024", "01-11-2024 - 30-11-2024",
    "01.11.2024 hingga 30.11.2024"]


@pytest.mark.parametrize("text", RANGES)
def test_ranges(text):
    assert parse_period(text) == PeriodSpec(RANGE, date(2024, 11, 1), date(2024, 11, 30))


@pytest.mark.parametrize("text", RANGES)
def test_unit_commands_read_ranges_with_the_same_grammar(text):
    before, words, after = split_dates(f"Budi Santoso {text} sakit")
    assert (before, after) == ("Budi Santoso", "sakit")
    assert words.resolve(date(2024, 11, 26)) == (date(2024, 11, 1), date(2024, 11, 30))


def test_single_date_and_errors():
    assert parse_period("25-11-2024") == PeriodSpec(RANGE, date(2024, 11, 25), date(2024, 11, 25))
    for text, reason in [("besok lusa", "unknown"), ("31-02-2024", "bad_date"),
                         ("30-11-2024 s.d. 01-11-2024", "reversed"),
                         ("01-01-2020 s.d. 01-01-2024", "too_long"), ("2024-11-25", "unknown")]:
        with pytest.raises(PeriodError) as err:
            parse_period(text)
        assert err.value.reason == reason


def test_split_period_from_free_text():
    assert split_period("Budi Santoso minggu ini", SPEC_PERIOD) == (
        "Budi Santoso", PeriodSpec(WEEK))
    assert split_period("Budi", SPEC_PERIOD) == ("Budi", SPEC_PERIOD)
    assert split_period("198507252009121001 01-11-2024 s.d. 30-11-2024", SPEC_PERIOD) == (
        "198507252009121001", PeriodSpec(RANGE, date(2024, 11, 1), date(2024, 11, 30)))
    assert split_period("Regu A   hari ini", SPEC_PERIOD) == ("Regu A", SPEC_TODAY)
    assert split_period("Sari Periode", SPEC_TODAY) == ("Sari", SPEC_PERIOD)
    assert split_period("", SPEC_PERIOD) == ("", SPEC_PERIOD)


def test_tokens_round_trip_and_reject_junk():
    for spec in [PeriodSpec(k) for k in (TODAY, YESTERDAY, WEEK, MONTH, PERIOD)] + [
            PeriodSpec(RANGE, date(2024, 11, 1), date(2024, 11, 30))]:
        assert spec_from_token(spec.token) == spec
    for junk in ("", "x", "2024110120241", "2024113020241101", "20241301202412011",
                 "20240101202601011", None, "h;DROP"):
        assert spec_from_token(junk) is None


def test_today_is_the_units_own_day():
    # 16.30 UTC on the 25th: already the 26th in Palu (WITA), still the 25th in Cilacap (WIB).
    now = datetime(2024, 11, 25, 16, 30, tzinfo=UTC)
    palu = resolve(SPEC_TODAY, "Asia/Makassar", now, PILKADA)
    cilacap = resolve(SPEC_TODAY, "Asia/Jakarta", now, PILKADA)
    assert (palu.start, palu.end) == (date(2024, 11, 26), date(2024, 11, 26))
    assert (cilacap.start, cilacap.end) == (date(2024, 11, 25), date(2024, 11, 25))
    week = resolve(PeriodSpec(WEEK), "Asia/Makassar", now, PILKADA)  # Tuesday the 26th
    assert (week.start, week.end) == (date(2024, 11, 25), date(2024, 11, 26))
    month = resolve(PeriodSpec(MONTH), "Asia/Jayapura", now, PILKADA)
    assert (month.start, month.end, month.days) == (date(2024, 11, 1), date(2024, 11, 26), 26)
    yesterday = resolve(PeriodSpec(YESTERDAY), "Asia/Jakarta", now, PILKADA)
    assert yesterday.single_day and yesterday.start == date(2024, 11, 24)
    period = resolve(SPEC_PERIOD, "Asia/Jakarta", now, PILKADA)
    assert (period.start, period.end, period.period_name) == (*PILKADA[1:], "Pilkada 2024")
