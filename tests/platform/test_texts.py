"""Dates and times as a person in the unit reads them: in the unit's own zone, never UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from bot.platform.texts import render, tanggal, tanggal_pendek

# 17.17 UTC on the 29th is 01.17 WITA on the 30th.
LATE_EVENING_UTC = datetime(2026, 11, 29, 17, 17, tzinfo=UTC)


def test_announcement_list_prints_the_local_date_beside_the_local_time():
    item = SimpleNamespace(
        announcement=SimpleNamespace(id=7, created_at=LATE_EVENING_UTC, group_count=3,
                                     withdrawn_at=None),
        zone="Asia/Makassar", sender_name="Satgas", excerpt="Jaga netralitas.", confirmed=1,
        expected=2)
    text = render("announce_list", items=[item])
    assert "30-11-2026 01.17 WITA" in text


def test_an_instant_is_printed_in_the_zone_given():
    assert tanggal_pendek(LATE_EVENING_UTC, "Asia/Jayapura") == "30-11-2026"
    assert tanggal(LATE_EVENING_UTC, "Asia/Jakarta") == "Senin, 30 November 2026"
    assert tanggal_pendek(date(2026, 11, 29)) == "29-11-2026"  # a date is a date


def test_an_instant_without_a_zone_is_refused():
    with pytest.raises(TypeError):
        tanggal_pendek(LATE_EVENING_UTC)
    with pytest.raises(TypeError):
        tanggal(LATE_EVENING_UTC)
