"""Wait for Telegram at start-up: a network outage at boot must not end the process."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from bot.platform.config import ConfigError, Settings
from bot.platform.logging_setup import redact

log = logging.getLogger(__name__)

FIRST_DELAY_S = 1.0
MAX_DELAY_S = 30.0
LOG_EVERY_S = 60.0


async def wait_for_telegram(
        settings: Settings, token: str, *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic) -> int:
    """Call getMe until Telegram answers, with capped exponential backoff; log a failure at
    most once a minute. Returns the number of failed attempts. A refused token is not an
    outage: it stops start-up at once, as a configuration error."""
    bot = Bot(token, base_url=settings.telegram.base_url or "https://api.telegram.org/bot",
              base_file_url=settings.telegram.base_file_url or "https://api.telegram.org/file/bot")
    delay, failures, logged_at = FIRST_DELAY_S, 0, None
    while True:
        try:
            await bot.initialize()  # getMe
        except InvalidToken:
            raise ConfigError("telegram.token: Telegram refused the bot token") from None
        except TelegramError as err:
            failures += 1
            now = monotonic()
            if logged_at is None or now - logged_at >= LOG_EVERY_S:
                log.warning("Telegram cannot be reached (%s); trying again, at least every "
                            "%.0f s (%d attempts so far)", redact(str(err)), MAX_DELAY_S, failures)
                logged_at = now
            await sleep(delay)
            delay = min(MAX_DELAY_S, delay * 2)
            continue
        if failures:
            log.warning("Telegram answered after %d failed attempts", failures)
        await bot.shutdown()
        return failures
