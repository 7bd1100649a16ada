"""Webhook delivery as Telegram does it: after setWebhook, each update is POSTed (JSON) to the
URL with the X-Telegram-Bot-Api-Secret-Token header; an answer other than 2xx (or none) is
retried later, so an update leaves the queue only once the bot has said 200."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

RETRY_FIRST_S, RETRY_CAP_S = 0.5, 8.0  # Telegram backs off too (its figures are unpublished)
TIMEOUT_S = 10.0


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    max_connections: int = 40


class WebhookPusher:
    """Drains `queue` (the server's pending updates) into the webhook, up to max_connections
    at a time. `on_delivered(update)` is called once the bot answered 2xx."""

    def __init__(self, queue: deque[dict[str, Any]], wake: asyncio.Event,
                 on_delivered: Callable[[dict[str, Any]], None]) -> None:
        self.queue, self.wake, self.on_delivered = queue, wake, on_delivered
        self.hook: Webhook | None = None
        self.failures = 0  # answers other than 2xx, for tests
        self.round_trip = 0.0  # the server's: an update travels, and so does the bot's answer
        self._task: asyncio.Task | None = None

    def set(self, hook: Webhook) -> None:
        self.hook = hook
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="fake-webhook")
        self.wake.set()

    def clear(self) -> None:
        self.hook = None
        self.wake.set()

    async def stop(self) -> None:
        self.hook = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        """Up to max_connections updates in flight at any moment, as Telegram keeps them; one
        refused waits (backing off) and goes again, the others are not held up by it."""
        in_flight: dict[int, asyncio.Task] = {}
        try:
            await self._push(in_flight)
        finally:  # deliveries still on their way (a round trip) end with the webhook
            for task in in_flight.values():
                task.cancel()
            await asyncio.gather(*in_flight.values(), return_exceptions=True)

    async def _push(self, in_flight: dict[int, asyncio.Task]) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as http:
            while self.hook is not None:
                hook = self.hook
                for update in list(self.queue):
                    if len(in_flight) >= hook.max_connections:
                        break
                    if id(update) not in in_flight:
                        in_flight[id(update)] = asyncio.create_task(
                            self._deliver(http, hook, update))
                self.wake.clear()
                waiting = [*in_flight.values(), asyncio.create_task(self.wake.wait())]
                done, _ = await asyncio.wait(waiting, timeout=1.0,
                                             return_when=asyncio.FIRST_COMPLETED)
                waiting[-1].cancel()
                for key, task in list(in_flight.items()):
                    if task.done():
                        del in_flight[key]

    async def _deliver(self, http: aiohttp.ClientSession, hook: Webhook,
                       update: dict[str, Any]) -> None:
        delay = RETRY_FIRST_S
        while not await self._post(http, hook, update):
            self.failures += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_CAP_S)
            if self.hook is None:
                return
        self.queue.remove(update)
        self.on_delivered(update)

    async def _post(self, http: aiohttp.ClientSession, hook: Webhook,
                    update: dict[str, Any]) -> bool:
        """One delivery; its connection stays taken until the bot's answer is back here."""
        if self.round_trip:
            await asyncio.sleep(self.round_trip / 2)
        delivered = await self._post_now(http, hook, update)
        if self.round_trip:
            await asyncio.sleep(self.round_trip / 2)
        return delivered

    @staticmethod
    async def _post_now(http: aiohttp.ClientSession, hook: Webhook,
                        update: dict[str, Any]) -> bool:
        headers = {"X-Telegram-Bot-Api-Secret-Token": hook.secret_token} \
            if hook.secret_token else {}
        try:
            async with http.post(hook.url, json=update, headers=headers) as resp:
                return 200 <= resp.status < 300
        except (aiohttp.ClientError, TimeoutError):
            return False
