"""Button data (Telegram's callback_data): one registry of prefixes, each feature's button
shapes declared once, encoded and decoded here.

A shape is a sequence of parts after the prefix: literal words and typed fields, joined by
":" (`c:d:<employee>:<start>:<end>:<reason>`). Decoding checks every part, so a handler gets
typed values or None for forged, truncated or foreign data; it never parses strings itself.
Telegram refuses data over 64 bytes, so encoding refuses it too, with the offending data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

MAX_BYTES = 64  # Telegram's limit on callback_data
_PREFIX = re.compile(r"^[a-z]{1,3}$")


@dataclass(frozen=True)
class Field:
    """One typed part: what it may look like, and how it becomes a value."""

    name: str
    pattern: str
    parse: Callable[[str], object] = str  # may return None: the part is invalid
    show: Callable[[object], str] = str


def number(name: str) -> Field:
    """A database id (at most 12 digits)."""
    return Field(name, r"[0-9]{1,12}", int)


def choice(name: str, values: tuple[str, ...]) -> Field:
    return Field(name, "|".join(re.escape(v) for v in values))


def token(name: str, pattern: str) -> Field:
    return Field(name, pattern)


def _parse_ymd(text: str) -> date | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def calendar_day(name: str) -> Field:
    """A calendar date as YYYYMMDD."""
    return Field(name, r"[0-9]{8}", _parse_ymd, lambda d: d.strftime("%Y%m%d"))


Part = str | Field


@dataclass(frozen=True)
class Pressed:
    """Decoded button data: which shape, and its fields' values."""

    shape: str
    values: dict[str, object]

    def __getitem__(self, name: str) -> object:
        return self.values[name]


class CallbackDataError(ValueError):
    """Button data that Telegram would refuse, or a value its field does not take."""


class Buttons:
    """The buttons of one prefix. Make them with `register`, once, where the feature lives."""

    def __init__(self, prefix: str, shapes: dict[str, tuple[Part, ...]]) -> None:
        self.prefix = prefix
        self.shapes = shapes
        self._regexes = {name: re.compile(self._regex(parts)) for name, parts in shapes.items()}

    def _regex(self, parts: tuple[Part, ...]) -> str:
        pieces = [re.escape(self.prefix)]
        pieces += [f"(?P<{p.name}>{p.pattern})" if isinstance(p, Field) else re.escape(p)
                   for p in parts]
        return ":".join(pieces)

    @property
    def pattern(self) -> str:
        """For CallbackQueryHandler: every data of this prefix (valid or not) reaches its
        handler, which then answers a bad one with a toast."""
        return f"^{re.escape(self.prefix)}:"

    def matches(self, data: object) -> bool:
        """Whether `data` goes to this prefix's handler (`pattern`, without a regex)."""
        return isinstance(data, str) and data.startswith(f"{self.prefix}:")

    def encode(self, shape: str, **values: object) -> str:
        parts = [self.prefix]
        for part in self.shapes[shape]:
            if not isinstance(part, Field):
                parts.append(part)
                continue
            shown = part.show(values[part.name])
            if not re.fullmatch(part.pattern, shown):
                raise CallbackDataError(
                    f"{self.prefix}:{shape}: {part.name}={shown!r} is not /{part.pattern}/")
            parts.append(shown)
        data = ":".join(parts)
        if len(data.encode()) > MAX_BYTES:
            raise CallbackDataError(
                f"callback data {data!r} is {len(data.encode())} bytes; Telegram takes "
                f"{MAX_BYTES}")
        return data

    def decode(self, data: str | None) -> Pressed | None:
        """The shape and values of `data`; None for anything this prefix never encodes."""
        if not data or len(data.encode()) > MAX_BYTES:
            return None
        for shape, regex in self._regexes.items():
            match = regex.fullmatch(data)
            if match is None:
                continue
            values = {}
            for part in self.shapes[shape]:
                if isinstance(part, Field):
                    values[part.name] = part.parse(match.group(part.name))
                    if values[part.name] is None:
                        return None
            return Pressed(shape, values)
        return None


REGISTRY: dict[str, Buttons] = {}


def register(prefix: str, **shapes: tuple[Part, ...]) -> Buttons:
    """Declare a feature's buttons under a prefix no other feature uses."""
    if not _PREFIX.match(prefix):
        raise CallbackDataError(f"prefix {prefix!r}: one to three lowercase letters")
    if prefix in REGISTRY:
        raise CallbackDataError(f"prefix {prefix!r} is already registered")
    REGISTRY[prefix] = buttons = Buttons(prefix, shapes)
    return buttons
