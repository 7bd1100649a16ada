"""Every text a person reads: Jinja2 templates in messages/, Indonesian, with Babel dates."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.platform.config import TIMEZONES

MESSAGES_DIR = Path(__file__).resolve().parents[1] / "messages"
# Parsed once: Babel would otherwise build the locale again for every date it formats.
LOCALE = Locale.parse("id_ID")


def _local_day(value: date | datetime, zone: str | None) -> date | datetime:
    """An instant in the unit's zone; a date as it is. An instant without a zone is refused:
    stored times are UTC, and printed as such they show the wrong day near midnight."""
    if not isinstance(value, datetime):
        return value
    if zone is None:
        raise TypeError("a datetime needs the unit's time zone to be printed as a date")
    return value.astimezone(ZoneInfo(zone))


def tanggal(value: date | datetime, zone: str | None = None) -> str:
    """'Selasa, 26 November 2024'."""
    return format_date(_local_day(value, zone), "EEEE, d MMMM y", locale=LOCALE)


def tanggal_pendek(value: date | datetime, zone: str | None = None) -> str:
    """'26-11-2024', the form users type."""
    return _local_day(value, zone).strftime("%d-%m-%Y")


def jam(value: datetime, zone: str) -> str:
    """'07.30 WITA': local time with the Indonesian zone name."""
    local = value.astimezone(ZoneInfo(zone))
    return f"{format_time(local, 'HH.mm', locale=LOCALE)} {TIMEZONES.get(zone, zone)}"


def persen(part: int, whole: int) -> str:
    if whole == 0:
        return "-"
    return f"{100 * part / whole:.0f}%".replace(".", ",")


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(MESSAGES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,  # a missing variable is an error, never a silent blank
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,  # templates are part of the release; no stat() per render
    )
    env.filters.update(tanggal=tanggal, tanggal_pendek=tanggal_pendek, jam=jam)
    env.globals.update(persen=persen)
    return env


@cache
def _template_file(name: str) -> str:
    for candidate in (f"{name}.html.j2", f"{name}.txt.j2"):
        if (MESSAGES_DIR / candidate).is_file():
            return candidate
    raise LookupError(f"no template messages/{name}.html.j2 or .txt.j2")


def render(name: str, /, **context: object) -> str:
    """Render messages/<name>.html.j2 (Telegram HTML, escaped) or messages/<name>.txt.j2."""
    return environment().get_template(_template_file(name)).render(**context).strip()
