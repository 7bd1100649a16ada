"""Always on, on PostgreSQL: a second `apel-bot run` waits as a standby and takes over when
the leader dies (kill -9) or freezes (SIGSTOP); nothing is sent twice unmarked, no apel is
missed, and a frozen leader that wakes up sends nothing."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from bot.platform.db import IDLE_IN_TRANSACTION_S
from bot.platform.leadership import IDLE_TIMEOUT_S
from fake_telegram.deployment import (
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

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
# Groups due at once: 15 s of fan-out at 30/s, so the standby (whose start-up alone takes up to
# 5 s on a slow machine) is waiting while the leader is still sending.
UNITS = 450


def briefings(server: FakeTelegram, groups: set[int]) -> dict[int, list[str]]:
    return {g: [m.text for m in server.messages(g)] for g in groups}


def assert_each_group_once(server: FakeTelegram, groups: set[int]) -> None:
    for group, texts in briefings(server, groups).items():
        unmarked = [t for t in texts if not t.startswith("[Kiriman ulang")]
        assert 1 <= len(texts) <= 2 and len(unmarked) <= 1, (group, texts)


async def two_processes(tmp_path, server, url):  # noqa: ANN001, ANN201
    units = [unit_config(i, ZONES[i % 3], regu_base=1_200_000_000) for i in range(UNITS)]
    add_chats(server, units)
    config = tmp_path / "config.toml"
    write_config(config, units, url, server.base_url)
    cli("db", "upgrade", "--config", str(config))
    leader = BotProcess(config, tmp_path / "leader.log")
    leader.start()
    await wait_until(lambda: server.calls("sendMessage"), timeout=60)
    standby = BotProcess(config, tmp_path / "standby.log")
    standby.start()
    await wait_until(lambda: "waiting as a standby" in (tmp_path / "standby.log").read_text(),
                     timeout=30)
    return {u["regu"][0]["chat_id"] for u in units}, leader, standby


async def freeze_until_replaced(leader: BotProcess, tmp_path) -> None:  # noqa: ANN001
    leader.proc.send_signal(signal.SIGSTOP)
    # Not "leads this database": the standby's own waiting message says that too.
    await wait_until(lambda: "this process leads this database" in
                     (tmp_path / "standby.log").read_text(), timeout=IDLE_TIMEOUT_S + 25)


async def test_the_standby_takes_over_a_killed_leader(tmp_path):
    server = FakeTelegram()
    await server.start()
    with database("postgres", tmp_path) as url:
        groups, leader, standby = await two_processes(tmp_path, server, url)
        try:
            assert len([g for g in groups if server.messages(g)]) < len(groups)
            leader.kill9()
            killed_at = time.monotonic()
            sent_at_kill = len(server.calls("sendMessage"))
            await wait_until(lambda: len(server.calls("sendMessage")) > sent_at_kill, timeout=10)
            assert time.monotonic() - killed_at < 10
            await wait_until(lambda: all(server.messages(g) for g in groups), timeout=60)
            await asyncio.sleep(1.0)  # anything extra would arrive now
        finally:
            if leader.proc.poll() is None:
                leader.proc.kill()
            assert await standby.stop() == 0
            await server.stop()
    assert_each_group_once(server, groups)


async def test_a_frozen_leader_is_replaced_and_sends_nothing_when_it_wakes(tmp_path):
    server = FakeTelegram()
    await server.start()
    with database("postgres", tmp_path) as url:
        groups, leader, standby = await two_processes(tmp_path, server, url)
        try:
            await freeze_until_replaced(leader, tmp_path)
            # Frozen mid-transaction, the leader holds row locks until PostgreSQL ends it.
            await wait_until(lambda: all(server.messages(g) for g in groups),
                             timeout=IDLE_IN_TRANSACTION_S + 60)
            leader.proc.send_signal(signal.SIGCONT)
            await wait_until(lambda: leader.proc.poll() is not None, timeout=30)
            assert leader.proc.returncode == 1  # leadership lost: it drained and stopped
            await asyncio.sleep(1.0)
        finally:
            if leader.proc.poll() is None:
                leader.proc.kill()
            assert await standby.stop() == 0
            await server.stop()
    assert_each_group_once(server, groups)


async def test_a_frozen_leader_leads_on_when_the_one_that_replaced_it_dies(tmp_path):
    """The leader freezes, the standby takes over and is killed mid-fan-out; the frozen one
    wakes, finds the lock free and leads on: what the dead one left on the wire goes again,
    marked, and every group gets its briefing."""
    server = FakeTelegram()
    await server.start()
    with database("postgres", tmp_path) as url:
        groups, first, second = await two_processes(tmp_path, server, url)
        try:
            await freeze_until_replaced(first, tmp_path)
            sent_at_takeover = len(server.calls("sendMessage"))
            await wait_until(lambda: len(server.calls("sendMessage")) > sent_at_takeover + 30,
                             timeout=IDLE_IN_TRANSACTION_S + 30)
            second.kill9()
            first.proc.send_signal(signal.SIGCONT)
            await wait_until(lambda: "leading on" in (tmp_path / "leader.log").read_text(),
                             timeout=30)
            await wait_until(lambda: all(server.messages(g) for g in groups), timeout=90)
            await asyncio.sleep(1.0)
            assert first.proc.poll() is None  # it leads, and keeps running
        finally:
            if second.proc.poll() is None:
                second.proc.kill()
            assert await first.stop() == 0
            await server.stop()
    assert_each_group_once(server, groups)
