"""What every handler needs, kept in application.bot_data under one key. Every part is built
by bot/bootstrap.py before the first update; nothing here is created on first use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from sqlmodel import Session

from bot.platform.batching import BatchWriter
from bot.platform.clock import Clock
from bot.platform.config import Settings
from bot.platform.db import Database

if TYPE_CHECKING:
    from telegram.ext import CallbackContext

    from bot.apel.pledging import PledgeOutcome, Press
    from bot.delivery.alerts import OperatorAlerts
    from bot.delivery.replies import Replies
    from bot.org.menus import MenuCommand
    from bot.platform.leadership import Leadership
    from bot.scheduler import ApelScheduler
    from bot.telegram.ops_server import OpsServer
    from bot.telegram.sender import OutboxSender
    from bot.telegram.updates import UpdatePump

T = TypeVar("T")
KEY = "apel_runtime"


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    sender: OutboxSender  # runs in the leader only
    scheduler: ApelScheduler  # rings its bells in the leader only
    pump: UpdatePump  # updates in through the inbox
    writer: BatchWriter  # group commit for button presses
    pledges: BatchWriter[Press, PledgeOutcome]  # the same, set-based, for the pledge button
    reply: Replies  # `await rt.reply(chat_id, template, key=...)`: an answer to a person
    alert: OperatorAlerts  # `rt.alert(what, err)`: the operator chat hears of an error
    menu_table: list[MenuCommand]  # who sees which command: the menus and /bantuan
    ops: OpsServer | None = None  # /healthz and /metrics, when [http] listen is set
    # Whether this process leads (scheduler, sender); None: it always does (tests, the demo).
    leadership: Leadership | None = None
    run_scheduler: bool = True  # False in tests that ring the bells themselves
    background: list = field(default_factory=list)  # tasks started by serve, ended by its stop

    def wake_sender(self) -> None:
        self.sender.wake()

    async def run(self, fn: Callable[[Session], T]) -> T:
        return await self.db.run(fn)

    async def run_batched(self, fn: Callable[[Session], T]) -> T:
        """Like run(), but shares a transaction with other presses arriving at the same time."""
        return await self.writer.submit(fn)


def runtime(context: CallbackContext) -> Runtime:
    return context.application.bot_data[KEY]
