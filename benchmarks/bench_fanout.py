"""Fan-out of one apel to 2,000 regu groups through the real `apel-bot run`.

    python -m benchmarks.bench_fanout [--groups 2000] [--db sqlite|postgres] [--runs 1] [--rtt-ms 0]

The fake Bot API server enforces Telegram's limits (30 msg/s per bot, 20/min per group) and
answers 429 past them. Prints messages/s achieved against the 30/s limit, 429s, the time from
start to the last briefing, the bot's peak RSS, and the load average before and after each run.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from benchmarks.machine import load_text, reference_ms
from fake_telegram.deployment import (
    ZONES,
    BotProcess,
    add_chats,
    cli,
    database,
    print_figures,
    unit_config,
    wait_until,
    write_config,
)
from fake_telegram.server import FakeTelegram


async def bench(groups: int, db_kind: str, round_trip: float = 0.0) -> dict:
    units = [unit_config(i, ZONES[i % 3], regu_base=1_000_000_000) for i in range(groups)]
    server = FakeTelegram(enforce_limits=True, round_trip=round_trip)
    await server.start()
    add_chats(server, units)
    regu_chats = {r["chat_id"] for u in units for r in u["regu"]}
    with tempfile.TemporaryDirectory() as tmp_name, database(db_kind, Path(tmp_name)) as url:
        tmp = Path(tmp_name)
        write_config(tmp / "config.toml", units, url, server.base_url)
        cli("db", "upgrade", "--config", str(tmp / "config.toml"))
        bot = BotProcess(tmp / "config.toml", tmp / "bot.log")
        load_before, reference = load_text(), reference_ms()
        started = time.monotonic()
        bot.start()

        def briefings() -> list:
            return [c for c in server.calls("sendMessage")
                    if c.ok and c.chat_id in regu_chats]

        try:
            await wait_until(lambda: len(briefings()) >= groups, timeout=groups / 20 + 120)
            rss = bot.peak_rss_mb()
        finally:
            await bot.stop()
            await server.stop()
        sent = briefings()
        first, last = sent[0].time, sent[-1].time
        per_chat = {}
        for c in sent:
            per_chat[c.chat_id] = per_chat.get(c.chat_id, 0) + 1
        return {
            "load before": load_before,
            "round trip ms": round_trip * 1000,
            "groups": groups,
            "briefings delivered": len(sent),
            "groups with exactly one": sum(1 for n in per_chat.values() if n == 1),
            "rate msg/s": (len(sent) - 1) / (last - first),
            "rate vs 30/s limit": f"{100 * (len(sent) - 1) / (last - first) / 30:.1f}%",
            "429 answers": server.count_429,
            "429 at s after start": [round(c.time - started, 1) for c in server.requests
                                     if c.status == 429],
            "first briefing after start s": first - started,
            "time to last message s": last - started,
            "peak RSS MB (bot)": rss,
            "load after": load_text(),
            "machine reference ms": reference,
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--rtt-ms", type=float, default=0.0,
                        help="network round trip of every Bot API call (Indonesia to "
                             "Telegram: about 200-300 ms)")
    args = parser.parse_args()
    for run in range(args.runs):
        figures = asyncio.run(bench(args.groups, args.db, args.rtt_ms / 1000))
        print_figures(f"fan-out benchmark ({args.db}), run {run + 1}", figures)


if __name__ == "__main__":
    main()
