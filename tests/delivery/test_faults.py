"""Delivery under faults: 429 and 5xx storms, lost answers, kicked bots, migrated groups,
duplicate updates and a locked database. Nothing is lost; nothing is sent twice unmarked."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import psycopg
import pytest
from sqlmodel import select

from bot.apel.models import Pledge
from bot.commands.common import EXIT_LEASE_HELD
from bot.delivery import outbox
from bot.delivery.models import OutboxMessage
from bot.org.models import Regu
from bot.org.units import sync_config
from bot.platform.clock import RunningClock
from bot.platform.texts import render
from bot.telegram.pacing import Limits
from bot.telegram.send_outcomes import failure_kind
from fake_telegram.deployment import (
    ZONES,
    BotProcess,
    prepared,
    unit_config,
    wait_until,
)
from fake_telegram.harness import BotUnderTest
from fake_telegram.server import FakeTelegram
from tests.factories import add_employee

pytestmark = pytest.mark.e2e

OPERATOR = 8000001
GROUPS = [-1001000000001, -1001000000002, -1001000000003, -1001000000004]
# Telegram's pace (the fake enforces it), with quick retries and timeouts.
FAST = Limits(retry_base_seconds=0.05, retry_cap_seconds=0.2, send_timeout_seconds=0.5)


@asynccontextmanager
async def running(settings, database, limits: Limits = FAST) -> AsyncIterator[BotUnderTest]:  # noqa: ANN001
    """The bot with the four groups and the operator, on `database`."""
    clock = RunningClock(datetime(2024, 11, 25, 22, 0, tzinfo=UTC))
    telegram = settings.telegram.model_copy(update={"operator_chat_id": OPERATOR})
    settings = settings.model_copy(update={"telegram": telegram})
    database.call(lambda s: sync_config(s, settings, clock.now()))
    server = FakeTelegram()
    await server.start()
    for chat in GROUPS:
        server.add_group(chat, f"Regu {chat}")
    server.add_user(OPERATOR, "Operator")
    server.user_start(OPERATOR)
    bot = BotUnderTest(settings, database, clock, server, limits=limits)
    await bot.start()
    await server.wait_for_message(OPERATOR, "Bot Apel")  # the answer to the operator's /start
    await bot.settle()
    try:
        yield bot
    finally:
        await bot.stop()
        await server.stop()


@pytest.fixture
async def rig(settings, sqlite_db):
    async with running(settings, sqlite_db) as bot:
        yield bot


def queue(bot: BotUnderTest, count: int, chat_ids=GROUPS) -> None:  # noqa: ANN001
    now = bot.clock.now()

    def work(session):  # noqa: ANN001
        for i in range(count):
            chat = chat_ids[i % len(chat_ids)]
            outbox.send_message(session, key=f"t:{i}", chat_id=chat, text=f"pesan {i}", now=now)

    bot.db.call(work)
    bot.runtime.wake_sender()


def delivered_texts(server: FakeTelegram, chat_ids=GROUPS) -> list[str]:  # noqa: ANN001
    return [m.text for chat in chat_ids for m in server.messages(chat)]


async def all_settled(bot: BotUnderTest, timeout: float = 15.0) -> list[OutboxMessage]:
    async def done() -> list[OutboxMessage]:
        while True:
            rows = bot.db.call(lambda s: s.exec(select(OutboxMessage)).all())
            if rows and all(r.state in ("sent", "failed") for r in rows):
                return rows
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(done(), timeout)


async def test_429_storm_waits_and_delivers_each_once(rig):
    rig.server.fail_next("sendMessage", count=15, status=429,
                         description="Too Many Requests: retry after 1", retry_after=1)
    queue(rig, 20)
    # Each 429 to a chat within its own limit pauses every chat for retry_after (1 s).
    rows = [r for r in await all_settled(rig, timeout=40) if r.key.startswith("t:")]
    assert all(r.state == "sent" for r in rows)
    texts = delivered_texts(rig.server)
    assert sorted(texts) == sorted(f"pesan {i}" for i in range(20))  # each exactly once
    assert rig.runtime.sender.stats["429"] == 15


async def test_a_private_chat_gets_its_next_message_once_its_second_is_over(rig):
    """One message a second per private chat: the next one waits that second, not longer."""
    queue(rig, 3, chat_ids=[OPERATOR])
    await all_settled(rig)
    times = [c.time for c in rig.server.calls("sendMessage") if c.ok and c.chat_id == OPERATOR]
    gaps = [later - earlier for earlier, later in zip(times[-3:-1], times[-2:], strict=True)]
    assert all(1.0 <= gap < 1.3 for gap in gaps), gaps


async def test_5xx_storm_retries_with_backoff(rig):
    rig.server.fail_next("sendMessage", count=40, status=502, description="Bad Gateway")
    queue(rig, 12)
    rows = [r for r in await all_settled(rig) if r.key.startswith("t:")]
    assert all(r.state == "sent" for r in rows)
    assert sorted(delivered_texts(rig.server)) == sorted(f"pesan {i}" for i in range(12))
    assert max(r.attempts for r in rows) > 1


async def test_lost_answer_is_resent_once_marked(rig):
    rig.server.drop_response_next("sendMessage", count=1, delay=3.0)
    queue(rig, 1, chat_ids=GROUPS[:1])
    rows = [r for r in await all_settled(rig) if r.key.startswith("t:")]
    assert rows[0].state == "sent" and rows[0].uncertain
    texts = delivered_texts(rig.server, GROUPS[:1])
    assert len(texts) == 2  # the first did arrive; the resend says it may be a repeat
    assert texts[0] == "pesan 0"
    assert texts[1].startswith("[Kiriman ulang") and texts[1].endswith("pesan 0")
    assert rig.runtime.sender.stats["uncertain"] == 1


async def test_kicked_bot_fails_and_operator_hears_once(rig):
    rig.server.kick_bot(GROUPS[0])
    queue(rig, 3, chat_ids=GROUPS[:1])
    rows = await all_settled(rig)
    mine = [r for r in rows if r.key.startswith("t:")]
    assert all(r.state == "failed" and "kicked" in r.last_error for r in mine)
    await rig.server.wait_for(lambda: rig.server.messages(OPERATOR))
    await asyncio.sleep(0.3)
    alerts = [m.text for m in rig.server.messages(OPERATOR) if "failed" in m.text]
    assert len(alerts) == 1 and str(GROUPS[0]) in alerts[0]
    assert "add the bot to the group again" in alerts[0]


ADVICE = {  # a line of each kind of advice in messages/operator_delivery_failed.html.j2
    "too_long": "apel-bot splits long messages itself",
    "chat_not_found": "Telegram does not know this chat",
    "not_member": "add the bot to the group again",
    "no_rights": "may not post in that group",
    "bad_html": "could not read the message's formatting",
    "blocked": "blocked the bot",
    "other": "Check the log",
}


@pytest.mark.parametrize(("reason", "kind"), [
    ("bad request: Message is too long", "too_long"),
    ("bad request: Chat not found", "chat_not_found"),
    ("forbidden: Forbidden: bot was kicked from the supergroup chat", "not_member"),
    ("forbidden: Forbidden: bot is not a member of the group chat", "not_member"),
    ("bad request: Not enough rights to send text messages to the chat", "no_rights"),
    ("bad request: Can't parse entities: unsupported start tag \"x\" at byte offset 3",
     "bad_html"),
    ("forbidden: Forbidden: bot was blocked by the user", "blocked"),
    ("forbidden: Forbidden: user is deactivated", "blocked"),
    ("gave up after 25 attempts: network: Bad Gateway", "other"),
])
def test_each_delivery_failure_gets_its_own_advice(reason, kind):
    text = render("operator_delivery_failed", chat_id=GROUPS[0], reason=reason,
                  kind=failure_kind(reason))
    assert [k for k, line in ADVICE.items() if line in text] == [kind]


def regu_in_group_to_migrate(rig, old: int) -> None:  # noqa: ANN001
    """The first regu moves to a basic group `old` (which the test will upgrade)."""
    rig.server.add_group(old, "Regu lama")

    def regu_to_old(session):  # noqa: ANN001
        regu = session.exec(select(Regu).where(Regu.chat_id == GROUPS[0])).one()
        regu.chat_id = old
        session.add(regu)

    rig.db.call(regu_to_old)


async def test_group_migrated_to_supergroup_is_followed(rig):
    old, new = -4000001, -1004000001
    regu_in_group_to_migrate(rig, old)
    rig.server.migrate_group(old, new)
    queue(rig, 2, chat_ids=[old])
    rows = [r for r in await all_settled(rig) if r.key.startswith("t:")]
    assert all(r.state == "sent" and r.chat_id == new for r in rows)
    assert sorted(m.text for m in rig.server.messages(new)) == ["pesan 0", "pesan 1"]
    moved = rig.db.call(lambda s: s.exec(select(Regu).where(Regu.chat_id == new)).all())
    assert len(moved) == 1


async def test_messages_queued_for_the_old_id_after_the_move_go_straight_to_the_new_one(rig):
    old, new = -4000002, -1004000002
    regu_in_group_to_migrate(rig, old)
    rig.server.migrate_group(old, new)
    queue(rig, 1, chat_ids=[old])  # the first message learns of the move (one 400)
    await all_settled(rig)
    now = rig.clock.now()

    def later_messages_built_from_the_old_id(session):  # noqa: ANN001
        for i in range(3):  # say a tally edit and nudges of an apel opened before the move
            outbox.send_message(session, key=f"later:{i}", chat_id=old, text=f"nanti {i}", now=now)

    rig.db.call(later_messages_built_from_the_old_id)
    rig.runtime.wake_sender()
    rows = [r for r in await all_settled(rig) if r.key.startswith("later:")]
    assert all(r.state == "sent" and r.chat_id == new for r in rows)
    to_old = [c for c in rig.server.requests if c.chat_id == old]
    assert len(to_old) == 1  # only the first message paid the 400


async def test_duplicate_update_records_one_pledge(rig, settings):
    rig.db.call(lambda s: add_employee(s, "lapas-palu", 1, "Budi Santoso", "anggota",
                                       "Regu D", 3001))
    rig.server.add_user(3001, "Budi")
    rig.clock.set(datetime(2024, 11, 25, 23, 0, 30, tzinfo=UTC))
    await rig.reconcile()
    briefing = await rig.server.wait_for_message(-1001000000004, "APEL PAGI")
    update = rig.server.press(3001, -1001000000004, briefing.message_id,
                              briefing.button_data("Saya berikrar"))
    await rig.server.wait_for(lambda: update in rig.server.callback_answers)
    # Telegram delivers the very same update again (same update_id, same press).
    original = next(c for c in reversed(rig.server.calls("getUpdates"))
                    if any(u.get("callback_query", {}).get("id") == update
                           for u in c.response.get("result", [])))
    same = next(u for u in original.response["result"]
                if u.get("callback_query", {}).get("id") == update)
    rig.server.push_update(same)
    await asyncio.sleep(0.5)
    pledges = rig.db.call(lambda s: s.exec(select(Pledge)).all())
    assert len(pledges) == 1


async def test_locked_database_delays_but_loses_no_pledge(rig, tmp_path):
    rig.db.call(lambda s: add_employee(s, "lapas-palu", 1, "Budi Santoso", "anggota",
                                       "Regu D", 3001))
    rig.server.add_user(3001, "Budi")
    rig.clock.set(datetime(2024, 11, 25, 23, 0, 30, tzinfo=UTC))
    await rig.reconcile()
    briefing = await rig.server.wait_for_message(-1001000000004, "APEL PAGI")
    path = rig.db.engine.url.database
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # an operator's long maintenance transaction
    qid = rig.server.press(3001, -1001000000004, briefing.message_id,
                           briefing.button_data("Saya berikrar"))
    await asyncio.sleep(1.0)
    assert qid not in rig.server.callback_answers  # not acknowledged while not recorded
    blocker.execute("COMMIT")
    blocker.close()
    await rig.server.wait_for(lambda: qid in rig.server.callback_answers, timeout=10)
    assert "tercatat" in rig.server.callback_answers[qid]["text"]
    assert len(rig.db.call(lambda s: s.exec(select(Pledge)).all())) == 1


async def test_kill_9_mid_fanout_then_restart(tmp_path):
    """A real `apel-bot run` killed with SIGKILL during a fan-out, then started again: every
    group gets its briefing, at most one unmarked copy, any repeat marked as a resend."""
    units = [unit_config(i, ZONES[i % 3], regu_base=1_500_000_000) for i in range(60)]
    # Regu A stands the apel due now: pagi, siang or malam by each zone's hour of the run.
    regu_chats = {u["regu"][0]["chat_id"] for u in units}
    server = FakeTelegram(enforce_limits=True)
    await server.start()
    config = prepared(tmp_path, units, server)

    def delivered() -> int:
        return sum(1 for c in server.calls("sendMessage") if c.ok and c.chat_id in regu_chats)

    first = BotProcess(config, tmp_path / "bot.log")
    first.start()
    try:
        await wait_until(lambda: delivered() >= 15, timeout=60)
    finally:
        first.kill9()
    at_kill = delivered()
    assert at_kill < len(regu_chats), "the fan-out finished before the kill; nothing tested"
    second = BotProcess(config, tmp_path / "bot.log")
    second.start()
    try:
        await wait_until(lambda: all(server.messages(c) for c in regu_chats), timeout=60)
        await asyncio.sleep(1.0)  # anything extra would arrive now
    finally:
        assert await second.stop() == 0  # SIGTERM: a clean stop
        await server.stop()
    for chat in regu_chats:
        texts = [m.text for m in server.messages(chat)]
        unmarked = [t for t in texts if not t.startswith("[Kiriman ulang")]
        assert 1 <= len(texts) <= 2, (chat, texts)
        assert len(unmarked) <= 1, (chat, texts)
        assert all(re.search(r"APEL (PAGI|SIANG|MALAM)", t) for t in texts), (chat, texts)


def test_a_restart_keeps_following_a_migrated_group(db, settings, caplog):
    """config.toml still names the old group id: the restart reads it as the supergroup."""
    from bot.org.units import move_chat

    now = datetime(2024, 11, 25, 22, 0, tzinfo=UTC)
    old, new = GROUPS[3], -1009990000004
    db.call(lambda s: sync_config(s, settings, now))
    db.call(lambda s: move_chat(s, old, new, now))
    with caplog.at_level("WARNING", logger="bot.org.units"):
        db.call(lambda s: sync_config(s, settings, now))  # what `apel-bot run` does at start
    chats = db.read(lambda s: {r.name: r.chat_id for r in s.exec(select(Regu))})
    assert chats["Regu D"] == new and old not in chats.values()
    assert "units[lapas-palu].regu[Regu D].chat_id: chat -1001000000004 became supergroup " \
           "-1009990000004" in caplog.text


async def test_429_for_one_chat_holds_that_chat_only(rig):
    """One group refused (its own limit, or sends from before a restart): the other groups go
    on at once."""
    rig.server.fail_next("sendMessage", count=1, status=429, chat_id=GROUPS[0],
                         description="Too Many Requests: retry after 2", retry_after=2)
    queue(rig, 1, chat_ids=GROUPS[:1])
    await rig.server.wait_for(lambda: rig.server.count_429 == 1)
    refused_at = next(c.time for c in rig.server.requests if c.status == 429)
    queue_more(rig, GROUPS[1:])
    await all_settled(rig)
    others = [c.time for c in rig.server.calls("sendMessage") if c.ok and c.chat_id in GROUPS[1:]]
    first = next(c.time for c in rig.server.calls("sendMessage") if c.ok and c.chat_id == GROUPS[0])
    assert len(others) == 3 and max(others) < refused_at + 1.0 <= first


async def test_429s_for_two_chats_pause_every_chat(rig):
    """A second group refused while the first still waits: that is the bot's overall limit,
    so every group waits out retry_after instead of adding to the flood."""
    rig.server.fail_next("sendMessage", count=2, status=429,
                         description="Too Many Requests: retry after 1", retry_after=1)
    queue(rig, 1, chat_ids=GROUPS[:1])
    await rig.server.wait_for(lambda: rig.server.count_429 == 1)
    queue_more(rig, GROUPS[1:2], prefix="second")
    await rig.server.wait_for(lambda: rig.server.count_429 == 2)
    refused_at = max(c.time for c in rig.server.requests if c.status == 429)
    queue_more(rig, GROUPS[2:])
    await all_settled(rig)
    others = [c.time for c in rig.server.calls("sendMessage") if c.ok and c.chat_id in GROUPS[2:]]
    assert len(others) == 2 and min(others) >= refused_at + 0.95


def queue_more(bot: BotUnderTest, chat_ids: list[int], prefix: str = "more") -> None:
    now = bot.clock.now()

    def work(session):  # noqa: ANN001
        for i, chat in enumerate(chat_ids):
            outbox.send_message(session, key=f"{prefix}:{i}", chat_id=chat, text=f"lain {i}",
                                now=now)

    bot.db.call(work)
    bot.runtime.wake_sender()


async def test_a_second_run_on_the_same_database_is_refused(tmp_path):
    """Two `apel-bot run` on one database would send every message twice: the second is
    refused, naming the first; once the first stops cleanly, a new one starts at once."""
    units = [unit_config(i, ZONES[0], regu_base=1_600_000_000) for i in range(3)]
    server = FakeTelegram()
    await server.start()
    config = prepared(tmp_path, units, server)
    first = BotProcess(config, tmp_path / "first.log")
    first.start()
    try:
        await wait_until(lambda: server.calls("sendMessage"), timeout=30)
        second = BotProcess(config, tmp_path / "second.log")
        second.start()
        await wait_until(lambda: second.proc.poll() is not None, timeout=30)
        assert second.proc.returncode == EXIT_LEASE_HELD
        said = (tmp_path / "second.log").read_text()
        assert "another `apel-bot run` serves this database" in said
        assert f"pid {first.proc.pid}" in said
    finally:
        assert await first.stop() == 0  # a clean stop gives the lease back
    polls_before = len(server.calls("getUpdates"))
    third = BotProcess(config, tmp_path / "third.log")
    third.start()
    try:
        # It serves: it polls Telegram (a slow machine takes seconds to import, so no fixed wait).
        await wait_until(lambda: len(server.calls("getUpdates")) > polls_before
                         or third.proc.poll() is not None, timeout=60)
        assert third.proc.poll() is None, (tmp_path / "third.log").read_text()[-2000:]
    finally:
        assert await third.stop() == 0
        await server.stop()


async def test_a_stop_during_start_up_is_a_clean_exit(tmp_path):
    """systemd's stop can come while the bot is still importing or migrating: exit 0, not a
    death by SIGTERM (which a service manager counts as a failure)."""
    server = FakeTelegram()
    await server.start()
    config = prepared(tmp_path, [unit_config(0, ZONES[0], regu_base=1_610_000_000)], server)
    try:
        for delay in (0.3, 1.0):
            bot = BotProcess(config, tmp_path / f"stopped-{delay}.log")
            bot.start()
            await asyncio.sleep(delay)
            assert await bot.stop() == 0, (tmp_path / f"stopped-{delay}.log").read_text()[-2000:]
        # Right after the database is ready the event loop is built, and uvloop dropped a signal
        # that came before it listened: the bot ran on (a SIGTERM 1.0-1.1 s after exec here).
        for after_ready in (0.0, 0.05, 0.1, 0.15, 0.2):
            log = tmp_path / f"stopped-ready-{after_ready}.log"
            bot = BotProcess(config, log)
            bot.start()
            await wait_until(lambda log=log: log.exists() and "ready;" in log.read_text(),
                             timeout=30, interval=0.002)
            await asyncio.sleep(after_ready)
            assert await bot.stop(timeout=10) == 0, log.read_text()[-2000:]
    finally:
        await server.stop()


@pytest.mark.postgres
async def test_database_connections_cut_mid_run_are_survived(settings, pg_db):
    """PostgreSQL restarts or a network blip: every connection the bot holds is cut. The bot
    keeps running; what was queued before and after still goes out, each message once."""
    db = pg_db
    async with running(settings, db) as bot:
        queue(bot, 4)
        await all_settled(bot)
        with psycopg.connect(str(db.engine.url.set(drivername="postgresql")),
                             autocommit=True) as admin:
            cut = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]
        assert cut >= 1
        queue_more(bot, GROUPS)
        rows = await all_settled(bot)
        assert all(r.state == "sent" for r in rows)
        texts = delivered_texts(bot.server)
        assert sorted(texts) == sorted([f"pesan {i}" for i in range(4)]
                                       + [f"lain {i}" for i in range(4)])


async def test_a_long_message_keeps_its_parts_in_order_when_one_is_retried(rig):
    """Part 1 of a message too long for one is refused (502): the later parts wait for its
    retry, and a message queued after them still comes after them."""
    rig.server.fail_next("sendMessage", count=1, status=502, description="Bad Gateway",
                         chat_id=GROUPS[0])
    text = "\n".join(f"Baris nomor {i:03d} " + "x" * 40 for i in range(200))  # three parts
    now = rig.clock.now()

    def work(session):  # noqa: ANN001
        outbox.send_message(session, key="long", chat_id=GROUPS[0], text=text, now=now)
        outbox.send_message(session, key="next", chat_id=GROUPS[0], text="pesan berikut", now=now)

    rig.db.call(work)
    rig.runtime.wake_sender()
    rows = [r for r in await all_settled(rig) if r.key.startswith(("long", "next"))]
    assert len(rows) == 4 and all(r.state == "sent" for r in rows)
    assert [c.status for c in rig.server.calls("sendMessage") if c.chat_id == GROUPS[0]][0] == 502
    shown = delivered_texts(rig.server, GROUPS[:1])
    assert [int(n) for t in shown for n in re.findall(r"nomor (\d+)", t)] == list(range(200))
    assert shown[-1] == "pesan berikut"
