"""The periods a Kalapas can ask about, in the unit's own calendar.

`hari ini`, `kemarin`, `minggu ini` (Monday to today), `bulan ini` (the 1st to today),
`periode` (the pledge period of config.toml), a date `DD-MM-YYYY` or a range
`DD-MM-YYYY s.d. DD-MM-YYYY`. A period is kept as a spec (what was asked) and resolved per unit
into duty dates, because "today" in Palu (WITA) starts an hour before "today" in Cilacap (WIB).

Buttons carry a period as a short token: h k m b p, or YYYYMMDDYYYYMMDD for a range.

The same date grammar serves the unit commands (/cuti, /tukar, /koreksi, /jadwal): split_dates
finds a day or a range of days (`hari ini`, `kemarin`, `besok`, `lusa`, `DD-MM-YYYY`, with the
same range words) inside free text, as DateWords resolved later against a unit's today.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

TODAY, YESTERDAY, WEEK, MONTH, PERIOD, RANGE = (
    "today", "yesterday", "week", "month", "period", "range")
MAX_DAYS = 731  # two years: longer ranges are refused rather than ground through

_WORDS = {
    "hari ini": TODAY, "hariini": TODAY, "sekarang": TODAY,
    "kemarin": YESTERDAY,
    "minggu ini": WEEK, "pekan ini": WEEK,
    "bulan ini": MONTH,
    "periode": PERIOD, "periode ini": PERIOD,
}
_TOKENS = {TODAY: "h", YESTERDAY: "k", WEEK: "m", MONTH: "b", PERIOD: "p"}
_FROM_TOKEN = {v: k for k, v in _TOKENS.items()}
# One day in the unit commands: these words (days from today) or a date.
_DAY_WORDS = {"kemarin": -1, "hari ini": 0, "besok": 1, "lusa": 2}
_DATE = r"\d{1,2}[-/.]\d{1,2}[-/.]\d{4}"  # DD-MM-YYYY, also with / or .
_SEP = r"\s*(?:s\.?\s?d\.?|s/d|sampai(?:\s+dengan)?|hingga|-|–|—)\s*"
_RANGE_RE = re.compile(rf"^({_DATE}){_SEP}({_DATE})$")
_ONE_DATE_RE = re.compile(rf"^{_DATE}$")
_DAY = "(?:" + "|".join([w.replace(" ", r"\s+") for w in _DAY_WORDS] + [_DATE]) + ")"
# A day or a range anywhere in free text (/cuti Budi 26-11-2024 s.d. 28-11-2024 sakit).
_DATES_RE = re.compile(rf"(?<!\S)({_DAY})(?:{_SEP}({_DAY}))?(?!\S)", re.IGNORECASE)
# A period phrase at the end of free text (/status Budi minggu ini).
_SUFFIX_RE = re.compile(
    rf"(?:^|\s)({'|'.join(sorted((re.escape(w) for w in _WORDS), key=len, reverse=True))}"
    rf"|{_DATE}{_SEP}{_DATE}|{_DATE})$")


class PeriodError(ValueError):
    """Not a period we understand; `reason` picks the explanation shown to the person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # unknown | bad_date | reversed | too_long


@dataclass(frozen=True)
class PeriodSpec:
    kind: str
    start: date | None = None  # RANGE only
    end: date | None = None

    @property
    def token(self) -> str:
        if self.kind == RANGE:
            return f"{self.start:%Y%m%d}{self.end:%Y%m%d}"
        return _TOKENS[self.kind]


@dataclass(frozen=True)
class Span:
    """A spec resolved for one unit: inclusive duty dates."""

    spec: PeriodSpec
    start: date
    end: date
    period_name: str | None = None

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def token(self) -> str:
        return self.spec.token

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def single_day(self) -> bool:
        return self.start == self.end


SPEC_TODAY = PeriodSpec(TODAY)
SPEC_PERIOD = PeriodSpec(PERIOD)
# The buttons under every report, in this order.
BUTTON_SPECS = (PeriodSpec(TODAY), PeriodSpec(YESTERDAY), PeriodSpec(WEEK), PeriodSpec(MONTH),
                PeriodSpec(PERIOD))


