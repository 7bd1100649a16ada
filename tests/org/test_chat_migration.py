"""A regu group upgraded to a supergroup: the posts already made in it follow the new id, so a
press in the supergroup still matches its briefing and tally edits go to the new id."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import select

from bot.apel.models import Briefing
from bot.apel.opening import open_apel
from bot.calendar.duty import plan_apel
from bot.org.models import Regu
from bot.org.units import move_chat, sync_config

OPEN = datetime(2024, 11, 25, 23, 0, 30, tzinfo=UTC)  # 07.00 WITA, 26 Nov: Regu D stands pagi
NEW_ID = -1009990001


def test_briefings_follow_the_group_to_its_new_id(db, settings):
    def seed(s):
        sync_config(s, settings, datetime(2024, 11, 25, 12, 0, tzinfo=UTC))
        plan = plan_apel(settings.unit("lapas-palu"), date(2024, 11, 26), "pagi",
                         settings.calendar)
        open_apel(s, settings, plan, OPEN)
        return s.exec(select(Regu.chat_id).where(Regu.name == "Regu D")).first()

    old_id = db.call(seed)
    db.call(lambda s: move_chat(s, old_id, NEW_ID, OPEN))
    chats = db.call(lambda s: s.exec(select(Briefing.chat_id).join(
        Regu, Regu.id == Briefing.regu_id).where(Regu.name == "Regu D")).all())
    assert chats == [NEW_ID]
