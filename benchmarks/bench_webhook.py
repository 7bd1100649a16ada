"""Presses by webhook on PostgreSQL, with one or two `apel-bot run` processes.

    python -m benchmarks.bench_webhook [--presses 3000] [--rate 800] [--processes 1|2]
                                       [--rtt-ms 0]

One regu of N registered guards; the apel opens; every guard presses once. The fake Bot API
server POSTs each update to the webhook, through a round-robin forwarder standing in for the
reverse proxy in front of the processes (each stores what it receives in the inbox; every
process handles inbox rows; the leader also sends). Prints presses/s handled, the answer
latency as the fake server measures it, pledges recorded (must equal presses) and the load.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from benchmarks.bench_pledges import FIRST_USER, roster
from benchmarks.machine import load_text, reference_ms
from fake_telegram.deployment import (
    BotProcess,
    add_chats,
    cli,
    database,
    free_port,
    print_figures,
    unit_config,
    wait_until,
    write_config,
)
from fake_telegram.server import FakeTelegram
from tests.e2e.test_inbox_crash import pledges

SECRET = "bench-webhook-secret-0123456789"  # noqa: S105



async def round_robin(backends: list[str]) -> tuple[web.AppRunner, str]:
    """A tiny reverse proxy: each POST goes to the next backend, its answer passed back."""
    turn = itertools.cycle(backends)
    http = aiohttp.ClientSession()

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        async with http.post(next(turn), data=body, headers={
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token":
                    request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")}) as resp:
            return web.Response(status=resp.status)

    async def close(_app: web.Application) -> None:
        await http.close()

    app = web.Application()
    app.router.add_post("/tg/hook", forward)
    app.on_cleanup.append(close)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/tg/hook"


async def bench(presses: int, rate: float, processes: int, round_trip: float = 0.0) -> dict:
    os.environ["APEL_WEBHOOK_SECRET"] = SECRET
    unit = unit_config(0, "Asia/Makassar", regu_base=1_400_000_000)
    group = unit["regu"][0]["chat_id"]
    server = FakeTelegram(round_trip=round_trip)
    await server.start()
    add_chats(server, [unit])
    for i in range(presses):
        server.add_user(FIRST_USER + i, f"Petugas{i}")
    ports = [free_port() for _ in range(processes)]
    proxy, public = await round_robin([f"http://127.0.0.1:{p}/tg/hook" for p in ports])
    bots: list[BotProcess] = []
    with tempfile.TemporaryDirectory() as tmp_name, database("postgres", Path(tmp_name)) as url:
        tmp = Path(tmp_name)
        for n, port in enumerate(ports):
            write_config(tmp / f"config{n}.toml", [unit], url, server.base_url,
                         telegram={"mode": "webhook", "webhook_url": public},
                         http={"listen": f"127.0.0.1:{port}"})
        cli("db", "upgrade", "--config", str(tmp / "config0.toml"))
        roster(tmp / "roster.csv", presses, unit["code"])
        cli("roster", "import", str(tmp / "roster.csv"), "--config", str(tmp / "config0.toml"))
        try:
            for n in range(processes):
                bots.append(BotProcess(tmp / f"config{n}.toml", tmp / f"bot{n}.log"))
                bots[-1].start()
            await wait_until(lambda: server.messages(group), timeout=60)
            briefing = server.messages(group)[0]
            data = briefing.button_data("Saya berikrar")
            started = time.monotonic()
            ids = []
            for i in range(presses):
                ids.append(server.press(FIRST_USER + i, group, briefing.message_id, data))
                due = started + (i + 1) / rate
                if due > time.monotonic():
                    await asyncio.sleep(due - time.monotonic())
            await wait_until(lambda: len(server.callback_answers) >= presses, timeout=180)
            handled = time.monotonic() - started
        finally:
            for bot in bots:
                await bot.stop()
            await proxy.cleanup()
            await server.stop()
        latencies = sorted(server.callback_answers[q]["latency"] * 1000 for q in ids)
        recorded = pledges(url)[0]
    return {
        "processes": processes,
        "round trip ms": round_trip * 1000,
        "presses": presses,
        "presses/s handled": presses / handled,
        "p50 answer ms": statistics.median(latencies),
        "p99 answer ms": latencies[int(0.99 * (len(latencies) - 1))],
        "pledges recorded": recorded,
        "load average": load_text(),
        "machine reference ms": reference_ms(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presses", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=800.0)
    parser.add_argument("--processes", type=int, choices=(1, 2), default=1)
    parser.add_argument("--rtt-ms", type=float, default=0.0,
                        help="network round trip of every Bot API call and webhook delivery")
    args = parser.parse_args()
    figures = asyncio.run(bench(args.presses, args.rate, args.processes, args.rtt_ms / 1000))
    print_figures(f"webhook presses, PostgreSQL, {args.processes} process(es)", figures)
    if figures["pledges recorded"] != figures["presses"]:
        raise SystemExit("LOST PLEDGES")


if __name__ == "__main__":
    main()