def _normalise(text: str) -> str:
    return " ".join(text.casefold().split())


def parse_date(text: str) -> date:
    """`DD-MM-YYYY` (or with / or .) -> a date. Raises PeriodError."""
    parts = re.split(r"[-/.]", text.strip())
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise PeriodError("unknown")
    try:
        return date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        raise PeriodError("bad_date") from None


def _range(start: date, end: date) -> PeriodSpec:
    if end < start:
        raise PeriodError("reversed")
    if (end - start).days + 1 > MAX_DAYS:
        raise PeriodError("too_long")
    return PeriodSpec(RANGE, start, end)


def parse_period(text: str | None, default: PeriodSpec = SPEC_TODAY) -> PeriodSpec:
    """The words a person typed after the command -> a spec. Raises PeriodError."""
    words = _normalise(text or "")
    if not words:
        return default
    if words in _WORDS:
        return PeriodSpec(_WORDS[words])
    match = _RANGE_RE.match(words)
    if match:
        return _range(parse_date(match.group(1)), parse_date(match.group(2)))
    if _ONE_DATE_RE.match(words):
        day = parse_date(words)
        return PeriodSpec(RANGE, day, day)
    raise PeriodError("unknown")


def split_period(text: str | None, default: PeriodSpec) -> tuple[str, PeriodSpec]:
    """`Budi Santoso minggu ini` -> ("Budi Santoso", week). Raises PeriodError for a bad date."""
    words = " ".join((text or "").split())
    match = _SUFFIX_RE.search(words.casefold())
    if not match:
        return words, default
    rest = words[:match.start(1)].strip()
    return rest, parse_period(match.group(1), default)


@dataclass(frozen=True)
class DateWords:
    """A day or a range as typed in a unit command, resolved against a unit's today later."""

    first: str
    last: str | None = None

    def resolve(self, today: date) -> tuple[date, date] | None:
        """(start, end), not checked for order; None for a date that does not exist."""
        try:
            start = day_from_words(self.first, today)
            end = day_from_words(self.last, today) if self.last else start
        except PeriodError:
            return None
        return start, end


def day_from_words(word: str, today: date) -> date:
    """`besok` -> today + 1, `26-11-2024` -> that date. Raises PeriodError."""
    word = _normalise(word)
    if word in _DAY_WORDS:
        return today + timedelta(days=_DAY_WORDS[word])
    return parse_date(word)


def split_dates(text: str) -> tuple[str, DateWords | None, str]:
    """'Budi 26-11-2024 s.d. 28-11-2024 sakit' -> ('Budi', DateWords(...), 'sakit')."""
    match = _DATES_RE.search(text)
    if match is None:
        return text.strip(), None, ""
    return (text[:match.start()].strip(), DateWords(match.group(1), match.group(2)),
            text[match.end():].strip())


def local_today(zone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


def spec_from_token(token: str | None) -> PeriodSpec | None:
    """A token from button data -> spec; anything malformed -> None."""
    if not token:
        return None
    if token in _FROM_TOKEN:
        return PeriodSpec(_FROM_TOKEN[token])
    if len(token) == 16 and token.isdigit():
        try:
            return _range(datetime.strptime(token[:8], "%Y%m%d").date(),
                          datetime.strptime(token[8:], "%Y%m%d").date())
        except (ValueError, PeriodError):
            return None
    return None


def resolve(spec: PeriodSpec, zone: str, now: datetime,
            pledge_period: tuple[str, date, date]) -> Span:
    """The spec in the calendar of a unit in `zone` at `now`."""
    today = local_today(zone, now)
    if spec.kind == TODAY:
        return Span(spec, today, today)
    if spec.kind == YESTERDAY:
        day = today - timedelta(days=1)
        return Span(spec, day, day)
    if spec.kind == WEEK:
        return Span(spec, today - timedelta(days=today.weekday()), today)
    if spec.kind == MONTH:
        return Span(spec, today.replace(day=1), today)
    if spec.kind == PERIOD:
        name, start, end = pledge_period
        return Span(spec, start, end, name)
    assert spec.start is not None and spec.end is not None
    return Span(spec, spec.start, spec.end)
