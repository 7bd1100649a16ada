"""Which chats the bot serves, end to end against the fake Bot API server: a group nobody
configured gets no answer (the operator is told once), any private message proves a private
chat works, and an update_id Telegram reuses does not swallow an answer.

Lapas Palu (WITA), Tuesday 26 November 2024, 06.00 WITA; Regu D stands pagi.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from bot.org.models import Employee, Regu, Unit
from bot.platform.clock import FakeClock
from fake_telegram.server import FakeTelegram
from tests.factories import (
    BUDI,
    DEWI,
    KARUPAM_D,
    KPLP,
    UNIT_CREW,
    Member,
    running_bot,
    seed_crew,
    utc,
)

pytestmark = pytest.mark.e2e

REGU_D = -1001000000004
OPERATOR = -1009999999999
FOREIGN = -1007777777777  # a group someone added the bot to; in no config
FOREIGN_BEFORE = -1007777777778  # a group the bot was in before it watched for additions


@pytest.fixture
async def world(settings, db):
    clock = FakeClock(utc(22, 0))
    settings = settings.model_copy(update={"telegram": settings.telegram.model_copy(
        update={"operator_chat_id": OPERATOR})})
    # Hendra, Budi's Karupam, has never sent /start (started=False).
    crew = [m if m.tg != KARUPAM_D else Member(m.n, m.name, m.role, m.regu, m.tg, False)
            for m in UNIT_CREW]
    db.call(lambda s: seed_crew(s, settings, clock.now(), crew))
    people = [(KARUPAM_D, "Hendra"), (KPLP, "Yusuf"), (BUDI, "Budi"), (DEWI, "Dewi")]
    async with running_bot(settings, db, clock, people,
                           started=[BUDI, DEWI, KPLP]) as bot:
        bot.server.add_group(OPERATOR, "apel-bot operator")
        await bot.settle()
        yield bot


async def quiet(world) -> None:  # noqa: ANN001
    """Every update taken and handled, every answer sent."""
    await world.server.wait_for(lambda: not world.server.pending_updates)
    await asyncio.sleep(0.3)
    await world.settle()


def texts(server: FakeTelegram, chat_id: int) -> list[str]:
    return [m.text or "" for m in server.messages(chat_id)]


async def test_a_group_nobody_configured_is_not_served(world):
    server = world.server
    server.add_group(FOREIGN, "Grup Keluarga Budi", added_by=BUDI)
    notice = await server.wait_for_message(OPERATOR, str(FOREIGN))
    assert "Grup Keluarga Budi" in notice.text
    await server.wait_for_message(FOREIGN, "tidak menanggapi perintah")
    # A registered guard asks there for the duty roster, and for help: no answer.
    for text in ("/start", "/jadwal besok", "/bantuan", "/cuti besok sakit"):
        server.send_text(BUDI, FOREIGN, text)
    # Added again after being removed: the operator has heard of this chat already.
    server.kick_bot(FOREIGN, by_user_id=BUDI)
    server.add_group(FOREIGN, "Grup Keluarga Budi", added_by=BUDI)
    await quiet(world)
    assert len(server.messages(FOREIGN)) == 1  # the one polite line, nothing else
    assert len([t for t in texts(server, OPERATOR) if str(FOREIGN) in t]) == 1

    # A group the bot was in already: its first command is refused the same way.
    server.add_group(FOREIGN_BEFORE, "Grup Lama")
    server.send_text(BUDI, FOREIGN_BEFORE, "/jadwal besok")
    await server.wait_for_message(OPERATOR, str(FOREIGN_BEFORE))
    await quiet(world)
    assert len(server.messages(FOREIGN_BEFORE)) == 1

    # Its own regu group is served as before.
    server.send_text(BUDI, REGU_D, "/jadwal besok")
    roster = await server.wait_for_message(REGU_D, "Regu")
    assert "Grup Keluarga Budi" not in roster.text


async def test_any_private_message_proves_the_private_chat(world):
    server = world.server
    # Hendra never sent /start, but writes a private command: he can be written to.
    server.send_text(KARUPAM_D, KARUPAM_D, "/jadwal")
    await server.wait_for_message(KARUPAM_D, "Regu")
    ok = world.db.call(lambda s: s.exec(select(Employee.private_chat_ok).where(
        Employee.telegram_user_id == KARUPAM_D)).one())
    assert ok
    # So his guard's leave request goes to him, not past him to the KPLP.
    server.send_text(BUDI, BUDI, "/cuti besok sakit")
    sent = await server.wait_for_message(BUDI, "telah diteruskan")
    assert "Hendra Gunawan" in sent.text
    await server.wait_for_message(KARUPAM_D, "Permintaan cuti/izin")
    assert not [t for t in texts(server, KPLP) if "Permintaan cuti/izin" in t]


async def test_a_reused_update_id_does_not_swallow_the_answer(world):
    server = world.server
    first = server.send_text(DEWI, DEWI, "/bantuan")
    await server.wait_for_message(DEWI, "Bot Apel Netralitas")
    # The same update delivered twice is answered once ...
    server.push_update(first)
    # ... but Telegram numbers updates afresh for a new token, or after a week without any:
    # a different message arrives under the same update_id, and it gets its own answer.
    later = dict(first["message"], message_id=first["message"]["message_id"] + 50)
    server.push_update({"update_id": first["update_id"], "message": later})
    await server.wait_for(lambda: len(server.messages(DEWI)) == 2)
    await quiet(world)
    assert len(server.messages(DEWI)) == 2


async def test_a_group_upgraded_to_a_supergroup_stays_served(world):
    server = world.server
    supergroup = -1009000000004
    server.migrate_group(REGU_D, supergroup)
    # Telegram's service message in the new supergroup names the group it was.
    server.push_update({"message": {
        "message_id": 1, "date": 0, "from": server.user(BUDI).to_json(),
        "chat": {"id": supergroup, "type": "supergroup", "title": "Regu D"},
        "migrate_from_chat_id": REGU_D}})
    await quiet(world)
    server.send_text(BUDI, supergroup, "/jadwal besok")
    await server.wait_for_message(supergroup, "Regu")
    await quiet(world)
    assert not [t for t in texts(server, OPERATOR) if str(supergroup) in t]
    assert len(server.messages(supergroup)) == 1
    regu = world.db.call(lambda s: s.exec(select(Regu.chat_id).join(Unit).where(
        Regu.name == "Regu D", Unit.code == "lapas-palu")).one())
    assert regu == supergroup
