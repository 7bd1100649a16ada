"""The settings of config.toml, as validated models; each key's own rules are checked here.

Reading the file, the checks that span several keys and the operator's messages are in
bot/platform/config_loading.py (parse_settings, load_settings). Every error names the key and
what was expected.
"""

from __future__ import annotations

import os
from datetime import date, time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

SLOTS: tuple[str, ...] = ("pagi", "siang", "malam")
OFF_DUTY = "libur"
TIMEZONES: dict[str, str] = {
    "Asia/Jakarta": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}
UNIT_KINDS = ("Lapas", "Rutan", "LPKA")

Slot = Literal["pagi", "siang", "malam"]
# Telegram ids have at most 52 significant bits; anything longer is a typo (and would not fit
# the database's BIGINT either).
TELEGRAM_ID_LIMIT = 2**52


class ConfigError(Exception):
    """Invalid configuration; the message is for an operator and names the key."""


def _telegram_id(v: int) -> int:
    if abs(v) >= TELEGRAM_ID_LIMIT:
        raise ValueError(f"{v} is not a Telegram id (those have at most 52 bits)")
    return v


def _group_id(v: int) -> int:
    if _telegram_id(v) >= 0:
        raise ValueError(f"{v} is a private chat (a person); a group's chat id is negative, "
                         "e.g. -1001234567890 (README: finding a group's chat id)")
    return v


ChatId = Annotated[int, AfterValidator(_telegram_id)]
GroupChatId = Annotated[int, AfterValidator(_group_id)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TelegramConfig(_Strict):
    token: SecretStr | None = None
    token_env: str = "APEL_BOT_TOKEN"  # noqa: S105 (the variable name, not a secret)
    base_url: str | None = None
    base_file_url: str | None = None
    operator_chat_id: ChatId | None = None
    admin_user_ids: list[ChatId] = Field(default_factory=list)
    tally_edit_seconds: float = Field(default=5.0, ge=1.0, le=60.0)
    # "polling" (getUpdates) or "webhook": Telegram POSTs each update to webhook_url, which a
    # reverse proxy forwards to [http] listen; the path of webhook_url is the route served.
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    # Telegram sends it in X-Telegram-Bot-Api-Secret-Token; anything without it is refused.
    webhook_secret_env: str = "APEL_WEBHOOK_SECRET"  # noqa: S105 (the variable name)
    webhook_secret: SecretStr | None = None
    # Updates Telegram delivers at once (1-100; its own default is 40). Each holds its
    # connection for a round trip from Telegram and back (0.2-0.3 s from Indonesia) plus the
    # inbox commit, so this over the round trip is the most presses a second it can bring.
    webhook_max_connections: int = Field(default=100, ge=1, le=100)

    def resolved_token(self) -> str | None:
        from_env = os.environ.get(self.token_env)
        if from_env:
            return from_env.strip()
        return self.token.get_secret_value() if self.token else None

    def resolved_webhook_secret(self) -> str | None:
        from_env = os.environ.get(self.webhook_secret_env)
        if from_env:
            return from_env.strip()
        return self.webhook_secret.get_secret_value() if self.webhook_secret else None


class HttpConfig(_Strict):
    # "host:port" of GET /healthz and GET /metrics; empty: no HTTP server.
    listen: str = ""

    @field_validator("listen")
    @classmethod
    def _host_and_port(cls, v: str) -> str:
        if not v:
            return v
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected host:port such as 127.0.0.1:8080, got {v!r}")
        return v


class DatabaseConfig(_Strict):
    url: str = "sqlite:///apel.db"

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, v: str) -> str:
        if not v.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("expected a sqlite:/// or postgresql:// URL")
        return v


