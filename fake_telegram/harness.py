"""The real Application against a FakeTelegram, driven step by step (end-to-end tests, demo)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from sqlmodel import select
from telegram.ext import Application

from bot.bootstrap import build_application
from bot.delivery.models import OutboxMessage
from bot.platform.clock import FakeClock
from bot.platform.config import Settings
from bot.platform.db import Database
from bot.scheduler import ReconcileSummary
from bot.telegram.app import start_services, stop_services
from bot.telegram.pacing import Limits
from bot.telegram.runtime import KEY, Runtime
from fake_telegram.server import FakeTelegram

TEST_TOKEN = "123456:TEST-token-for-the-fake-server-only"  # noqa: S105


def point_at(settings: Settings, server: FakeTelegram) -> Settings:
    """The same settings, with the Bot API URLs of the fake server and a throwaway audit key."""
    telegram = settings.telegram.model_copy(
        update={"base_url": server.base_url, "base_file_url": server.base_file_url})
    key_file = Path(tempfile.mkdtemp(prefix="apel-key-")) / "audit.key"
    audit = settings.audit.model_copy(update={"key_file": str(key_file)})
    return settings.model_copy(update={"telegram": telegram, "audit": audit})


def add_unit_groups(server: FakeTelegram, settings: Settings) -> None:
    """Every regu group and administration group of the configured units, on the fake server."""
    for unit in settings.units:
        for regu in unit.regu:
            server.add_group(regu.chat_id, f"{unit.name} {regu.name}")
        if unit.admin_group_chat_id:
            server.add_group(unit.admin_group_chat_id, f"{unit.name} Administrasi")


class BotUnderTest:
    def __init__(self, settings: Settings, db: Database, clock: FakeClock,
                 server: FakeTelegram, *, limits: Limits | None = None) -> None:
        self.server = server
        self.settings = point_at(settings, server)
        self.db, self.clock = db, clock
        self.app: Application = build_application(
            self.settings, db, clock, TEST_TOKEN, run_scheduler=False,
            limits=limits or Limits())  # production pacing: the fake enforces Telegram's

    @property
    def runtime(self) -> Runtime:
        return self.app.bot_data[KEY]

    async def start(self) -> None:
        """As bot.telegram.app.serve starts it, without the scheduler's own bells."""
        await self.app.initialize()
        await self.app.start()
        await start_services(self.app)

    async def stop(self) -> None:
        await stop_services(self.app)
        await self.app.stop()
        await self.app.shutdown()

    async def __aenter__(self) -> BotUnderTest:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def reconcile(self) -> ReconcileSummary:
        """What the scheduler's bell does: open, close, catch up — at the fake clock's time."""
        summary = await asyncio.to_thread(self.runtime.scheduler.reconcile)
        await self.settle()
        return summary

    async def refresh_tallies(self) -> int:
        queued = await asyncio.to_thread(self.runtime.scheduler.refresh_tallies)
        await self.settle()
        return queued

    def _busy_row(self, session) -> int | None:  # noqa: ANN001
        return session.exec(select(OutboxMessage.id).where(
            OutboxMessage.state.in_(("pending", "sending")),  # type: ignore[attr-defined]
            OutboxMessage.next_attempt_at <= self.clock.now())).first()

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until the outbox has nothing due and nothing in flight."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = await self.db.run(self._busy_row)
            if busy is None:
                await asyncio.sleep(0.05)  # let a just-finished send's bookkeeping land
                return
            self.runtime.wake_sender()
            await asyncio.sleep(0.02)
        raise AssertionError("outbox did not settle in time")
