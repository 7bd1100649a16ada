"""A burst of 5,000 pledge presses within a few seconds, against the real `apel-bot run`.

    python -m benchmarks.bench_pledges [--presses 5000] [--rate 2000] [--groups 1]
                                       [--db sqlite|postgres] [--runs 1] [--rtt-ms 0]

--groups on-duty regu groups (one unit each, as a national apel: every unit's regu at once),
the presses spread over them in turn; every guard presses once (at --rate presses per second).
Prints presses/s handled, the bot's CPU per press (user + system; the figure least moved by a
busy machine), p50/p99 time from the press to the callback answer (measured by the fake Bot API
server), pledges recorded (must equal presses), the bot's peak RSS, the load average before and
after each run, and the machine's reference time (benchmarks/machine.py).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from benchmarks.machine import load_text, reference_ms
from bot.platform.db import normalise_url
from fake_telegram.deployment import (
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

FIRST_USER = 10_000_000


def roster(path: Path, people: int, unit_codes: str | list[str]) -> None:
    """Person i stands in the Regu A of unit i mod len(unit_codes)."""
    codes = [unit_codes] if isinstance(unit_codes, str) else unit_codes
    lines = ["nip,nama,jabatan,unit,regu,telegram_id"]
    lines += [f"1990010120150{i:05d},Petugas {i:05d},anggota,{codes[i % len(codes)]},"
              f"Regu A,{FIRST_USER + i}" for i in range(people)]
    path.write_text("\n".join(lines) + "\n")


async def bench(presses: int, rate: float, db_kind: str, groups: int = 1,
                round_trip: float = 0.0) -> dict:
    units = [unit_config(i, "Asia/Makassar", regu_base=1_000_000_000) for i in range(groups)]
    chats = [u["regu"][0]["chat_id"] for u in units]
    server = FakeTelegram(enforce_limits=True, round_trip=round_trip)
    await server.start()
    add_chats(server, units)
    for i in range(presses):
        server.add_user(FIRST_USER + i, f"Petugas{i}")
    load_before, reference = load_text(), reference_ms()
    with tempfile.TemporaryDirectory() as tmp_name, database(db_kind, Path(tmp_name)) as url:
        tmp = Path(tmp_name)
        config = tmp / "config.toml"
        write_config(config, units, url, server.base_url)
        cli("db", "upgrade", "--config", str(config))
        roster(tmp / "roster.csv", presses, [u["code"] for u in units])
        cli("roster", "import", str(tmp / "roster.csv"), "--config", str(config))
        bot = BotProcess(config, tmp / "bot.log")
        bot.start()
        try:
            await wait_until(lambda: all(server.messages(c) for c in chats), timeout=120)
            briefings = [server.messages(c)[0] for c in chats]
            buttons = [(b.message_id, b.button_data("Saya berikrar")) for b in briefings]
            started, cpu_before = time.monotonic(), bot.cpu_seconds()
            ids = []
            for i in range(presses):
                message_id, data = buttons[i % groups]
                ids.append(server.press(FIRST_USER + i, chats[i % groups], message_id, data))
                due = started + (i + 1) / rate
                if due > time.monotonic():
                    await asyncio.sleep(due - time.monotonic())
            injected = time.monotonic() - started
            await wait_until(lambda: len(server.callback_answers) >= presses, timeout=120)
            handled = time.monotonic() - started
            cpu = bot.cpu_seconds() - cpu_before
            rss = bot.peak_rss_mb()
        finally:
            await bot.stop()
            await server.stop()
        latencies = sorted(server.callback_answers[q]["latency"] * 1000 for q in ids)
        engine = create_engine(normalise_url(url))
        with engine.connect() as conn:
            recorded = conn.execute(text("SELECT count(*) FROM pledge")).scalar_one()
        engine.dispose()
        toasts = [server.callback_answers[q]["text"] for q in ids]
        return {
            "load before": load_before,
            "round trip ms": round_trip * 1000,
            "groups": groups,
            "presses": presses,
            "injected over s": injected,
            "presses/s handled": presses / handled,
            "p50 answer ms": statistics.median(latencies),
            "p99 answer ms": latencies[int(0.99 * (len(latencies) - 1))],
            "max answer ms": latencies[-1],
            "bot CPU ms per press": cpu * 1000 / presses,
            "pledges recorded": recorded,
            "toasts 'tercatat'": sum("tercatat" in t for t in toasts),
            "peak RSS MB (bot)": rss,
            "load after": load_text(),
            "machine reference ms": reference,
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presses", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=800.0, help="presses injected per second")
    parser.add_argument("--groups", type=int, default=1, help="on-duty groups pressed in")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--rtt-ms", type=float, default=0.0,
                        help="network round trip of every Bot API call (Indonesia to "
                             "Telegram: about 200-300 ms)")
    args = parser.parse_args()
    for run in range(args.runs):
        figures = asyncio.run(bench(args.presses, args.rate, args.db, args.groups,
                                           args.rtt_ms / 1000))
        print_figures(f"pledge burst benchmark ({args.db}), run {run + 1}", figures)
        if figures["pledges recorded"] != figures["presses"]:
            raise SystemExit("LOST PLEDGES")


if __name__ == "__main__":
    main()
