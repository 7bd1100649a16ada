"""The weekly digest to each Kalapas: last week's share, the regu with the lowest share, who did
not pledge at three or more apel, and the week's chart (`[reports] weekly_digest`, off by
default).

Due from Monday at `digest_time` (default: the unit's apel pagi), local time, until it is
queued: the outbox key names the unit and the ISO week reported, so a restart, a second
process or a bot that was down on Monday sends it once, later in the week. The figures are
those of /rekap and /grafik (kept counts, one classification); read in a short transaction,
the chart rendered outside it, then queued in another.
"""

from __future__ import annotations

import logging
import time as monotonic_time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot.apel.models import Apel
from bot.calendar.periods import RANGE, PeriodSpec, Span
from bot.delivery import outbox
from bot.delivery.models import OutboxMessage
from bot.org.models import Unit
from bot.platform.config import Settings
from bot.platform.db import Database
from bot.platform.texts import render
from bot.reports import files, one_unit, per_person, replies, tally, views

log = logging.getLogger(__name__)

MISSED_AGAIN = 3  # apel missed in the week that put a person on the digest's list
BUDGET_S = 10.0  # per housekeeping pass; the rest wait for the next one


def key_for(unit_id: int, week_start: date) -> str:
    year, week, _ = week_start.isocalendar()
    return f"digest:{unit_id}:{year}-W{week:02d}"


def week_span(week_start: date) -> Span:
    end = week_start + timedelta(days=6)
    return Span(PeriodSpec(RANGE, week_start, end), week_start, end)


def due(session: Session, settings: Settings, now: datetime) -> list[tuple[Unit, date]]:
    """(unit, Monday of the week to report) for each unit whose digest is due and not queued:
    from this week's Monday at the digest time, for last week, if it held an apel."""
    if not settings.reports.weekly_digest:
        return []
    configured = {u.code: u for u in settings.units}
    candidates: dict[str, tuple[Unit, date]] = {}
    for unit in session.exec(select(Unit).where(Unit.active)):
        cfg = configured.get(unit.code)
        if cfg is None:
            continue
        local = now.astimezone(ZoneInfo(unit.timezone))
        monday = local.date() - timedelta(days=local.weekday())
        at = settings.reports.digest_time or cfg.apel_times.pagi
        last_week = monday - timedelta(days=7)
        if local.date() == monday and local.time() < at:
            continue
        candidates[key_for(unit.id, last_week)] = (unit, last_week)
    if not candidates:
        return []
    sent = set(session.exec(select(OutboxMessage.key).where(
        col(OutboxMessage.key).in_(list(candidates)))))
    pending = [v for k, v in candidates.items() if k not in sent]
    held = _weeks_held(session, pending) if pending else set()
    return [(u, w) for u, w in pending if (u.id, w) in held]


def _weeks_held(session: Session, wanted: list[tuple[Unit, date]]) -> set[tuple[int, date]]:
    """(unit id, week) of those `wanted` with some apel that week: nothing to say otherwise."""
    held: set[tuple[int, date]] = set()
    for week_start in {w for _, w in wanted}:
        ids = [u.id for u, w in wanted if w == week_start]
        held |= {(i, week_start) for i in session.exec(select(Apel.unit_id).distinct().where(
            col(Apel.unit_id).in_(ids), Apel.duty_date >= week_start,
            Apel.duty_date <= week_start + timedelta(days=6)))}
    return held


@dataclass
class Digest:
    unit: Unit
    key: str
    job: files.FileJob  # the week's chart, rendered outside the transaction
    text: str


def collect(session: Session, unit: Unit, week_start: date) -> Digest:
    span = week_span(week_start)
    label = views.period_label(span)
    series = one_unit.daily_series(session, unit, span)
    groups = []
    for name, points in series.series:
        groups.append((name, tally.total(points.values())))
    worst = min(groups, key=lambda g: tally.worst_first(g[1], g[0]), default=None)
    if worst is not None and not worst[1].due:
        worst = None
    missers = [p for p in per_person.person_totals(session, unit, span)
               if p.total.missing >= MISSED_AGAIN]
    missers.sort(key=lambda p: (-p.total.missing, p.name))
    text = render("rekap_digest", unit=unit, period=label, span=span, total=series.total,
                  worst=worst, missers=missers, at_least=MISSED_AGAIN,
                  missed=series.missed_apel)
    return Digest(unit, key_for(unit.id, week_start),
                  files.FileJob("grafik", unit, span, label, series), text)


def queue(session: Session, digest: Digest, chart: files.RenderedFile, now: datetime) -> int:
    """The text, then the chart, to the Kalapas' chat. Idempotent by key."""
    chat_id = digest.unit.kalapas_chat_id
    outbox.send_message(session, key=digest.key, chat_id=chat_id, text=digest.text, now=now)
    replies.send_file(session, chat_id=chat_id, kind=chart.method_kind,
                      filename=chart.filename, content=chart.content, caption=chart.caption,
                      key=f"{digest.key}:chart", now=now)
    return 2


def send_due(db: Database, settings: Settings, now: datetime,
             budget_s: float = BUDGET_S) -> int:
    """Queue every digest that is due (within the time budget); how many messages queued."""
    queued, until = 0, monotonic_time.monotonic() + budget_s
    for unit, week_start in db.read(lambda s: due(s, settings, now)):
        if monotonic_time.monotonic() > until:
            break
        digest = db.read(lambda s, u=unit, w=week_start: collect(s, u, w))
        chart = files.render_file(digest.job)  # CPU only, outside any transaction
        queued += db.call(lambda s, d=digest, c=chart: queue(s, d, c, now))
        log.info("weekly digest queued for unit %s, week of %s", unit.code, week_start)
    return queued
