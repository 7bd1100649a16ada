"""Webhook mode: Telegram POSTs each update to the bot's HTTP server, which answers 200 only
once the update is stored; a POST without the secret token is refused; a kill -9 in a burst of
presses loses none (Telegram delivers again what was not answered 200)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from benchmarks.bench_pledges import FIRST_USER, roster
from fake_telegram.deployment import (
    BotProcess,
    add_chats,
    cli,
    database,
    free_port,
    unit_config,
    wait_until,
    write_config,
)
from fake_telegram.server import FakeTelegram
from tests.e2e.test_inbox_crash import pledges

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
SECRET = "webhook-secret-for-the-test-0123"  # noqa: S105
PRESSES = 500



async def test_presses_by_webhook_are_all_recorded_across_a_kill(tmp_path, monkeypatch):
    monkeypatch.setenv("APEL_WEBHOOK_SECRET", SECRET)
    unit = unit_config(0, "Asia/Jakarta", regu_base=1_300_000_000)
    group = unit["regu"][0]["chat_id"]
    port = free_port()
    hook = f"http://127.0.0.1:{port}/tg/hook"
    server = FakeTelegram()
    await server.start()
    add_chats(server, [unit])
    for i in range(PRESSES):
        server.add_user(FIRST_USER + i, f"Petugas{i}")
    with database("postgres", tmp_path) as url:
        config = tmp_path / "config.toml"
        write_config(config, [unit], url, server.base_url,
                     telegram={"mode": "webhook", "webhook_url": hook},
                     http={"listen": f"127.0.0.1:{port}"})
        cli("db", "upgrade", "--config", str(config))
        roster(tmp_path / "roster.csv", PRESSES, unit["code"])
        cli("roster", "import", str(tmp_path / "roster.csv"), "--config", str(config))
        bot = BotProcess(config, tmp_path / "bot.log")
        bot.start()
        try:
            await wait_until(lambda: server.messages(group), timeout=60)
            async with aiohttp.ClientSession() as http, http.post(
                    hook, json={"update_id": 1}) as refused:  # no secret: not Telegram
                assert refused.status == 401
            briefing = server.messages(group)[0]
            data = briefing.button_data("Saya berikrar")
            for i in range(PRESSES):
                server.press(FIRST_USER + i, group, briefing.message_id, data)
                if i == PRESSES // 3:
                    await wait_until(lambda: server.callback_answers, timeout=30)
                    bot.kill9()  # Telegram keeps what was not answered 200 and tries again
                await asyncio.sleep(0.002)
            assert pledges(url)[0] < PRESSES
            bot = BotProcess(config, tmp_path / "bot.log")
            bot.start()
            await wait_until(lambda: pledges(url)[0] >= PRESSES, timeout=120)
            await asyncio.sleep(1.0)
        finally:
            if bot.proc and bot.proc.poll() is None:
                assert await bot.stop() == 0
            await server.stop()
        assert pledges(url) == (PRESSES, PRESSES)
        # What the killed process held was taken up at once, not after its 60 s claim.
        assert "which is gone, are handled here now" in (tmp_path / "bot.log").read_text()
        assert server.calls("getUpdates") == []  # webhook mode: nobody polls
        # As many deliveries at once as Telegram allows: each waits a round trip from Indonesia.
        assert {c.params.get("max_connections") for c in server.calls("setWebhook")} == {100}
