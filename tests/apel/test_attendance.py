"""Who stands which apel, by jabatan (config `attendance`), on SQLite and PostgreSQL: the
Kalapas receives the reports and stands no apel; the KPLP pledges at the apel pagi with the
administration staff; both are configurable.

Lapas Palu (WITA), Tuesday 26 November 2024 (a working day): Regu D stands pagi.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from bot.apel.closing import close_apel
from bot.apel.models import ApelExpected
from bot.apel.opening import open_apel
from bot.calendar.duty import Person, expected_people, plan_apel, standing
from bot.delivery import outbox
from bot.delivery.models import OutboxMessage
from bot.org.models import Employee
from bot.platform.config import ConfigError
from bot.platform.config_loading import parse_settings
from tests.calendar.test_duty import _minimal_config
from tests.factories import KALAPAS, KPLP, UNIT_CREW, seed_crew

DAY = date(2024, 11, 26)
SEEDED = datetime(2024, 11, 25, 12, 0, tzinfo=UTC)
OPENS = datetime(2024, 11, 25, 23, 0, tzinfo=UTC)  # 07.00 WITA
DEADLINE = datetime(2024, 11, 25, 23, 30, tzinfo=UTC)


def with_attendance(settings, **attendance):
    return settings.model_copy(update={"attendance": settings.attendance.model_copy(
        update=attendance)})


def run_pagi(db, settings):
    """Open the apel pagi, deliver its briefings, let nobody pledge, close it at the deadline.
    Returns (names expected, the Kalapas' report, chats that were nudged privately)."""
    def work(s):
        seed_crew(s, settings, SEEDED, UNIT_CREW)
        plan = plan_apel(settings.unit("lapas-palu"), DAY, "pagi", settings.calendar)
        apel = open_apel(s, settings, plan, OPENS)
        for row in s.exec(select(OutboxMessage).where(
                OutboxMessage.key.startswith("briefing:"))):  # type: ignore[attr-defined]
            outbox.mark_sent(s, row.id, 1, OPENS)
        close_apel(s, apel, DEADLINE)
        names = sorted(s.exec(select(Employee.name).join(
            ApelExpected, ApelExpected.employee_id == Employee.id).where(
            ApelExpected.apel_id == apel.id)).all())
        report = s.exec(select(OutboxMessage).where(
            OutboxMessage.key == f"report:{apel.id}")).one().payload["text"]
        nudged = set(s.exec(select(OutboxMessage.chat_id).where(
            OutboxMessage.key.startswith("nudge-dm:"))).all())  # type: ignore[attr-defined]
        return names, report, nudged

    return db.call(work)


def test_kalapas_stands_no_apel_and_is_not_nudged(db, settings):
    names, report, nudged = run_pagi(db, settings)
    # Regu D (Hendra, Budi, Sari, Dewi) and the administration staff: Rina and the KPLP.
    assert names == ["Budi Santoso", "Dewi Lestari", "Hendra Gunawan", "Rina Marlina",
                     "Sari Wulandari", "Yusuf Kurniawan"]
    missing = report.split("Belum berikrar", 1)[1]
    assert "Yusuf Kurniawan" in missing and "Ketut Kalapas" not in report
    assert KPLP in nudged and KALAPAS not in nudged


def test_attendance_is_configurable(db, settings):
    names, report, nudged = run_pagi(db, with_attendance(settings, kplp="none",
                                                         kalapas="administration"))
    assert "Ketut Kalapas" in names and "Yusuf Kurniawan" not in names
    assert KALAPAS in nudged and KPLP not in nudged


def test_standing_by_jabatan(settings):
    attendance = settings.attendance
    assert standing(1, "anggota", "Regu D", attendance) == Person(1, "Regu D")
    assert standing(2, "kplp", None, attendance) == Person(2, None)
    assert standing(3, "kalapas", None, attendance) == Person(3, None, stands=False)
    plan = plan_apel(settings.unit("lapas-palu"), DAY, "pagi", settings.calendar)
    people = [standing(1, "anggota", "Regu D", attendance),
              standing(2, "kplp", None, attendance), standing(3, "kalapas", None, attendance)]
    assert [p.id for p in expected_people(plan, people, ())] == [1, 2]


@pytest.mark.parametrize("attendance, key, words", [
    ({"kalapas": "regu"}, "attendance.kalapas", "only anggota and karupam belong to a regu"),
    ({"anggota": "administration"}, "attendance.anggota", "belongs to a regu"),
    ({"kplp": "sometimes"}, "attendance.kplp", "'regu', 'administration' or 'none'"),
    ({"kepala": "none"}, "attendance.kepala", "unknown key"),
])
def test_bad_attendance_names_the_key(attendance, key, words):
    data = _minimal_config("Asia/Jakarta")
    data["attendance"] = attendance
    with pytest.raises(ConfigError) as err:
        parse_settings(data, "config.toml")
    assert f"  - {key}:" in str(err.value) and words in str(err.value), str(err.value)


def test_attendance_knows_every_roster_jabatan(settings):
    from bot.org.roster_rows import ROLES

    assert set(type(settings.attendance).model_fields) == ROLES
