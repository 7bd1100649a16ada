"""Nothing received is lost: `apel-bot run` killed with SIGKILL in the middle of a burst of
presses, then started again — every press is recorded, each once."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import create_engine, text

from benchmarks.bench_pledges import FIRST_USER, roster
from bot.platform.db import normalise_url
from fake_telegram.deployment import (
    BotProcess,
    add_chats,
    cli,
    database,
    unit_config,
    wait_until,
    write_config,
)
from fake_telegram.server import FakeTelegram

pytestmark = pytest.mark.e2e
PRESSES = 500


def pledges(url: str) -> tuple[int, int]:
    """(pledge rows, distinct people among them)."""
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return tuple(conn.execute(text(
                "SELECT count(*), count(DISTINCT employee_id) FROM pledge")).one())
    finally:
        engine.dispose()


# SQLite here; the same kill -9 in a burst on PostgreSQL is tests/e2e/test_webhook.py's (the
# webhook path), which keeps the suite's time down.
@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_kill_9_in_a_burst_of_presses_loses_none(db_kind, tmp_path):
    unit = unit_config(0, "Asia/Makassar", regu_base=1_100_000_000)
    group = unit["regu"][0]["chat_id"]  # Regu A stands the apel due now
    server = FakeTelegram()
    await server.start()
    add_chats(server, [unit])
    for i in range(PRESSES):
        server.add_user(FIRST_USER + i, f"Petugas{i}")
    with database(db_kind, tmp_path) as url:
        config = tmp_path / "config.toml"
        write_config(config, [unit], url, server.base_url)
        cli("db", "upgrade", "--config", str(config))
        roster(tmp_path / "roster.csv", PRESSES, unit["code"])
        cli("roster", "import", str(tmp_path / "roster.csv"), "--config", str(config))
        bot = BotProcess(config, tmp_path / "bot.log")
        bot.start()
        try:
            await wait_until(lambda: server.messages(group), timeout=60)
            briefing = server.messages(group)[0]
            data = briefing.button_data("Saya berikrar")
            started = time.monotonic()
            for i in range(PRESSES):
                server.press(FIRST_USER + i, group, briefing.message_id, data)
                if i == PRESSES // 3:
                    await wait_until(lambda: server.callback_answers, timeout=30)
                    bot.kill9()  # mid-burst: some stored, some handled, some still at Telegram
                await asyncio.sleep(max(0.0, started + (i + 1) / 1000 - time.monotonic()))
            recorded_at_kill = pledges(url)[0]
            assert recorded_at_kill < PRESSES, "nothing was left to lose at the kill"
            bot = BotProcess(config, tmp_path / "bot.log")
            bot.start()
            # The killed process's claims are released when its lease is taken over: well
            # within the 60 s a claim lasts (the toasts of presses in flight still count).
            await wait_until(lambda: pledges(url)[0] >= PRESSES, timeout=30)
            await asyncio.sleep(1.0)  # a press handled twice would add a row now
        finally:
            if bot.proc and bot.proc.poll() is None:
                assert await bot.stop() == 0
            await server.stop()
        assert pledges(url) == (PRESSES, PRESSES)
