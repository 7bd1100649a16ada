"""What Telegram shows for a text: its HTML subset parsed into plain text and entities (offsets
in UTF-16 code units, as the Bot API counts), refused where Telegram refuses it."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from fake_telegram.wire import ApiError

_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{1,64})?(?=\s|$)")


def utf16_len(text: str) -> int:
    """A text's length as the Bot API counts it: UTF-16 code units."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _entity_for_tag(tag: str, attrs: dict[str, str | None]) -> dict[str, Any] | None:
    """The MessageEntity (without offset/length) an HTML tag stands for, or None if unsupported."""
    if tag in _SIMPLE_TAGS:
        return {"type": _SIMPLE_TAGS[tag]}
    if tag == "a":
        return {"type": "text_link", "url": attrs.get("href") or ""}
    if tag == "span" and attrs.get("class") == "tg-spoiler":
        return {"type": "spoiler"}
    if tag == "blockquote":
        return {"type": "expandable_blockquote" if "expandable" in attrs else "blockquote"}
    if tag == "tg-emoji":
        return {"type": "custom_emoji", "custom_emoji_id": attrs.get("emoji-id") or ""}
    return None


class _TelegramHtml(HTMLParser):
    """Parses Telegram's HTML subset into plain text and entities, failing like Telegram."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self._source = source
        self._parts: list[str] = []
        self._length = 0  # UTF-16 code units so far
        self._open: list[tuple[str, int, dict[str, Any]]] = []
        self.entities: list[dict[str, Any]] = []

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def _append(self, text: str) -> None:
        self._parts.append(text)
        self._length += utf16_len(text)

    def _fail(self, reason: str) -> None:
        line, column = self.getpos()
        index = sum(len(row) + 1 for row in self._source.split("\n")[: line - 1]) + column
        offset = len(self._source[:index].encode())
        raise ApiError(400, f"Bad Request: can't parse entities: {reason} at byte offset {offset}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        entity = _entity_for_tag(tag, dict(attrs))
        if entity is None:
            self._fail(f'Unsupported start tag "{tag}"')
        else:
            self._open.append((tag, self._length, entity))

    def handle_endtag(self, tag: str) -> None:
        if not self._open or self._open[-1][0] != tag:
            self._fail(f'Unexpected end tag "{tag}"')
        _, start, entity = self._open.pop()
        if self._length > start:
            self.entities.append({**entity, "offset": start, "length": self._length - start})

    def handle_comment(self, data: str) -> None:
        self._unsupported_markup("!--")

    def handle_decl(self, decl: str) -> None:
        self._unsupported_markup("!" + decl)

    def unknown_decl(self, data: str) -> None:
        self._unsupported_markup("![" + data)

    def handle_pi(self, data: str) -> None:
        self._unsupported_markup("?" + data)

    def _unsupported_markup(self, body: str) -> None:
        """Comments, declarations and processing instructions: Telegram reads a start tag."""
        self._fail(f'Unsupported start tag "{body.split()[0].lower()}"')

    def handle_data(self, data: str) -> None:
        if "<" in data:
            self._fail('Unexpected character "<"; use &lt;')
        self._append(data)

    def handle_entityref(self, name: str) -> None:
        self._append(_NAMED_ENTITIES.get(name, f"&{name};"))

    def handle_charref(self, name: str) -> None:
        try:
            code = int(name[1:], 16) if name[:1] in ("x", "X") else int(name)
            self._append(chr(code))
        except (ValueError, OverflowError):
            self._append(f"&#{name};")

    def finish(self) -> tuple[str, list[dict[str, Any]]]:
        self.close()
        if self._open:
            tag = self._open[-1][0]
            raise ApiError(
                400,
                "Bad Request: can't parse entities: "
                f'Can\'t find end tag corresponding to start tag "{tag}"',
            )
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return self.text, self.entities


def render_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """What Telegram shows for ``text``: plain text and entities. Only HTML is parsed."""
    if entities:
        return text, list(entities)
    if parse_mode and parse_mode.upper() == "HTML":
        parser = _TelegramHtml(text)
        parser.feed(text)
        return parser.finish()
    return text, []


def command_entities(text: str) -> list[dict[str, Any]]:
    match = _COMMAND_RE.match(text)
    if match is None:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group())}]
