"""The updates waiting for the bot: queued as users act, handed out by getUpdates or pushed to
a webhook, and kept until the bot confirms them (a getUpdates offset past them, or a webhook
answered 2xx), since Telegram redelivers until then."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
from collections import deque
from typing import Any

from fake_telegram.webhook import Webhook, WebhookPusher
from fake_telegram.wire import ApiError, Handler, Upload, int_param

POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)


class Updates:
    def __init__(self) -> None:
        self._updates: deque[dict[str, Any]] = deque()
        self._replayed_updates: deque[dict[str, Any]] = deque()
        self._next_update_id = 1
        self._update_event = asyncio.Event()
        self._poll_generation = 0
        self.closing = False  # the server is stopping: long polls return at once
        # The pusher keeps an event of its own: the pollers' is replaced at every wake-up.
        self.webhook = WebhookPusher(self._updates, asyncio.Event(), lambda _u: None)

    def methods(self) -> dict[str, Handler]:
        return {
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
        }

    @property
    def pending(self) -> list[dict[str, Any]]:
        return [*self._replayed_updates, *self._updates]

    def enqueue(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``payload`` as the next update (the next update_id)."""
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        self._updates.append(update)
        self.wake()
        return update

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        update = dict(update)
        update_id = update.get("update_id")
        if update_id is None:
            return self.enqueue(update)
        if update_id >= self._next_update_id:
            self._next_update_id = update_id + 1
            self._updates.append(update)
        else:
            self._replayed_updates.append(update)
        self.wake()
        return update

    def wake(self) -> None:
        """Wakes the long polls waiting now, and the webhook pusher."""
        self._update_event.set()
        self._update_event = asyncio.Event()
        self.webhook.wake.set()

    def _set_webhook(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        url = params.get("url") or ""
        if not url:  # Telegram: an empty URL removes the webhook
            self.webhook.clear()
            return True
        if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ApiError(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._replayed_updates.clear()
        given = params.get("max_connections")
        # Telegram takes 1-100 (40 when not given) and clamps anything else into that range
        # (telegram-bot-api, Client::get_webhook_max_connections).
        connections = min(max(int(given), 1), 100) if given not in (None, "") else 40
        self.webhook.set(Webhook(url, secret, connections))
        return True

    def _delete_webhook(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        self.webhook.clear()
        if params.get("drop_pending_updates"):
            self._updates.clear()
            self._replayed_updates.clear()
        return True

    def _get_webhook_info(self, params: dict[str, Any], files: dict[str, Upload]) -> dict:
        pending = len(self._updates) + len(self._replayed_updates)
        url = self.webhook.hook.url if self.webhook.hook else ""
        return {"url": url, "has_custom_certificate": False, "pending_update_count": pending}

    async def _get_updates(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> list[dict[str, Any]]:
        offset = int_param(params, "offset", 0) or 0
        limit = min(max(int_param(params, "limit", 100) or 100, 1), 100)
        timeout = max(0.0, float(params.get("timeout") or 0))
        if self.webhook.hook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        self._confirm_updates(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self.wake()  # an older long poll now ends with 409 Conflict, as on Telegram
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, POLL_CONFLICT)
            batch = self._take_batch(limit)
            remaining = deadline - loop.time()
            if batch or self.closing or remaining <= 0:
                return batch
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._update_event.wait(), remaining)

    def _confirm_updates(self, offset: int) -> None:
        if offset < 0:  # keep only the last -offset updates
            while len(self._updates) > -offset:
                self._updates.popleft()
            return
        while self._updates and self._updates[0]["update_id"] < offset:
            self._updates.popleft()

    def _take_batch(self, limit: int) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        while self._replayed_updates and len(batch) < limit:
            batch.append(self._replayed_updates.popleft())
        batch.extend(itertools.islice(self._updates, limit - len(batch)))
        return batch
