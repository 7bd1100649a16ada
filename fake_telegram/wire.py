"""The Bot API wire format: parameters in (query string, form, multipart or JSON), errors out
as Telegram sends them (``{"ok": false, "error_code": ..., "description": ...}``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

# Form values are strings; PTB JSON-encodes everything that is not already a string
# (ints, bools, lists, dicts). These parameters are free text and must never be JSON-decoded.
STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "secret_token",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "file_id",
        "language_code",
        "url",
        "title",
        "name",
        "description",
        "short_description",
        "document",
        "photo",
        "thumbnail",
        "business_connection_id",
        "message_effect_id",
        "emoji",
    }
)


class ApiError(Exception):
    """A Bot API error answer: HTTP status, description and optional response parameters."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.description, self.parameters)


def error_body(
    status: int, description: str, parameters: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON body Telegram sends with an error."""
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


@dataclass
class Upload:
    """A file part of a multipart request."""

    filename: str
    content: bytes
    mime_type: str | None = None


def _decode_param(key: str, value: Any) -> Any:
    """Turns a form value back into what the client meant (PTB JSON-encodes non-strings)."""
    if not isinstance(value, str) or key in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
    if request.body_exists:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                raw.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    content = value.file.read()
                    files[key] = Upload(value.filename, content, value.content_type)
                else:
                    raw[key] = value.decode() if isinstance(value, bytes) else value
    return {key: _decode_param(key, value) for key, value in raw.items()}, files


def int_param(params: dict[str, Any], key: str, default: int | None = None) -> int | None:
    value = params.get(key, default)
    if value is None or isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: invalid {key} specified") from None


# A Bot API method: decoded parameters and uploaded files in, the JSON result out (or an
# awaitable of it); refusals raise ApiError.
Handler = Callable[[dict[str, Any], dict[str, Upload]], Any]