class ApelTimes(_Strict):
    pagi: time = time(7, 0)
    siang: time = time(13, 0)
    malam: time = time(19, 0)

    @model_validator(mode="after")
    def _in_order(self) -> ApelTimes:
        if not self.pagi < self.siang < self.malam:
            raise ValueError(
                f"the apel must follow each other within the day, pagi < siang < malam; got "
                f"pagi {self.pagi:%H:%M}, siang {self.siang:%H:%M}, malam {self.malam:%H:%M}")
        return self

    def of(self, slot: str) -> time:
        return getattr(self, slot)


class ReguConfig(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=60)]
    chat_id: GroupChatId


class RotationOverride(_Strict):
    date: date
    slot: Slot
    regu: str


class RotationConfig(_Strict):
    anchor_date: date
    # The states a regu passes through, one per day; on the anchor date the first regu of
    # `order` is in cycle[0], the second in cycle[1], ... and each day every regu moves one on.
    cycle: list[Literal["pagi", "siang", "malam", "libur"]] = Field(
        default_factory=lambda: ["pagi", "siang", "malam", "libur"]
    )
    order: list[str] = Field(default_factory=list)
    overrides: list[RotationOverride] = Field(default_factory=list)

    @field_validator("cycle")
    @classmethod
    def _cycle_covers_slots(cls, v: list[str]) -> list[str]:
        for slot in SLOTS:
            if v.count(slot) != 1:
                raise ValueError(f"expected each of pagi, siang, malam exactly once, got {v}")
        return v


class UnitConfig(_Strict):
    code: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$")]
    name: Annotated[str, Field(min_length=3, max_length=120)]
    kind: Literal["Lapas", "Rutan", "LPKA"]
    kanwil: Annotated[str, Field(min_length=3, max_length=120)]
    timezone: Literal["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"]
    apel_times: ApelTimes = Field(default_factory=ApelTimes)
    late_after_minutes: int = Field(default=15, ge=1, le=180)
    deadline_minutes: int = Field(default=30, ge=1, le=240)
    kalapas_chat_id: ChatId
    admin_group_chat_id: GroupChatId | None = None
    regu: list[ReguConfig]
    rotation: RotationConfig

    @model_validator(mode="after")
    def _consistent(self) -> UnitConfig:
        names = [r.name for r in self.regu]
        if len(set(names)) != len(names):
            raise ValueError("regu names must be unique within a unit")
        order = self.rotation.order or names
        unknown = [n for n in order if n not in names]
        if unknown:
            raise ValueError(f"rotation.order names unknown regu {unknown}")
        if len(order) != len(self.rotation.cycle):
            raise ValueError(
                f"rotation.order has {len(order)} regu but rotation.cycle has "
                f"{len(self.rotation.cycle)} states; they must match"
            )
        for ov in self.rotation.overrides:
            if ov.regu not in names:
                raise ValueError(f"rotation.overrides: unknown regu {ov.regu!r} on {ov.date}")
        if self.late_after_minutes > self.deadline_minutes:
            raise ValueError("late_after_minutes must not exceed deadline_minutes")
        return self

    @property
    def rotation_order(self) -> list[str]:
        return self.rotation.order or [r.name for r in self.regu]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def zone_abbr(self) -> str:
        return TIMEZONES[self.timezone]


MAX_POINT, MAX_TOPIC = 300, 1000  # characters of a pledge point, of a topic


class PeriodConfig(_Strict):
    name: Annotated[str, Field(min_length=3, max_length=120)]
    start: date
    end: date
    # Bounded so a briefing, with its tally line, always fits one message: the tally edits it.
    pledge_points: list[Annotated[str, Field(min_length=3, max_length=MAX_POINT)]]
    topics: list[Annotated[str, Field(min_length=3, max_length=MAX_TOPIC)]] = Field(
        default_factory=list)
    # The integrity pact signed once per period. None: messages/pakta_text.html.j2 builds it
    # from the pledge points.
    pakta_text: Annotated[str, Field(min_length=20, max_length=3000)] | None = None

    @model_validator(mode="after")
    def _dates(self) -> PeriodConfig:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        if len(self.pledge_points) != 4:
            raise ValueError("pledge_points must hold the four points of the ikrar")
        return self


