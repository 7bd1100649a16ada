"""The bot's own HTTP server: GET /healthz and GET /metrics for the operator, and in webhook
mode the POST route Telegram delivers updates to (behind a reverse proxy). aiohttp's server,
already a dependency for the Bot API client."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.delivery.health import OutboxState, outbox_state
from bot.platform import metrics
from bot.platform.clock import Clock
from bot.platform.config import ConfigError
from bot.platform.db import Database

log = logging.getLogger(__name__)


class NotReceiving(Exception):  # noqa: N818 (a state, not an error)
    """The receiver is stopping: the update is not stored, and Telegram delivers it again
    (to whichever process receives then)."""


# Beyond these the process is not doing its job, and a supervisor should know.
SCHEDULER_STALE_S = 120.0  # the reconcile pass runs every 30 s
OUTBOX_STUCK_S = 300.0  # a message that may go has waited this long
WEBHOOK_MAX_BYTES = 1024 * 1024  # an update is a few kB; anything larger is not Telegram


@dataclass
class Probes:
    """Where the health facts come from; callables, since the parts start after the server.
    started_at: when the server started serving (OpsServer.start sets it)."""

    db: Database
    clock: Clock
    started_at: datetime
    role: Callable[[], str]  # "leader", "standby" (another process leads), "lost"
    last_tick_at: Callable[[], datetime | None]
    telegram_last_success_at: Callable[[], datetime | None]


def health(probes: Probes, outbox: OutboxState | None) -> tuple[bool, dict]:
    """The /healthz document and whether it is healthy (outbox None: database unreachable)."""
    now = probes.clock.now()
    tick = probes.last_tick_at()
    tick_age = (now - (tick or probes.started_at)).total_seconds()
    problems = []
    if outbox is None:
        problems.append("database unreachable")
    role = probes.role()
    if role == "lost":
        problems.append("leadership lost")
    if role == "leader" and tick_age > SCHEDULER_STALE_S:
        problems.append("scheduler silent")
    if role == "leader" and outbox is not None and (outbox.oldest_due_age_s or 0) > OUTBOX_STUCK_S:
        problems.append("outbox not draining")
    sent = probes.telegram_last_success_at()
    body = {
        "status": "unhealthy" if problems else "ok",
        "problems": problems,
        "database": {"reachable": outbox is not None},
        "leadership": {"role": role},
        "scheduler": {"last_tick_at": _iso(tick), "age_s": round(tick_age, 1)},
        "outbox": {"depth": outbox.depth if outbox else None,
                   "oldest_due_age_s": _round(outbox.oldest_due_age_s) if outbox else None},
        "telegram": {"last_success_at": _iso(sent)},
    }
    return not problems, body


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


class OpsServer:
    def __init__(self, probes: Probes, listen: str) -> None:
        self.probes = probes
        self.host, port = listen.rsplit(":", 1)
        self.port = int(port)
        self._runner: web.AppRunner | None = None
        self._webhook: tuple[str, str | None, Callable[[dict], Awaitable[None]]] | None = None
        self._gauges = CollectorRegistry()
        self._depth = Gauge("apel_outbox_depth", "Outbox rows not yet sent.",
                            registry=self._gauges)
        self._oldest = Gauge("apel_outbox_oldest_due_seconds",
                             "Age of the oldest outbox row that may be sent now.",
                             registry=self._gauges)

    def add_webhook(self, path: str, secret: str | None,
                    receive: Callable[[dict], Awaitable[None]]) -> None:
        """Telegram's POSTs of updates: checked against the secret token, stored in the inbox,
        and only then answered 200 (an error answer makes Telegram deliver it again)."""
        self._webhook = (path, secret, receive)

    async def start(self) -> None:
        # The scheduler's silence counts from when this server serves, not from when it was
        # built (before the wait for Telegram, which may be long).
        self.probes = replace(self.probes, started_at=self.probes.clock.now())
        app = web.Application(client_max_size=WEBHOOK_MAX_BYTES)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        if self._webhook is not None:
            app.router.add_post(self._webhook[0], self._update)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as err:  # taken, or not this machine's: the operator must change it
            await self._runner.cleanup()
            self._runner = None
            raise ConfigError(f"http.listen: cannot listen on {self.host}:{self.port} "
                              f"({err.strerror or err}); another program holds the port, "
                              f"or the address is not this machine's") from err
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _outbox(self) -> OutboxState | None:
        now = self.probes.clock.now()
        try:
            return await self.probes.db.run_read(lambda s: outbox_state(s, now))
        except Exception:
            log.warning("health check: database unreachable", exc_info=True)
            return None

    async def _update(self, request: web.Request) -> web.Response:
        _, secret, receive = self._webhook
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            return web.Response(status=401)
        try:
            update = await request.json()
        except ValueError:
            return web.Response(status=400)
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return web.Response(status=400)
        try:
            await receive(update)  # committed before the 200
        except NotReceiving:
            return web.Response(status=503)
        except Exception:
            log.exception("webhook update %s not stored; Telegram will deliver it again",
                          update.get("update_id"))
            return web.Response(status=503)
        return web.Response(status=200)

    async def _healthz(self, request: web.Request) -> web.Response:
        healthy, body = health(self.probes, await self._outbox())
        return web.json_response(body, status=200 if healthy else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        state = await self._outbox()
        if state is not None:
            self._depth.set(state.depth)
            self._oldest.set(state.oldest_due_age_s or 0.0)
        body = generate_latest(metrics.REGISTRY) + generate_latest(self._gauges)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
