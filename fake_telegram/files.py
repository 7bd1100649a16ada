"""Files: what the bot uploads with sendDocument and sendPhoto (a multipart part, attach://,
a file_id again, an HTTP URL) and what users send, kept for getFile and for the download URL
``/file/bot<token>/<file_path>``."""

from __future__ import annotations

import itertools
import mimetypes
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from aiohttp import web

from fake_telegram.wire import ApiError, Handler, Upload, error_body

PHOTO_WIDTH, PHOTO_HEIGHT = 800, 600


@dataclass
class StoredFile:
    """A file known to the server: uploaded by the bot or sent by a user."""

    file_id: str
    file_unique_id: str
    file_path: str
    filename: str
    content: bytes
    mime_type: str

    @property
    def size(self) -> int:
        return len(self.content)

    def file_json(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }

    def document_json(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_name": self.filename,
            "mime_type": self.mime_type,
            "file_size": self.size,
        }

    def photo_json(self) -> list[dict[str, Any]]:
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "width": PHOTO_WIDTH,
                "height": PHOTO_HEIGHT,
                "file_size": self.size,
            }
        ]


class FileStore:
    """Every file the server knows, by file_id (getFile, a file sent again) and by file_path
    (downloads)."""

    def __init__(self) -> None:
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_seq = itertools.count(1)

    def methods(self) -> dict[str, Handler]:
        return {"getFile": self._get_file}

    def input_file(
        self, kind: str, params: dict[str, Any], files: dict[str, Upload]
    ) -> StoredFile:
        """The file a sendDocument or sendPhoto call names, stored if it is new."""
        ref = params.get(kind)
        if isinstance(ref, str) and ref.startswith("attach://"):
            upload = files.get(ref.removeprefix("attach://"))
        else:
            upload = files.get(kind)
        if upload is not None:
            if not upload.content:
                raise ApiError(400, "Bad Request: file must be non-empty")
            return self.store(kind, upload.filename, upload.content, upload.mime_type)
        if isinstance(ref, str) and ref in self._files:
            return self._files[ref]
        if isinstance(ref, str) and ref.startswith(("http://", "https://")):
            name = PurePosixPath(ref.split("?", 1)[0]).name or "file"
            return self.store(kind, name, b"")
        if ref is None:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def store(
        self, kind: str, filename: str, content: bytes, mime_type: str | None = None
    ) -> StoredFile:
        seq = next(self._file_seq)
        prefix, folder = (
            ("AgACAgIAAxkBAAI", "photos")
            if kind == "photo"
            else (
                "BQACAgIAAxkBAAI",
                "documents",
            )
        )
        suffix = PurePosixPath(filename).suffix or (".jpg" if kind == "photo" else "")
        stored = StoredFile(
            file_id=f"{prefix}{seq:08d}",
            file_unique_id=f"AQAD{seq:08d}",
            file_path=f"{folder}/file_{seq}{suffix}",
            filename=filename,
            content=content,
            mime_type=mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream",
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _get_file(self, params: dict[str, Any], files: dict[str, Upload]) -> dict:
        stored = self._files.get(str(params.get("file_id", "")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return stored.file_json()

    async def download(self, request: web.Request) -> web.Response:
        """GET /file/bot<token>/<file_path>."""
        stored = self._files_by_path.get(request.match_info["file_path"])
        if stored is None:
            return web.json_response(error_body(404, "Not Found"), status=404)
        return web.Response(body=stored.content, content_type=stored.mime_type)
