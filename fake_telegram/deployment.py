"""A generated deployment for benchmarks and crash tests: many units whose apel is due now,
the real `apel-bot run` in a subprocess, and the fake Bot API server in this process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import tomli_w

from fake_telegram.server import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("APEL_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
TOKEN = "123456:BENCH-token-for-the-fake-server-only"  # noqa: S105
ZONES = ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura")
PLEDGE_POINTS = ["Menjaga netralitas", "Menghindari konflik kepentingan",
                 "Bijak bermedia sosial", "Menolak politik uang"]


def unit_config(i: int, zone: str, *, regu_base: int, deadline_minutes: int = 240,
                admin_group: bool = False) -> dict:
    """A unit whose Regu A stands an apel that started a minute ago (local), so `run` opens it
    at once."""
    local_now = datetime.now(UTC).astimezone(ZoneInfo(zone)) - timedelta(minutes=1)
    apel_times, cycle = _apel_now(local_now)
    unit = {
        "code": f"u{i:04d}", "name": f"Lapas Uji {i:04d}", "kind": "Lapas",
        "kanwil": f"Kanwil {i % 33:02d}", "timezone": zone,
        "apel_times": apel_times,
        "late_after_minutes": min(180, deadline_minutes), "deadline_minutes": deadline_minutes,
        "kalapas_chat_id": 7_000_000 + i,
        "regu": [{"name": f"Regu {c}", "chat_id": -(regu_base + i * 4 + k)}
                 for k, c in enumerate("ABCD")],
        # Regu A stands the apel due now.
        "rotation": {"anchor_date": local_now.date().isoformat(), "cycle": cycle},
    }
    if admin_group:
        unit["admin_group_chat_id"] = -(3_000_000_000 + i)
    return unit


def _apel_now(local_now: datetime) -> tuple[dict[str, str], list[str]]:
    """Apel times 6 hours apart, in order within the day, one of them at `local_now`; and the
    rotation cycle that puts the first regu on that one."""
    due = min(local_now.hour // 8, 2)  # 00-07: pagi, 08-15: siang, 16-23: malam
    slots = ["pagi", "siang", "malam"]
    times = {s: (local_now + timedelta(hours=6 * (k - due))).strftime("%H:%M")
             for k, s in enumerate(slots)}
    states = [*slots, "libur"]
    return times, states[due:] + states[:due]


def prepared(folder: Path, units: list[dict], server: FakeTelegram,
             db_url: str | None = None) -> Path:
    """The units' chats on the fake server, their config.toml in `folder` (SQLite there unless
    `db_url`), the database migrated: what an operator has before `apel-bot run`."""
    add_chats(server, units)
    config = folder / "config.toml"
    write_config(config, units, db_url or f"sqlite:///{folder / 'apel.db'}", server.base_url)
    cli("db", "upgrade", "--config", str(config))
    return config


def free_port() -> int:
    """A TCP port nothing listens on now, for a server a test or benchmark starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(path: Path, units: list[dict], db_url: str, base_url: str, *,
                 telegram: dict | None = None, http: dict | None = None) -> None:
    """config.toml for `units`; `telegram` and `http` add keys to those sections."""
    today = datetime.now(UTC).date()
    data = {
        "telegram": {"base_url": base_url,
                     "base_file_url": base_url.replace("/bot", "/file/bot"), **(telegram or {})},
        "http": http or {},
        "database": {"url": db_url},
        "audit": {"key_file": str(path.parent / "audit.key")},
        "period": {"name": "Benchmark", "start": (today - timedelta(days=2)).isoformat(),
                   "end": (today + timedelta(days=2)).isoformat(), "pledge_points": PLEDGE_POINTS},
        "units": units,
    }
    path.write_text(tomli_w.dumps(data))


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    """A fresh SQLite file or PostgreSQL database, dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    name = f"apel_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "bot.cli", *args], check=True, cwd=ROOT,  # noqa: S603
                   stdout=subprocess.DEVNULL)


class BotProcess:
    """`apel-bot run` as an operator starts it; killed or stopped by the benchmark."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "APEL_BOT_TOKEN": TOKEN}
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "bot.cli", "run", "--config", str(self.config)],
            cwd=ROOT, env=env, stdout=self.log.open("a"), stderr=subprocess.STDOUT)

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        """User + system CPU the bot has used so far (what a burst costs it, whatever the load)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    async def stop(self, timeout: float = 20) -> int:
        """SIGTERM, then wait without blocking the event loop (the fake server lives there and
        must still answer the bot's last calls while it shuts down)."""
        self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                raise TimeoutError(f"bot did not stop within {timeout} s of SIGTERM")
            await asyncio.sleep(0.05)
        return self.proc.returncode


async def wait_until(predicate, timeout: float, interval: float = 0.05) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached in time")
        await asyncio.sleep(interval)


def add_chats(server: FakeTelegram, units: list[dict], *, start_kalapas: bool = False) -> None:
    for u in units:
        for r in u["regu"]:
            server.add_group(r["chat_id"], f"{u['name']} {r['name']}")
        if "admin_group_chat_id" in u:
            server.add_group(u["admin_group_chat_id"], f"{u['name']} Administrasi")
        server.add_user(u["kalapas_chat_id"], f"Kalapas {u['code']}")
        if start_kalapas:
            server.user_start(u["kalapas_chat_id"])


def print_figures(title: str, figures: dict) -> None:
    """A benchmark's figures, one per line, floats to two decimals."""
    print(title)
    width = max(len(key) for key in figures) + 2
    for key, value in figures.items():
        shown = f"{value:.2f}" if isinstance(value, float) else value
        print(f"  {key:{width}} {shown}")
