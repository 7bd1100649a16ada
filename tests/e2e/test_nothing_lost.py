"""Nothing lost, nothing sent twice unmarked, with the real `apel-bot run`: three kill -9 in
one fan-out, and ten cuts of every PostgreSQL connection during a fan-out and a burst of
presses."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from sqlalchemy import create_engine, text

from benchmarks.bench_pledges import FIRST_USER, roster
from bot.platform.db import normalise_url
from fake_telegram.deployment import (
    PG_ADMIN,
    ZONES,
    BotProcess,
    add_chats,
    cli,
    database,
    unit_config,
    wait_until,
    write_config,
)
from fake_telegram.server import FakeTelegram
from tests.e2e.test_inbox_crash import pledges

pytestmark = pytest.mark.e2e


def on_the_wire(url: str) -> int:
    """Rows marked 'sending': requests that may have reached Telegram when the process died."""
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT count(*) FROM outboxmessage WHERE state = 'sending'")).scalar_one()
    finally:
        engine.dispose()


def copies(server: FakeTelegram, groups: set[int]) -> tuple[int, int]:
    """(extra copies beyond one per group, groups with more than one unmarked copy)."""
    extra = doubled = 0
    for group in groups:
        texts = [m.text for m in server.messages(group)]
        extra += len(texts) - 1
        doubled += sum(not t.startswith("[Kiriman ulang") for t in texts) > 1
    return extra, doubled


async def test_three_kills_in_one_fan_out(tmp_path):
    units = [unit_config(i, ZONES[i % 3], regu_base=1_500_000_000) for i in range(300)]
    groups = {u["regu"][0]["chat_id"] for u in units}  # Regu A stands the apel due now
    server = FakeTelegram()
    await server.start()
    add_chats(server, units)
    url = f"sqlite:///{tmp_path / 'apel.db'}"
    config = tmp_path / "config.toml"
    write_config(config, units, url, server.base_url)
    cli("db", "upgrade", "--config", str(config))

    def reached() -> int:
        return sum(1 for g in groups if server.messages(g))

    in_flight_at_kills = 0
    try:
        for kill in (1, 2, 3):
            bot = BotProcess(config, tmp_path / "bot.log")
            bot.start()
            await wait_until(lambda k=kill: reached() >= 60 * k, timeout=90)
            bot.kill9()
            in_flight_at_kills += on_the_wire(url)
        assert reached() < len(groups), "the fan-out finished before the last kill"
        bot = BotProcess(config, tmp_path / "bot.log")
        bot.start()
        await wait_until(lambda: reached() == len(groups), timeout=120)
        await asyncio.sleep(1.0)  # anything extra would arrive now
        assert await bot.stop() == 0
    finally:
        await server.stop()
    extra, doubled = copies(server, groups)
    assert doubled == 0
    assert extra <= in_flight_at_kills


@pytest.mark.postgres
async def test_ten_connection_cuts_during_fan_out_and_presses(tmp_path):
    units = [unit_config(i, ZONES[i % 3], regu_base=1_600_000_000) for i in range(40)]
    groups = {u["regu"][0]["chat_id"] for u in units}
    people = 200
    server = FakeTelegram()
    await server.start()
    add_chats(server, units)
    for i in range(people):
        server.add_user(FIRST_USER + i, f"Petugas{i}")
    with database("postgres", tmp_path) as url:
        config = tmp_path / "config.toml"
        write_config(config, units, url, server.base_url)
        cli("db", "upgrade", "--config", str(config))
        roster(tmp_path / "roster.csv", people, units[0]["code"])
        cli("roster", "import", str(tmp_path / "roster.csv"), "--config", str(config))
        name = url.rsplit("/", 1)[1]
        bot = BotProcess(config, tmp_path / "bot.log")
        bot.start()
        try:
            first = units[0]["regu"][0]["chat_id"]
            await wait_until(lambda: server.messages(first), timeout=60)
            briefing = server.messages(first)[0]
            data = briefing.button_data("Saya berikrar")
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                for cut in range(10):
                    for i in range(cut * people // 10, (cut + 1) * people // 10):
                        server.press(FIRST_USER + i, first, briefing.message_id, data)
                    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
                    await asyncio.sleep(0.4)
            await wait_until(lambda: pledges(url)[0] >= people, timeout=120)
            await wait_until(lambda: all(server.messages(g) for g in groups), timeout=120)
            await asyncio.sleep(1.0)
            assert bot.proc.poll() is None, "the bot died of the cuts"
        finally:
            if bot.proc.poll() is None:
                await bot.stop()
            await server.stop()
        assert pledges(url) == (people, people)
    assert copies(server, groups)[1] == 0  # no group got two unmarked briefings
