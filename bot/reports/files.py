"""/unduh and /grafik and their buttons: the workbook and the charts. Read in one transaction,
rendered in a worker thread (CPU only), sent through the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot.calendar.periods import PeriodSpec, Span
from bot.org.models import Unit
from bot.platform.config import Settings
from bot.platform.texts import render
from bot.reports import charts, exports, many_units, one_unit
from bot.reports.replies import send_text, send_view
from bot.reports.scope import Scope, scope_for
from bot.reports.views import choose_unit_view, period_label, scope_rollup, span_for


@dataclass
class FileJob:
    kind: str  # unduh | grafik | peringkat
    unit: Unit  # for a ranking: the first unit of it (for the log)
    span: Span
    label: str
    data: object  # exports.WorkbookData | one_unit.DailySeries | many_units.Rollup


@dataclass
class RenderedFile:
    method_kind: str  # document | photo
    filename: str
    content: bytes
    caption: str


def prepare_file(session: Session, settings: Settings, unit: Unit, spec: PeriodSpec,
                 now: datetime, kind: str) -> FileJob:
    span = span_for(settings, unit, spec, now)
    label = period_label(span)
    if kind == "unduh":
        data: object = exports.collect(session, unit, span, now, label)
    else:
        data = one_unit.daily_series(session, unit, span)
    return FileJob(kind, unit, span, label, data)


def read_file_request(session: Session, settings: Settings, *, user_id: int, chat_id: int,
                      key: str, now: datetime, kind: str, unit_id: int | None,
                      spec: PeriodSpec, command: bool) -> tuple[Scope, FileJob | None, bool]:
    """/unduh, /grafik or their buttons: check the scope and read the data (one transaction).

    Returns the scope, the job to render (None when there is nothing to render: refused, or
    a list of units to choose from was queued instead) and False when refused. A refused
    command is answered here; a refused press is the caller's to toast.
    """
    scope = scope_for(session, settings, user_id)
    if not scope.allowed:
        if command:
            send_text(session, chat_id=chat_id, template="rekap_refused", key=key, now=now,
                      reason="no_role")
        return scope, None, False
    unit = scope.unit(unit_id) if unit_id is not None else (
        scope.units[0] if len(scope.units) == 1 else None)
    if kind in ("peringkat", "peringkatn"):
        if kind == "peringkat" and unit is None:
            return scope, None, False  # a unit outside the presser's scope
        return scope, prepare_ranking(session, settings, scope, unit if kind == "peringkat"
                                      else None, spec, now), True
    if unit is None:
        if unit_id is not None:
            return scope, None, False  # a unit outside the presser's scope
        if kind == "grafik":  # several units: their ranking
            return scope, prepare_ranking(session, settings, scope, None, spec, now), True
        view = choose_unit_view(session, settings, scope, spec, now, kind)
        send_view(session, chat_id=chat_id, view=view, key=key, now=now)
        return scope, None, True
    return scope, prepare_file(session, settings, unit, spec, now, kind), True


def prepare_ranking(session: Session, settings: Settings, scope: Scope,
                    kanwil_of: Unit | None, spec: PeriodSpec, now: datetime) -> FileJob:
    """The ranking chart's data: a Kanwil's units, or every Kanwil in scope (one Kanwil in
    scope: its units)."""
    if kanwil_of is None and len(scope.kanwils) == 1:
        kanwil_of = scope.units[0]
    roll = scope_rollup(session, settings, scope, kanwil_of, spec, now)
    label = period_label(roll.span)
    return FileJob("peringkat", scope.units[0], roll.span, label, roll)


def render_file(job: FileJob) -> RenderedFile:
    """CPU only (openpyxl or matplotlib): run it with asyncio.to_thread."""
    if job.kind == "unduh":
        data = job.data
        assert isinstance(data, exports.WorkbookData)
        content = exports.render_workbook(data)
        name, kind = exports.filename(job.unit, job.span), "document"
        total, missed = data.rekap.total, len(data.rekap.missed)
    elif job.kind == "peringkat":
        roll = job.data
        assert isinstance(roll, many_units.Rollup)
        content = charts.render_ranking(roll, job.label)
        name, kind = charts.ranking_filename(roll), "photo"
        total, missed = roll.total, roll.missed
    else:
        series = job.data
        assert isinstance(series, one_unit.DailySeries)
        content = charts.render_chart(series, job.label)
        name, kind = charts.filename(series), "photo"
        total, missed = series.total, series.missed_apel
    ranking = job.data if job.kind == "peringkat" else None
    caption = render("rekap_file_caption", kind=kind, unit=job.unit, period=job.label,
                     total=total, missed=missed, ranking=ranking)
    return RenderedFile(kind, name, content, caption)
