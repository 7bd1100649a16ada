"""A fake Telegram Bot API server for tests, the in-process demo, manual runs and benchmarks.

Point python-telegram-bot at it::

    async with FakeTelegram() as tg:
        app = (
            Application.builder().token(TOKEN)
            .base_url(tg.base_url).base_file_url(tg.base_file_url)
            .build()
        )

The server speaks the Bot API wire format (form, multipart or JSON parameters in;
``{"ok": ...}`` JSON out), keeps what the bot sent to every chat for assertions, injects user
messages and button presses as updates for long polling, and imitates Telegram's errors,
flood limits and lost answers. A small HTTP control API under ``/_control/`` drives it from
another process, and ``python -m fake_telegram --help`` runs it by hand.

This module is the HTTP side: the routes, and one Bot API call from request to recorded
answer. What a test calls lives in world.py, the Bot API methods in their own modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ipaddress
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from fake_telegram.control import ControlApi
from fake_telegram.editing import Editing
from fake_telegram.limits import MAX_UPLOAD_BYTES
from fake_telegram.sending import Sending
from fake_telegram.traffic import Call
from fake_telegram.wire import ApiError, Handler, Upload, error_body, read_params
from fake_telegram.world import World

log = logging.getLogger(__name__)


class FakeTelegram(World):
    """An in-memory Telegram Bot API server on a local port.

    As strict as Telegram: it refuses what Telegram refuses, flood limits included. Pass
    ``enforce_limits=False`` only where a test's subject needs it, with a comment saying why.
    """

    def __init__(
        self, enforce_limits: bool = True, clock: Callable[[], float] = time.monotonic,
        round_trip: float = 0.0,
    ) -> None:
        super().__init__(enforce_limits, clock)
        # Telegram is far away: from Indonesia to the Bot API's servers about 0.2-0.3 s there
        # and back. Half of it before a call arrives (and counts in a flood window), half
        # before its answer is back. Zero keeps tests fast; benchmarks take it as a shape.
        self.round_trip = round_trip
        self.webhook.round_trip = round_trip
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port: int | None = None
        self._closed = asyncio.Event()
        self._handlers: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for name, handler in self._api_methods().items()
        }

    def _api_methods(self) -> dict[str, Handler]:
        sending = Sending(self._chats, self._files, self._flood, self._traffic, self.clock)
        editing = Editing(self._chats, self._flood, self._traffic, self.clock)
        return {
            **self._admin.methods(),
            **self._updates.methods(),
            **sending.methods(),
            **editing.methods(),
            **self._callbacks.methods(),
            **self._files.methods(),
        }

    # ----------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeTelegram is already running")
        self._updates.closing = False
        self._closed = asyncio.Event()
        runner = web.AppRunner(self._build_app(), access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        self._host = host
        self._port = int(runner.addresses[0][1])
        log.debug("fake Telegram listening on %s", self.base_url)

    async def stop(self) -> None:
        if self._runner is None:
            return
        self._updates.closing = True
        self._closed.set()
        self._updates.wake()
        await self.webhook.stop()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeTelegram is not running; await start() first")
        return self._port

    @property
    def _url_host(self) -> str:
        try:
            unspecified = ipaddress.ip_address(self._host).is_unspecified
        except ValueError:
            unspecified = False
        return "127.0.0.1" if unspecified else self._host

    @property
    def root_url(self) -> str:
        return f"http://{self._url_host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.root_url}/file/bot"

    @property
    def control_url(self) -> str:
        return f"{self.root_url}/_control"

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._files.download)
        app.router.add_routes(ControlApi(self).routes())
        return app

    # ----------------------------------------------------------------- one Bot API call

    async def _handle_api(self, request: web.Request) -> web.Response:
        try:
            params, files = await read_params(request)
        except ValueError as exc:
            return web.json_response(error_body(400, f"Bad Request: {exc}"), status=400)
        if self.round_trip:
            await asyncio.sleep(self.round_trip / 2)  # the request on its way to Telegram
        status, body, delay = await self._execute(request.match_info["method"], params, files)
        if self.round_trip:
            delay += self.round_trip / 2  # the answer on its way back
        if delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), delay)
        return web.json_response(body, status=status)

    async def _execute(
        self, raw_method: str, params: dict[str, Any], files: dict[str, Upload]
    ) -> tuple[int, dict[str, Any], float]:
        started = self.clock()
        name, handler = self._handlers.get(raw_method.lower(), (raw_method, None))
        chat_id = params.get("chat_id")
        chat_id = chat_id if isinstance(chat_id, int) else None
        status, body = await self._respond(name, handler, params, files, chat_id)
        delay = self._faults.take_drop(name) if status == 200 else 0.0
        self._traffic.record(Call(name, params, chat_id, started, status, body, tuple(files)))
        return status, body, delay

    async def _respond(
        self,
        name: str,
        handler: Handler | None,
        params: dict[str, Any],
        files: dict[str, Upload],
        chat_id: int | None,
    ) -> tuple[int, dict[str, Any]]:
        if self.fault_hook is not None:
            hooked = self.fault_hook(name, params)
            if hooked is not None:
                return hooked
        fault = self._faults.take_fault(name, chat_id)
        if fault is not None:
            if fault.status == 429:
                self._traffic.count_429 += 1
            return fault.status, fault.body()
        if handler is None:
            return 404, error_body(404, "Not Found")
        try:
            result = handler(params, files)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as exc:
            return exc.status, exc.body()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return 400, error_body(400, f"Bad Request: invalid parameters: {exc}")
        return 200, {"ok": True, "result": result}
