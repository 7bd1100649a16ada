"""config.toml -> Settings: read, validate, check the keys that span several, and say what is wrong.

The models are in bot/platform/config.py; every error here names the key and what was expected.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time
from pathlib import Path

from pydantic import ValidationError

from bot.platform.config import SLOTS, ConfigError, Settings

Problem = tuple[str, str]  # (key path, what is wrong, naming the value)


def _key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _pydantic_problem(e: dict) -> Problem:
    key = _key_path(tuple(p for p in e["loc"] if p not in ("function-after",)))
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "missing":
        msg = "this key is required"
    elif e["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling against config.example.toml)"
    elif e["type"] != "value_error" and "token" not in key and _scalar(e.get("input")):
        msg += f" (got {e['input']!r})"  # our own value errors name the value themselves
    return key, msg


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float | date | time)


def _format(source: str, problems: list[Problem]) -> str:
    lines = [f"Invalid configuration in {source}:"]
    lines += [f"  - {key}: {msg}" for key, msg in problems]
    return "\n".join(lines)


def format_validation_error(err: ValidationError, source: str) -> str:
    return _format(source, [_pydantic_problem(e) for e in err.errors()])


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


def _window_problems(settings: Settings) -> Iterator[Problem]:
    """Each apel must close (deadline) no later than the next one starts, tomorrow's pagi too."""
    for i, unit in enumerate(settings.units):
        starts = [t.hour * 60 + t.minute for t in (unit.apel_times.of(s) for s in SLOTS)]
        nexts = [*starts[1:], starts[0] + 24 * 60]
        for slot, start, nxt, nxt_slot in zip(SLOTS, starts, nexts, (*SLOTS[1:], "pagi"),
                                              strict=True):
            if start + unit.deadline_minutes > nxt:
                yield (f"units[{i}].deadline_minutes",
                       f"{unit.deadline_minutes} closes the {slot} apel ({_hhmm(start)}) at "
                       f"{_hhmm(start + unit.deadline_minutes)}, after the {nxt_slot} apel "
                       f"starts ({_hhmm(nxt)}); shorten it or move apel_times")
                break


def _regu_chats(settings: Settings) -> Iterator[tuple[str, int, str]]:
    for i, unit in enumerate(settings.units):
        for j, regu in enumerate(unit.regu):
            yield (f"units[{i}].regu[{j}].chat_id", regu.chat_id,
                   f"regu {regu.name!r} of unit {unit.code}")


def _other_chats(settings: Settings) -> Iterator[tuple[str, int | None]]:
    yield "telegram.operator_chat_id", settings.telegram.operator_chat_id
    yield "audit.archive_chat_id", settings.audit.archive_chat_id
    for i, unit in enumerate(settings.units):
        yield f"units[{i}].kalapas_chat_id", unit.kalapas_chat_id
        yield f"units[{i}].admin_group_chat_id", unit.admin_group_chat_id


def _chat_problems(settings: Settings) -> Iterator[Problem]:
    """A regu group belongs to that regu alone: no second regu, no reports, no alerts."""
    owner: dict[int, str] = {}
    for key, chat, who in _regu_chats(settings):
        if chat in owner:
            yield key, (f"{chat} ({who}) is already the group of {owner[chat]}; each regu "
                        "needs its own")
        owner.setdefault(chat, who)
    for key, chat in _other_chats(settings):
        if chat in owner:
            yield key, (f"{chat} is the group of {owner[chat]}; that regu would receive what "
                        "is meant for this chat")


Check = Callable[["Settings"], Iterable[Problem]]


def _webhook_problems(settings: Settings) -> Iterator[Problem]:
    """Webhook mode needs where Telegram posts, where this process listens, and the secret."""
    tg = settings.telegram
    if tg.mode != "webhook":
        return
    if not tg.webhook_url or not tg.webhook_url.startswith(("https://", "http://127.0.0.1")):
        yield "telegram.webhook_url", (f"{tg.webhook_url!r}: webhook mode needs the public "
                                       "https:// URL Telegram posts updates to")
    if not settings.http.listen:
        yield "http.listen", "webhook mode needs the HTTP server (host:port behind the proxy)"
    secret = tg.resolved_webhook_secret()
    if not secret or not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", secret):
        yield "telegram.webhook_secret", (f"set {tg.webhook_secret_env} (or webhook_secret) to "
                                          "16-256 letters, digits, _ or -")


def config_problems(settings: Settings, checks: Iterable[Check] = ()) -> list[Problem]:
    """Mistakes that span several keys, found before anything is written; `checks` adds those
    of the layers above (the audit key on disk: bot.audit.keys.key_file_problems)."""
    return [*_window_problems(settings), *_chat_problems(settings), *_webhook_problems(settings),
            *(problem for check in checks for problem in check(settings))]


def period_gap(settings: Settings, now: datetime) -> dict[str, date]:
    """The zones (of some unit) whose local date today lies outside [period], with that date."""
    days = {unit.timezone: now.astimezone(unit.zone).date() for unit in settings.units}
    period = settings.period
    return {zone: day for zone, day in sorted(days.items())
            if not period.start <= day <= period.end}


def period_warning(settings: Settings, now: datetime) -> str | None:
    """One log line when [period] does not cover today somewhere: no apel would open there."""
    gap = period_gap(settings, now)
    if not gap:
        return None
    period = settings.period
    where = ", ".join(f"{day} in {zone}" for zone, day in gap.items())
    return (f"period: {period.name!r} runs {period.start} to {period.end} but today is {where}; "
            "no apel opens there until [period] start/end in config.toml cover today")


def parse_settings(data: dict, source: str = "config", checks: Iterable[Check] = ()) -> Settings:
    try:
        settings = Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None
    problems = config_problems(settings, checks)
    if problems:
        raise ConfigError(_format(source, problems))
    return settings


def load_settings(path: str | Path, checks: Iterable[Check] = ()) -> Settings:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"Configuration file not found: {p}")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{p} is not valid TOML: {err}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p} is not UTF-8 text") from None
    return parse_settings(data, str(p), checks)
