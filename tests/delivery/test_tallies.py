"""The tally on each briefing ("x dari y pegawai") with leave on several days and several apel
open at once, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sqlmodel import select

from bot.apel.models import Briefing
from bot.apel.opening import open_apel
from bot.apel.pledging import Press, pledge_many
from bot.apel.tally import refresh_tallies
from bot.calendar.duty import plan_apel
from bot.delivery.models import OutboxMessage
from bot.org.models import Employee
from bot.org.units import sync_config
from tests.factories import add_employee, add_leave

# Wednesday 27 Nov, 07.10 WITA: apel malam of the 26th (Regu B), pagi of the 27th (Regu C).
NOW = datetime(2024, 11, 26, 23, 10, tzinfo=UTC)


def test_each_apel_excuses_the_leave_of_its_own_day(db, settings):
    def seed(s):
        sync_config(s, settings, datetime(2024, 11, 25, 12, 0, tzinfo=UTC))
        budi = add_employee(s, "lapas-palu", 1, "Budi Santoso", "anggota", "Regu B", 3001)
        andi = add_employee(s, "lapas-palu", 2, "Andi Pratama", "anggota", "Regu B", 3002)
        citra = add_employee(s, "lapas-palu", 3, "Citra Dewi", "anggota", "Regu C", 3003)
        joko = add_employee(s, "lapas-palu", 4, "Joko Susilo", "anggota", "Regu C", 3004)
        add_leave(s, andi, date(2024, 11, 26), date(2024, 11, 26))  # off on the 26th only
        add_leave(s, joko, date(2024, 11, 27), date(2024, 11, 27))  # off on the 27th only
        unit = settings.unit("lapas-palu")
        plans = [plan_apel(unit, date(2024, 11, 26), "malam", settings.calendar),
                 plan_apel(unit, date(2024, 11, 27), "pagi", settings.calendar)]
        ids = [open_apel(s, settings, plan, plan.scheduled_at).id for plan in plans]
        for row in s.exec(select(OutboxMessage)).all():  # every briefing delivered
            row.state, row.sent_at, row.message_id = "sent", NOW, row.id
            s.add(row)
        chats = [s.exec(select(Briefing.chat_id).where(Briefing.apel_id == i)).first()
                 for i in ids]  # each pressed in his regu's group, under its briefing
        pledge_many(s, [Press(ids[0], budi.telegram_user_id, chats[0], NOW),
                        Press(ids[1], citra.telegram_user_id, chats[1], NOW)])
        return ids

    db.call(seed)
    assert db.call(lambda s: refresh_tallies(s, NOW, 0)) == 2
    edits = db.call(lambda s: s.exec(select(OutboxMessage.payload).where(
        OutboxMessage.method == "editMessageText")).all())
    tallies = sorted(re.search(r"(\d+) dari (\d+) pegawai", p["text"]).groups() for p in edits)
    assert tallies == [("1", "1"), ("1", "1")]  # each day's leave excuses only on its day


def test_leave_recorded_while_the_apel_is_open_lowers_the_base(db, settings):
    def seed(s):
        sync_config(s, settings, datetime(2024, 11, 25, 12, 0, tzinfo=UTC))
        citra = add_employee(s, "lapas-palu", 3, "Citra Dewi", "anggota", "Regu C", 3003)
        add_employee(s, "lapas-palu", 4, "Joko Susilo", "anggota", "Regu C", 3004)
        plan = plan_apel(settings.unit("lapas-palu"), date(2024, 11, 27), "pagi",
                         settings.calendar)
        apel_id = open_apel(s, settings, plan, plan.scheduled_at).id
        for row in s.exec(select(OutboxMessage)).all():
            row.state, row.sent_at, row.message_id = "sent", NOW, row.id
            s.add(row)
        chat = s.exec(select(Briefing.chat_id).where(Briefing.apel_id == apel_id)).one()
        pledge_many(s, [Press(apel_id, citra.telegram_user_id, chat, NOW)])

    db.call(seed)

    def tallies_shown() -> list[str]:
        edits = db.call(lambda s: s.exec(select(OutboxMessage.payload).where(
            OutboxMessage.method == "editMessageText").order_by(OutboxMessage.id)).all())
        return [re.search(r"\d+ dari \d+", p["text"]).group() for p in edits]

    assert db.call(lambda s: refresh_tallies(s, NOW, 0)) == 1
    assert db.call(lambda s: refresh_tallies(s, NOW, 0)) == 0  # nothing changed
    joko = db.call(lambda s: s.exec(select(Employee).where(Employee.name == "Joko Susilo")).one())
    db.call(lambda s: add_leave(s, joko, date(2024, 11, 27), date(2024, 11, 27)))
    assert db.call(lambda s: refresh_tallies(s, NOW, 0)) == 1
    assert tallies_shown() == ["1 dari 2", "1 dari 1"]
