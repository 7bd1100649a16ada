"""What an operator relies on: /healthz and /metrics, JSON logs without library chatter, exit
codes a supervisor can act on, a start-up that waits for Telegram, SIGHUP."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.commands.common import EXIT_CONFIG, EXIT_DATABASE, EXIT_LEASE_HELD, EXIT_RELOAD
from bot.delivery.health import OutboxState
from bot.platform.clock import FakeClock
from bot.platform.config import ConfigError
from bot.platform.logging_setup import JsonFormatter, setup_logging
from bot.telegram.ops_server import OUTBOX_STUCK_S, SCHEDULER_STALE_S, OpsServer, Probes, health
from fake_telegram.deployment import (
    ROOT,
    TOKEN,
    ZONES,
    BotProcess,
    add_chats,
    cli,
    free_port,
    prepared,
    unit_config,
    wait_until,
    write_config,
)
from fake_telegram.server import FakeTelegram
from tests.factories import APEL_CREW, running_bot, seed_crew, utc

T = datetime(2024, 11, 26, 0, 0, tzinfo=UTC)
SECRET = "7234567890:AAHk3xAbCdEfGhIjKlMnOpQrStUvWxYz012"  # noqa: S105



# --- /healthz --------------------------------------------------------------------------------


def probes(*, role: str = "leader", tick_age_s: float | None = 5.0) -> Probes:
    clock = FakeClock(T)
    tick = T - timedelta(seconds=tick_age_s) if tick_age_s is not None else None
    return Probes(db=None, clock=clock, started_at=T - timedelta(hours=1),  # type: ignore[arg-type]
                  role=lambda: role, last_tick_at=lambda: tick,
                  telegram_last_success_at=lambda: T - timedelta(seconds=2))


async def test_a_port_held_by_another_program_is_a_configuration_error() -> None:
    """Exit 2 (fix config.toml), not a traceback and exit 1 that a supervisor restarts forever."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        with pytest.raises(ConfigError, match=rf"http.listen: cannot listen on 127.0.0.1:{port}"):
            await OpsServer(probes(), f"127.0.0.1:{port}").start()
    finally:
        holder.close()


@pytest.mark.parametrize(("parts", "outbox", "problem"), [
    ({}, OutboxState(3, 1.0), None),
    ({}, None, "database unreachable"),
    ({"role": "lost"}, OutboxState(0, None), "leadership lost"),
    ({"role": "standby", "tick_age_s": None}, OutboxState(9, 900.0), None),  # not its job
    ({"tick_age_s": SCHEDULER_STALE_S + 1}, OutboxState(0, None), "scheduler silent"),
    ({"tick_age_s": None}, OutboxState(0, None), "scheduler silent"),  # never ticked in an hour
    ({}, OutboxState(40, OUTBOX_STUCK_S + 1), "outbox not draining"),
])
def test_health_names_each_problem(parts, outbox, problem):
    healthy, body = health(probes(**parts), outbox)
    assert healthy is (problem is None)
    assert body["problems"] == ([problem] if problem else [])
    assert body["status"] == ("ok" if healthy else "unhealthy")
    json.dumps(body)  # a JSON document as it is


