"""A burst of 5,000 pledge presses within a few seconds, against the real `apel-bot run`.

    python -m benchmarks.bench_pledges [--presses 5000] [--rate 2000] [--db sqlite|postgres]

One regu of N registered guards; the apel opens; every guard presses once (spread at --rate
presses per second). Prints presses/s handled, p50/p99 time from the press to the callback
answer (measured by the fake Bot API server), pledges recorded (must equal presses) and the
bot's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

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


def roster(path: Path, people: int, unit_code: str) -> None:
    lines = ["nip,nama,jabatan,unit,regu,telegram_id"]
    lines += [f"1990010120150{i:05d},Petugas {i:05d},anggota,{unit_code},Regu A,{FIRST_USER + i}"
              for i in range(people)]
    path.write_text("\n".join(lines) + "\n")


async def bench(presses: int, rate: float, db_kind: str) -> dict:
    unit = unit_config(0, "Asia/Makassar", regu_base=1_000_000_000)
    regu_chat = unit["regu"][0]["chat_id"]
    server = FakeTelegram(enforce_limits=True)
    await server.start()
    add_chats(server, [unit])
    for i in range(presses):
        server.add_user(FIRST_USER + i, f"Petugas{i}")
    with tempfile.TemporaryDirectory() as tmp_name, database(db_kind, Path(tmp_name)) as url:
        tmp = Path(tmp_name)
        config = tmp / "config.toml"
        write_config(config, [unit], url, server.base_url)
        cli("db", "upgrade", "--config", str(config))
        roster(tmp / "roster.csv", presses, unit["code"])
        cli("roster", "import", str(tmp / "roster.csv"), "--config", str(config))
        bot = BotProcess(config, tmp / "bot.log")
        bot.start()
        try:
            await wait_until(lambda: server.messages(regu_chat), timeout=60)
            briefing = server.messages(regu_chat)[0]
            data = briefing.button_data("Saya berikrar")
            started = time.monotonic()
            ids = []
            for i in range(presses):
                ids.append(server.press(FIRST_USER + i, regu_chat, briefing.message_id, data))
                due = started + (i + 1) / rate
                if due > time.monotonic():
                    await asyncio.sleep(due - time.monotonic())
            injected = time.monotonic() - started
            await wait_until(lambda: len(server.callback_answers) >= presses, timeout=120)
            handled = time.monotonic() - started
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
            "presses": presses,
            "injected over s": injected,
            "presses/s handled": presses / handled,
            "p50 answer ms": statistics.median(latencies),
            "p99 answer ms": latencies[int(0.99 * (len(latencies) - 1))],
            "max answer ms": latencies[-1],
            "pledges recorded": recorded,
            "toasts 'tercatat'": sum("tercatat" in t for t in toasts),
            "peak RSS MB (bot)": rss,
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presses", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=800.0, help="presses injected per second")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    figures = asyncio.run(bench(args.presses, args.rate, args.db))
    print_figures(f"pledge burst benchmark ({args.db})", figures)
    if figures["pledges recorded"] != figures["presses"]:
        raise SystemExit("LOST PLEDGES")


if __name__ == "__main__":
    main()
