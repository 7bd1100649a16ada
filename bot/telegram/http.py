"""PTB's HTTP layer on aiohttp instead of httpx.

Why: under a burst of button presses every press needs its own answerCallbackQuery. httpcore's
pool re-checks every pooled connection (a getpeername and a poll syscall each) whenever it
assigns a request, so its cost grows with the number of requests in flight; the burst
benchmark spent most of its time there. aiohttp's connector hands out idle connections in
constant time. Errors map to PTB's own exceptions, so nothing above this layer changes.
"""

from __future__ import annotations

import aiohttp
import orjson
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.platform.logging_setup import redact

_DEFAULT = BaseRequest.DEFAULT_NONE
_JSON = {"Content-Type": "application/json"}


class AiohttpRequest(BaseRequest):
    def __init__(self, *, connection_limit: int = 64, read_timeout: float | None = 5.0,
                 write_timeout: float = 5.0, connect_timeout: float = 5.0,
                 pool_timeout: float = 30.0, media_write_timeout: float = 30.0) -> None:
        self._limit = connection_limit
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict:
        """Every answer from Telegram (each getUpdates batch, each toast's answer) through
        orjson; what it refuses (invalid UTF-8, say) goes to PTB's own lenient parser."""
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError:
            return BaseRequest.parse_json_payload(payload)

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit, limit_per_host=self._limit),
                headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: float | None = _DEFAULT,  # type: ignore[assignment]
                         write_timeout: float | None = _DEFAULT,  # type: ignore[assignment]
                         connect_timeout: float | None = _DEFAULT,  # type: ignore[assignment]
                         pool_timeout: float | None = _DEFAULT,  # type: ignore[assignment]
                         ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data else None
        read = self._read_timeout if read_timeout is _DEFAULT else read_timeout
        write = (self._media_write_timeout if files else self._write_timeout) \
            if write_timeout is _DEFAULT else write_timeout
        connect = self._connect_timeout if connect_timeout is _DEFAULT else connect_timeout
        pool = self._pool_timeout if pool_timeout is _DEFAULT else pool_timeout
        # aiohttp has no separate write timeout: sending the body counts against sock_read's
        # neighbour, so give the whole exchange the sum as a ceiling.
        total = None if read is None else read + (write or 0) + (connect or 0) + (pool or 0)
        timeout = aiohttp.ClientTimeout(total=total, connect=(connect or 0) + (pool or 0) or None,
                                        sock_connect=connect, sock_read=read)
        body: aiohttp.FormData | bytes | None = None
        headers = None
        if files:
            body = aiohttp.FormData()
            for name, value in request_data.json_parameters.items():
                body.add_field(name, value)
            for name, (filename, content, mime) in files.items():
                body.add_field(name, content, filename=filename, content_type=mime)
        elif request_data is not None:
            # One JSON body, as Telegram accepts: cheaper than building a form per request.
            body, headers = request_data.json_payload, _JSON
        try:
            async with self._session.request(method, url, data=body, headers=headers,
                                             timeout=timeout) as resp:
                return resp.status, await resp.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            # Some aiohttp errors quote the URL, which holds the token.
            raise NetworkError(f"aiohttp.{type(err).__name__}: {redact(str(err))}") from err
