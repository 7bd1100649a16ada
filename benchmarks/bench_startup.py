"""Start-up with apel due: how soon `apel-bot run` reads updates when thousands of groups have
an apel due at that moment.

    python -m benchmarks.bench_startup [--groups 4000] [--db sqlite|postgres] [--runs 1]

Each group is a unit whose Regu A stands an apel that began a minute ago, so the bot must open
every one of them at start-up. A restart by default (the units already in the database);
--first-start lets the bot add them itself. Prints, from the exec of the process: the first
getUpdates, the first and last briefing; whether the briefings went out before any other
message of the start-up (the command menus), and the load average beside each run.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.machine import load_text, reference_ms
from bot.org.units import sync_config
from bot.platform.config_loading import load_settings
from bot.platform.db import Database
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


def bring_in_units(config: Path) -> None:
    """A restart: the units are in the database already (a first start adds them)."""
    settings = load_settings(config)
    db = Database(settings.database.url)
    db.call(lambda s: sync_config(s, settings, datetime.now(UTC)))
    db.dispose()


async def bench(groups: int, db_kind: str, keep_log: Path | None = None, *,
                first_start: bool = False) -> dict:
    units = [unit_config(i, ZONES[i % 3], regu_base=1_000_000_000) for i in range(groups)]
    server = FakeTelegram(enforce_limits=True)
    await server.start()
    add_chats(server, units)
    regu_chats = {r["chat_id"] for u in units for r in u["regu"]}
    with tempfile.TemporaryDirectory() as tmp_name, database(db_kind, Path(tmp_name)) as url:
        tmp = Path(tmp_name)
        write_config(tmp / "config.toml", units, url, server.base_url)
        cli("db", "upgrade", "--config", str(tmp / "config.toml"))
        if not first_start:
            bring_in_units(tmp / "config.toml")
        bot = BotProcess(tmp / "config.toml", tmp / "bot.log")
        load_before, reference = load_text(), reference_ms()
        started = time.monotonic()
        bot.start()

        def briefings() -> list:
            return [c for c in server.calls("sendMessage") if c.ok and c.chat_id in regu_chats]

        try:
            await wait_until(lambda: server.calls("getUpdates"), timeout=300)
            await wait_until(lambda: len(briefings()) >= groups, timeout=groups / 20 + 180)
        finally:
            await bot.stop()
            await server.stop()
            if keep_log is not None:
                keep_log.write_text((tmp / "bot.log").read_text())
        sent = briefings()
        first_poll = server.calls("getUpdates")[0].time
        others = [c for c in server.requests
                  if c.method not in ("getUpdates", "getMe", "setMyCommands", "deleteWebhook",
                                      "getWebhookInfo")
                  and not (c.method == "sendMessage" and c.chat_id in regu_chats)
                  and c.time < sent[-1].time]
        menus = [c for c in server.calls("setMyCommands") if c.params.get("scope")]
        place = {u["regu"][0]["chat_id"]: i for i, u in enumerate(units)}
        seen = [c.chat_id for c in sent]
        return {
            "groups due": groups,
            "units already in the database": not first_start,
            "load before": load_before,
            "first getUpdates after exec s": first_poll - started,
            "first briefing after exec s": sent[0].time - started,
            "last briefing after exec s": sent[-1].time - started,
            # Up to `concurrency` requests are in flight at once, so neighbours may swap.
            "briefings out of configured order by at most": max(
                abs(i - place[c]) for i, c in enumerate(seen)),
            "other sends before them": len(others),
            "per-person menus before them": sum(1 for c in menus if c.time < sent[-1].time),
            "load after": load_text(),
            "machine reference ms": reference,
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=4000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--keep-log", type=Path, help="copy the bot's log here")
    parser.add_argument("--first-start", action="store_true",
                        help="the units are not in the database yet (else: a restart)")
    args = parser.parse_args()
    for run in range(args.runs):
        figures = asyncio.run(bench(args.groups, args.db, args.keep_log,
                                   first_start=args.first_start))
        print_figures(f"start-up with apel due ({args.db}), run {run + 1}", figures)


if __name__ == "__main__":
    main()