def metric(text: str, name: str, labels: str = "") -> float:
    for line in text.splitlines():
        if line.startswith(f"{name}{labels} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.split()[-1])
    return 0.0


async def test_healthz_and_metrics_move_when_a_briefing_is_sent(sqlite_db, settings):
    port = free_port()
    settings = settings.model_copy(update={"http": settings.http.model_copy(
        update={"listen": f"127.0.0.1:{port}"})})
    clock = FakeClock(utc(22, 0))
    sqlite_db.call(lambda s: seed_crew(s, settings, clock.now(), APEL_CREW))
    base = f"http://127.0.0.1:{port}"
    async with running_bot(settings, sqlite_db, clock, [(2001, "Hendra")]) as bot, \
            aiohttp.ClientSession() as http:
        async with http.get(f"{base}/metrics") as resp:
            before = await resp.text()
        clock.set(utc(23, 0, 30))  # apel pagi opens at 07.00 WITA
        await bot.reconcile()
        async with http.get(f"{base}/healthz") as resp:
            assert resp.status == 200
            doc = await resp.json()
        async with http.get(f"{base}/metrics") as resp:
            after = await resp.text()
    assert doc["status"] == "ok" and doc["database"]["reachable"]
    assert doc["leadership"]["role"] == "leader"
    assert doc["outbox"]["depth"] == 0 and doc["telegram"]["last_success_at"]
    sent = 'apel_messages_sent_total{kind="briefing"}'
    assert metric(after, sent) >= metric(before, sent) + 2  # Regu D and the administration
    assert metric(after, "apel_apel_opened_total") >= metric(before, "apel_apel_opened_total") + 1
    assert "apel_outbox_depth 0.0" in after


# --- logs --------------------------------------------------------------------------------------


def test_json_logs_are_one_redacted_object_a_line():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("calling https://api.telegram.org/bot%s/getMe", SECRET)
        try:
            raise RuntimeError(f"token {SECRET}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["level"] for e in entries] == ["WARNING", "ERROR"]
    assert "getMe" in entries[0]["message"] and "Traceback" in entries[1]["exception"]
    assert SECRET not in stream.getvalue()


def test_library_chatter_stays_below_info():
    setup_logging(logging.INFO)
    for name in ("apscheduler.scheduler", "alembic.runtime.migration", "httpx"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name


def test_db_upgrade_prints_no_alembic_lines(tmp_path):
    config = tmp_path / "config.toml"
    write_config(config, [unit_config(1, ZONES[0], regu_base=1_700_000_000)],
                 f"sqlite:///{tmp_path / 'apel.db'}", "http://127.0.0.1:9/bot")
    done = subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade", "--config",  # noqa: S603
                           str(config)], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "alembic" not in done.stderr.lower(), done.stderr


# --- exit codes and start-up -------------------------------------------------------------------


def run_once(config, *extra: str) -> subprocess.CompletedProcess:  # noqa: ANN001
    env = {"APEL_BOT_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "bot.cli", *extra, "run", "--config",  # noqa: S603
                           str(config)], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=60)


def test_a_config_error_exits_2_naming_the_key(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[telegram]\ntally_edit_seconds = "often"\n')
    done = run_once(config)
    assert done.returncode == EXIT_CONFIG
    assert "tally_edit_seconds" in done.stderr and "Traceback" not in done.stderr


def test_an_unreachable_database_exits_4(tmp_path):
    config = tmp_path / "config.toml"
    write_config(config, [unit_config(1, ZONES[0], regu_base=1_700_000_100)],
                 "postgresql://postgres@127.0.0.1:9/nowhere", "http://127.0.0.1:9/bot")
    done = run_once(config)
    assert done.returncode == EXIT_DATABASE, done.stderr
    assert "database unreachable" in done.stderr and "Traceback" not in done.stderr


async def test_telegram_down_at_start_up_is_waited_for_then_served(tmp_path):
    """Started while nothing answers on the Bot API port: the bot keeps trying, and once the
    server comes up it posts the apel that is due."""
    units = [unit_config(i, ZONES[0], regu_base=1_700_000_200) for i in range(2)]
    port = free_port()
    config = tmp_path / "config.toml"
    write_config(config, units, f"sqlite:///{tmp_path / 'apel.db'}",
                 f"http://127.0.0.1:{port}/bot")
    cli("db", "upgrade", "--config", str(config))
    bot = BotProcess(config, tmp_path / "bot.log")
    bot.start()
    server = FakeTelegram()
    try:
        await asyncio.sleep(4.0)
        assert bot.proc.poll() is None, (tmp_path / "bot.log").read_text()[-2000:]
        assert "Telegram cannot be reached" in (tmp_path / "bot.log").read_text()
        await server.start(port=port)
        add_chats(server, units)
        regu_a = [u["regu"][0]["chat_id"] for u in units]
        await wait_until(lambda: all(server.messages(c) for c in regu_a), timeout=60)
    finally:
        assert await bot.stop() == 0
        await server.stop()


async def test_sighup_drains_and_exits_for_a_restart(tmp_path):
    units = [unit_config(1, ZONES[1], regu_base=1_700_000_300)]
    server = FakeTelegram()
    await server.start()
    config = prepared(tmp_path, units, server)
    bot = BotProcess(config, tmp_path / "bot.log")
    bot.start()
    try:
        await wait_until(lambda: server.calls("sendMessage"), timeout=30)
        bot.proc.send_signal(signal.SIGHUP)
        await wait_until(lambda: bot.proc.poll() is not None, timeout=30)
        assert bot.proc.returncode == EXIT_RELOAD, (tmp_path / "bot.log").read_text()[-2000:]
    finally:
        if bot.proc.poll() is None:
            bot.proc.kill()
        await server.stop()


async def test_a_second_run_on_the_same_sqlite_file_exits_3_with_http_on(tmp_path):
    """[http] listen set, as a deployment has it: the second `run` is refused by the lease
    (exit 3, naming the first), before it tries the ops port the first one holds."""
    units = [unit_config(1, ZONES[0], regu_base=1_700_000_400)]
    server = FakeTelegram()
    await server.start()
    add_chats(server, units)
    config = tmp_path / "config.toml"
    write_config(config, units, f"sqlite:///{tmp_path / 'apel.db'}", server.base_url,
                 http={"listen": f"127.0.0.1:{free_port()}"})
    cli("db", "upgrade", "--config", str(config))
    first = BotProcess(config, tmp_path / "bot.log")
    first.start()
    try:
        await wait_until(lambda: "health and metrics on" in (tmp_path / "bot.log").read_text(),
                         timeout=30)
        second = await asyncio.to_thread(run_once, config)
        assert second.returncode == EXIT_LEASE_HELD, second.stderr[-2000:]
        assert "another `apel-bot run` serves this database" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        assert await first.stop() == 0
        await server.stop()


async def test_run_exits_2_naming_http_listen_when_the_port_is_taken(tmp_path):
    units = [unit_config(1, ZONES[0], regu_base=1_700_000_500)]
    server = FakeTelegram()
    await server.start()
    add_chats(server, units)
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    config = tmp_path / "config.toml"
    write_config(config, units, f"sqlite:///{tmp_path / 'apel.db'}", server.base_url,
                 http={"listen": f"127.0.0.1:{holder.getsockname()[1]}"})
    try:
        cli("db", "upgrade", "--config", str(config))
        result = await asyncio.to_thread(run_once, config)
        assert result.returncode == EXIT_CONFIG, result.stderr[-2000:]
        assert "http.listen: cannot listen on" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        holder.close()
        await server.stop()