class CalendarConfig(_Strict):
    cuti_bersama: list[date] = Field(default_factory=list)
    extra_holidays: list[date] = Field(default_factory=list)


class PaktaConfig(_Strict):
    # Remind those who have not signed every this many days from the period start (0: never),
    # at this local time of their unit.
    reminder_days: int = Field(default=3, ge=0, le=60)
    reminder_time: time = time(9, 0)


class AuditConfig(_Strict):
    key_file: str = "apel-audit.key"
    origin: str = "apel-bot"
    # A chat that keeps every checkpoint (after each apel closes and daily). Empty: the
    # Kalapas of each unit receives one a day, and nothing after each apel.
    archive_chat_id: ChatId | None = None


class AnnouncementsConfig(_Strict):
    remind_after_minutes: int = Field(default=120, ge=1, le=10080)
    # A /umumkan conversation left idle this long is cancelled (the draft is dropped).
    compose_timeout_minutes: float = Field(default=15.0, gt=0, le=240)


class ReportsConfig(_Strict):
    # A weekly digest to each Kalapas: last week's share, the worst regu, who missed three or
    # more apel, with the chart; on Monday at digest_time (left out: the unit's apel pagi).
    weekly_digest: bool = False
    digest_time: time | None = None


# How a roster jabatan stands the apel (config key `attendance`).
STANDS_WITH_REGU, STANDS_WITH_ADMINISTRATION, STANDS_NONE = "regu", "administration", "none"
Stands = Literal["regu", "administration", "none"]
ROLES_WITH_REGU = ("anggota", "karupam")  # the roster's jabatan that belong to a regu


class AttendanceConfig(_Strict):
    """Which apel each roster jabatan stands: with their regu, the apel pagi on working days
    with the administration staff, or none. The Kalapas receives the reports, so by default he
    stands none; the KPLP leads the apel pagi and pledges with the administration staff."""

    anggota: Stands = STANDS_WITH_REGU
    karupam: Stands = STANDS_WITH_REGU
    kplp: Stands = STANDS_WITH_ADMINISTRATION
    kalapas: Stands = STANDS_NONE
    staf: Stands = STANDS_WITH_ADMINISTRATION

    @field_validator("anggota", "karupam")
    @classmethod
    def _has_regu(cls, v: str) -> str:
        if v == STANDS_WITH_ADMINISTRATION:
            raise ValueError(f"this jabatan belongs to a regu; use {STANDS_WITH_REGU!r} or "
                             f"{STANDS_NONE!r}")
        return v

    @field_validator("kplp", "kalapas", "staf")
    @classmethod
    def _has_no_regu(cls, v: str) -> str:
        if v == STANDS_WITH_REGU:
            raise ValueError(f"only {' and '.join(ROLES_WITH_REGU)} belong to a regu; use "
                             f"{STANDS_WITH_ADMINISTRATION!r} or {STANDS_NONE!r}")
        return v

    def of(self, role: str) -> str:
        """How this jabatan stands; one the config does not know follows its regu."""
        return getattr(self, role) if role in type(self).model_fields else STANDS_WITH_REGU


class Settings(_Strict):
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    calendar: CalendarConfig = Field(default_factory=CalendarConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    pakta: PaktaConfig = Field(default_factory=PaktaConfig)
    announcements: AnnouncementsConfig = Field(default_factory=AnnouncementsConfig)
    attendance: AttendanceConfig = Field(default_factory=AttendanceConfig)
    reports: ReportsConfig = Field(default_factory=ReportsConfig)
    period: PeriodConfig
    units: list[UnitConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Settings:
        codes = [u.code for u in self.units]
        dupes = {c for c in codes if codes.count(c) > 1}
        if dupes:
            raise ValueError(f"unit codes must be unique, repeated: {sorted(dupes)}")
        return self

    def unit(self, code: str) -> UnitConfig:
        for u in self.units:
            if u.code == code:
                return u
        raise KeyError(code)
