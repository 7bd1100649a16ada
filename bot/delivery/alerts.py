"""The operator chat hears of errors: at most one message per kind of error per minute."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.delivery import outbox
from bot.platform.clock import Clock
from bot.platform.db import Database
from bot.platform.logging_setup import redact
from bot.platform.texts import render

log = logging.getLogger(__name__)


class OperatorAlerts:
    """`alerts(what, err)`, from any thread; never raises: the error is logged already, and an
    alert that cannot be queued must not hide it. No operator chat configured: nothing."""

    def __init__(self, db: Database, clock: Clock, chat_id: int | None, *,
                 wake: Callable[[], None]) -> None:
        self.db, self.clock, self.chat_id = db, clock, chat_id
        self.wake = wake  # the sender: a new row is waiting

    def __call__(self, what: str, err: BaseException) -> None:
        chat = self.chat_id
        if not chat:
            return
        now = self.clock.now()
        # The key repeats within the minute, so the outbox keeps one alert of each kind.
        key = f"op-error:{what}:{type(err).__name__}:{now:%Y%m%d%H%M}"
        text = render("operator_error", what=what, error=redact(str(err))[:300])
        try:
            self.db.call(lambda s: outbox.send_message(s, key=key, chat_id=chat, text=text,
                                                       now=now, priority=outbox.PRIORITY_REPORT))
            self.wake()
        except Exception:
            log.exception("could not queue the operator alert")
