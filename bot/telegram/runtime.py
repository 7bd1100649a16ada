"""What every handler needs, kept in application.bot_data under one key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from sqlmodel import Session

from bot.apel.pledging import PledgeOutcome, Press, pledge_many
from bot.delivery import outbox
from bot.platform.batching import BatchWriter
from bot.platform.clock import Clock
from bot.platform.config import Settings
from bot.platform.db import Database
from bot.platform.texts import render

if TYPE_CHECKING:
    from telegram.ext import CallbackContext

    from bot.platform.leadership import Leadership
    from bot.scheduler import ApelScheduler
    from bot.telegram.ops_server import OpsServer
    from bot.telegram.pacing import Limits
    from bot.telegram.sender import OutboxSender
    from bot.telegram.updates import UpdatePump

T = TypeVar("T")
KEY = "apel_runtime"


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    sender: OutboxSender | None = None
    scheduler: ApelScheduler | None = None
    limits: Limits | None = None
    writer: BatchWriter | None = None  # group commit for button presses
    pledges: BatchWriter | None = None  # the same, set-based, for the pledge button
    background: list = field(default_factory=list)
    # Whether this process leads (scheduler, sender); None: it always does (tests, the demo).
    leadership: Leadership | None = None
    ops: OpsServer | None = None  # /healthz and /metrics, when [http] listen is set
    pump: UpdatePump | None = None  # updates in through the inbox
    run_scheduler: bool = True  # False in tests that ring the bells themselves
    menu_table: list = field(default_factory=list)  # menus.MenuCommand: menus and /bantuan

    def wake_sender(self) -> None:
        if self.sender is not None:
            self.sender.wake()

    async def reply(self, chat_id: int, template: str, /, *, key: str,
                    **context: object) -> None:
        """Answer a person through the outbox, ahead of every fan-out."""
        text = render(template, **context)
        now = self.clock.now()
        await self.db.run(lambda s: outbox.send_message(
            s, key=key, chat_id=chat_id, text=text, now=now, priority=outbox.PRIORITY_REPLY))
        self.wake_sender()

    async def run(self, fn: Callable[[Session], T]) -> T:
        return await self.db.run(fn)

    async def run_batched(self, fn: Callable[[Session], T]) -> T:
        """Like run(), but shares a transaction with other presses arriving at the same time."""
        if self.writer is None:
            self.writer = BatchWriter(self.db)
        return await self.writer.submit(fn)

    async def pledge(self, press: Press) -> PledgeOutcome:
        """Record a pledge press together with the others of the same moment (group commit)."""
        if self.pledges is None:
            self.pledges = BatchWriter(self.db, pledge_many)
        return await self.pledges.submit(press)


def runtime(context: CallbackContext) -> Runtime:
    return context.application.bot_data[KEY]

