"""The answers to /rekap, /belum, /status, /regu as texts and buttons, and the `q:` button data.

Who may see what is decided here, from the database (bot/org/access.py), on every command
and on every button press: button data only says what was asked, never who may ask it.

Button data (at most 64 bytes, validated by parse_callback):
    q:rekap:<period>                 the asker's whole scope (roll-up if several units)
    q:kanwil:<unit id>:<period>      roll-up of the Kanwil of that unit
    q:unit:<unit id>:<period>        one unit, per apel and regu
    q:belum:<unit id>                who has not pledged at the current or last apel
    q:unduh:<unit id>:<period>       the XLSX workbook
    q:grafik:<unit id>:<period>      the PNG chart
    q:peringkat:<unit id>:<period>   the PNG ranking of the units of that unit's Kanwil
    q:peringkatn:<period>            the PNG ranking of the Kanwil (the asker's whole scope)
    q:status:<employee id>:<period>  one person's record
    q:regu:<regu id>:<period>        one regu, person by person
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bot.apel.closing import build_report
from bot.calendar.periods import (
    BUTTON_SPECS,
    SPEC_TODAY,
    PeriodSpec,
    Span,
    resolve,
    spec_from_token,
)
from bot.delivery import outbox
from bot.models import Employee, Regu, Unit
from bot.org import people
from bot.org.access import Actor, actor_for, visible_units
from bot.platform.config import Settings
from bot.platform.texts import render
from bot.reports import charts, exports, many_units, one_unit, per_person, tally

log = logging.getLogger(__name__)

PREFIX = "q:"
# action -> (takes an id, takes a period)
ACTIONS: dict[str, tuple[bool, bool]] = {
    "rekap": (False, True), "kanwil": (True, True), "unit": (True, True),
    "belum": (True, False), "unduh": (True, True), "grafik": (True, True),
    "status": (True, True), "regu": (True, True), "peringkat": (True, True),
    "peringkatn": (False, True),
}
FILE_ACTIONS = ("unduh", "grafik", "peringkat", "peringkatn")  # answered with a file
MAX_CHOICES = 8
MAX_LIST = 15  # names/dates listed in one message before "and N more"


# --- scope -------------------------------------------------------------------------------------


@dataclass
class Scope:
    actor: Actor
    units: list[Unit]

    @property
    def allowed(self) -> bool:
        return bool(self.units)

    def unit(self, unit_id: int | None) -> Unit | None:
        return next((u for u in self.units if u.id == unit_id), None)

    @property
    def kanwils(self) -> list[str]:
        return sorted({u.kanwil for u in self.units})


def scope_for(session: Session, settings: Settings, telegram_user_id: int) -> Scope:
    """Who asks and the units they may see: access.visible_units, the one rule."""
    actor = actor_for(session, settings, telegram_user_id)
    return Scope(actor, visible_units(session, actor))


def log_refusal(what: str, telegram_user_id: int | None, scope: Scope | None,
                detail: str = "") -> None:
    roles = sorted(scope.actor.roles) if scope else []
    log.warning("report request refused: %s by tg:%s (roles %s) %s", what, telegram_user_id,
                roles or "none", detail)


# --- button data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Press:
    action: str
    target: int | None
    spec: PeriodSpec | None


def callback(action: str, target: int | None = None, spec: PeriodSpec | None = None) -> str:
    takes_id, takes_period = ACTIONS[action]
    parts = [action]
    if takes_id:
        parts.append(str(target))
    if takes_period:
        parts.append(spec.token if spec else "h")
    return PREFIX + ":".join(parts)


def parse_callback(data: str | None) -> Press | None:
    """`q:...` -> Press; forged, truncated or foreign data -> None."""
    if not data or not data.startswith(PREFIX) or len(data) > 64:
        return None
    parts = data[len(PREFIX):].split(":")
    if not parts or parts[0] not in ACTIONS:
        return None
    takes_id, takes_period = ACTIONS[parts[0]]
    if len(parts) != 1 + takes_id + takes_period:
        return None
    target = None
    if takes_id:
        raw = parts[1]
        if not raw.isdigit() or len(raw) > 12:
            return None
        target = int(raw)
    spec = None
    if takes_period:
        spec = spec_from_token(parts[-1])
        if spec is None:
            return None
    return Press(parts[0], target, spec)


# --- views -------------------------------------------------------------------------------------


@dataclass
class View:
    text: str  # a long one is sent in several messages (outbox.enqueue splits it)
    keyboard: list[list[dict]] | None = None


def span_for(settings: Settings, unit: Unit, spec: PeriodSpec, now: datetime) -> Span:
    p = settings.period
    return resolve(spec, unit.timezone, now, (p.name, p.start, p.end))


def period_label(span: Span) -> str:
    return render("rekap_period", span=span)


def _button(label_part: str, data: str, **ctx: object) -> dict:
    return outbox.button(render("rekap_button", part=label_part, **ctx), data)


def _period_rows(action: str, target: int | None, current: PeriodSpec) -> list[list[dict]]:
    buttons = [_button("period", callback(action, target, spec), kind=spec.kind,
                       current=spec == current) for spec in BUTTON_SPECS]
    return [buttons[:3], buttons[3:]]


def _pairs(buttons: list[dict]) -> list[list[dict]]:
    return [buttons[i:i + 2] for i in range(0, len(buttons), 2)]


def rekap_view(session: Session, settings: Settings, scope: Scope, spec: PeriodSpec,
               now: datetime) -> View:
    """The asker's whole scope: one unit in detail, a Kanwil per unit, or per Kanwil."""
    if len(scope.units) == 1:
        return unit_view(session, settings, scope, scope.units[0], spec, now)
    if len(scope.kanwils) == 1:
        return kanwil_view(session, settings, scope, scope.units[0], spec, now)
    return national_view(session, settings, scope, spec, now)


def unit_view(session: Session, settings: Settings, scope: Scope, unit: Unit,
              spec: PeriodSpec, now: datetime) -> View:
    span = span_for(settings, unit, spec, now)
    rekap = one_unit.unit_rekap(session, unit, span)
    text = render("rekap_unit", rekap=rekap, unit=unit, period=period_label(span),
                  status_label=_status_label)
    keyboard = _period_rows("unit", unit.id, spec)
    keyboard.append([_button("belum", callback("belum", unit.id)),
                     _button("unduh", callback("unduh", unit.id, spec)),
                     _button("grafik", callback("grafik", unit.id, spec))])
    if len(scope.units) > 1:
        keyboard.append([_button("back", callback("kanwil", unit.id, spec))])
    return View(text, keyboard)


def scope_rollup(session: Session, settings: Settings, scope: Scope, kanwil_of: Unit | None,
                 spec: PeriodSpec, now: datetime) -> many_units.Rollup:
    """The units of `kanwil_of`'s Kanwil one by one, or (None) the whole scope per Kanwil;
    worst first."""
    units = scope.units if kanwil_of is None else [
        u for u in scope.units if u.kanwil == kanwil_of.kanwil]
    spans = {u.id: span_for(settings, u, spec, now) for u in units}
    return many_units.rollup(session, units, spans, spans[units[0].id],
                             by_kanwil=kanwil_of is None)


def kanwil_view(session: Session, settings: Settings, scope: Scope, any_unit: Unit,
                spec: PeriodSpec, now: datetime) -> View:
    roll = scope_rollup(session, settings, scope, any_unit, spec, now)
    keyboard = _rollup_rows(roll, "kanwil", "unit", any_unit.id, spec)
    keyboard.append([_button("ranking", callback("peringkat", any_unit.id, spec))])
    if len(scope.kanwils) > 1:
        keyboard[-1].append(_button("back", callback("rekap", None, spec)))
    return View(render("rekap_rollup", roll=roll, period=period_label(roll.span)), keyboard)


def national_view(session: Session, settings: Settings, scope: Scope, spec: PeriodSpec,
                  now: datetime) -> View:
    roll = scope_rollup(session, settings, scope, None, spec, now)
    keyboard = _rollup_rows(roll, "rekap", "kanwil", None, spec)
    keyboard.append([_button("ranking", callback("peringkatn", None, spec))])
    return View(render("rekap_rollup", roll=roll, period=period_label(roll.span)), keyboard)


def _rollup_rows(roll: many_units.Rollup, action: str, drill: str, target: int | None,
                 spec: PeriodSpec) -> list[list[dict]]:
    """Period buttons, then one button per line (in the roll-up's order) to drill into."""
    return _period_rows(action, target, spec) + _pairs(
        [_button("unit", callback(drill, line.key_unit_id, spec), name=line.name,
                 total=line.total) for line in roll.lines][:80])


def choose_unit_view(session: Session, settings: Settings, scope: Scope, spec: PeriodSpec,
                     now: datetime, command: str) -> View:
    """/belum, /unduh, /grafik for someone who sees several units: pick one from the rekap."""
    view = rekap_view(session, settings, scope, spec, now)
    intro = render("rekap_choose_unit", button=render("rekap_button", part=command))
    return View(intro + "\n\n" + view.text, view.keyboard)


def belum_command_view(session: Session, settings: Settings, scope: Scope,
                       now: datetime) -> View:
    """/belum: the one unit in scope, or a rekap to choose a unit from."""
    if len(scope.units) == 1:
        return belum_view(session, scope, scope.units[0], now)
    return choose_unit_view(session, settings, scope, SPEC_TODAY, now, "belum")


def usage_view(scope: Scope, command: str, text: str) -> View | None:
    """How to use `command` (e.g. /status with too short a name), for those allowed to."""
    if not scope.allowed:
        return None
    return View(render("rekap_usage", reason=command, text=text, command=command))


def press_view(session: Session, settings: Settings, scope: Scope, press: Press,
               now: datetime) -> View | None:
    """The view a `q:` button asks for (not unduh/grafik); None: outside the presser's scope."""
    action, target, spec = press.action, press.target, press.spec
    if action == "rekap":
        return rekap_view(session, settings, scope, spec, now)
    if action in ("kanwil", "unit", "belum"):
        unit = scope.unit(target)
        if unit is None:
            return None
        if action == "kanwil":
            return kanwil_view(session, settings, scope, unit, spec, now)
        if action == "unit":
            return unit_view(session, settings, scope, unit, spec, now)
        return belum_view(session, scope, unit, now)
    if action == "status":
        employee = session.get(Employee, target)
        if employee is None or scope.unit(employee.unit_id) is None:
            return None
        return status_view(session, settings, scope, employee, spec, now)
    regu_row = session.get(Regu, target)
    if regu_row is None or scope.unit(regu_row.unit_id) is None:
        return None
    return regu_view(session, settings, scope, regu_row, spec, now)


def belum_view(session: Session, scope: Scope, unit: Unit, now: datetime) -> View:
    apel = one_unit.last_apel(session, unit, now)
    report = None
    if apel is not None and apel.state != "missed":
        report = build_report(session, apel, at=now, reached_at=min(now, apel.deadline_at))
    # Every name: /belum is whom to call now. A long list leaves as several messages (the
    # outbox splits it at line ends), never cut short.
    text = render("rekap_belum", unit=unit, apel=apel, report=report, now=now, max_list=None)
    keyboard = [[_button("refresh", callback("belum", unit.id)),
                 _button("rekap_today", callback("unit", unit.id, None))]]
    return View(text, keyboard)


# --- /status -----------------------------------------------------------------------------------


def status_search_view(session: Session, settings: Settings, scope: Scope, query: str,
                       spec: PeriodSpec, now: datetime) -> View:
    found = people.search(session, query, unit_ids=[u.id for u in scope.units],
                          include_inactive=True, limit=MAX_CHOICES)
    if len(found) == 1:
        return status_view(session, settings, scope, found[0], spec, now)
    if not found:
        return View(render("rekap_choose", kind="status", query=query, count=0, more=False))
    shown = found[:MAX_CHOICES]
    units = {u.id: u for u in scope.units}
    regus = tally.regu_names(session, list(units))
    buttons = [[_button("person", callback("status", e.id, spec), person=e,
                        regu=regus.get(e.regu_id) if e.regu_id else None,
                        unit=units[e.unit_id], several_units=len(units) > 1)]
               for e in shown]
    return View(render("rekap_choose", kind="status", query=query, count=len(shown),
                       more=len(found) > MAX_CHOICES), buttons)


def status_view(session: Session, settings: Settings, scope: Scope, employee: Employee,
                spec: PeriodSpec, now: datetime) -> View:
    unit = scope.unit(employee.unit_id)
    assert unit is not None, "the caller checks the scope"
    span = span_for(settings, unit, spec, now)
    record = per_person.person_record(session, employee, unit, span)
    text = render("rekap_status", record=record, unit=unit, period=period_label(span),
                  status_label=_status_label, max_list=MAX_LIST)
    return View(text, _period_rows("status", employee.id, spec))


# --- /regu -------------------------------------------------------------------------------------


def regu_search_view(session: Session, settings: Settings, scope: Scope, query: str,
                     spec: PeriodSpec, now: datetime) -> View:
    found = people.find_regus(session, query, unit_ids=[u.id for u in scope.units])
    if len(found) == 1:
        return regu_view(session, settings, scope, found[0], spec, now)
    units = {u.id: u for u in scope.units}
    if not found:
        names = sorted({r.name for r in session.exec(select(Regu).where(
            col(Regu.unit_id).in_(list(units)), Regu.active))})
        return View(render("rekap_choose", kind="regu", query=query, count=0, more=False,
                           names=names))
    shown = found[:MAX_CHOICES * 3]
    buttons = _pairs([_button("regu", callback("regu", r.id, spec), regu=r,
                              unit=units[r.unit_id]) for r in shown])
    return View(render("rekap_choose", kind="regu", query=query, count=len(shown),
                       more=len(found) > len(shown), names=[]), buttons)


def regu_view(session: Session, settings: Settings, scope: Scope, regu: Regu,
              spec: PeriodSpec, now: datetime) -> View:
    unit = scope.unit(regu.unit_id)
    assert unit is not None, "the caller checks the scope"
    span = span_for(settings, unit, spec, now)
    rekap = per_person.regu_rekap(session, regu, unit, span)
    text = render("rekap_regu", rekap=rekap, unit=unit, period=period_label(span))
    return View(text, _period_rows("regu", regu.id, spec))


# --- files: read in a transaction, render in a worker thread, send through the outbox -------


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


def _status_label(status: str) -> str:
    return render("rekap_status_label", status=status)


# --- delivery through the outbox ---------------------------------------------------------------


Build = Callable[[Session, Scope], "View | None"]


def answer(session: Session, settings: Settings, *, user_id: int, chat_id: int, key: str,
           now: datetime, build: Build, pressed: bool = False,
           edit_message_id: int | None = None) -> tuple[Scope, bool]:
    """Check the scope, build the view and queue it, in one transaction. False: refused.

    A refused command is answered in the chat; a refused press is the caller's to toast.
    """
    scope = scope_for(session, settings, user_id)
    view = build(session, scope) if scope.allowed else None
    if view is None:
        if not pressed:
            send_text(session, chat_id=chat_id, template="rekap_refused", key=key, now=now,
                      reason="no_role" if not scope.allowed else "scope")
        return scope, False
    send_view(session, chat_id=chat_id, view=view, key=key, now=now,
              edit_message_id=edit_message_id)
    return scope, True



def send_view(session: Session, *, chat_id: int, view: View, key: str, now: datetime,
              edit_message_id: int | None = None) -> None:
    """Answer with `view`: edit the pressed message when it fits in one, else new messages."""
    if edit_message_id is not None and outbox.fits_one_message(view.text):
        payload = outbox.html_message(view.text, view.keyboard)
        payload["message_id"] = edit_message_id
        outbox.enqueue(session, key=f"{key}:edit", chat_id=chat_id, method="editMessageText",
                       payload=payload, now=now, priority=outbox.PRIORITY_REPLY)
        return
    outbox.send_message(session, key=key, chat_id=chat_id, text=view.text, now=now,
                        keyboard=view.keyboard, priority=outbox.PRIORITY_REPLY)


def send_text(session: Session, *, chat_id: int, template: str, key: str, now: datetime,
              **context: object) -> None:
    send_view(session, chat_id=chat_id, view=View(render(template, **context)), key=key,
              now=now)


def send_file(session: Session, *, chat_id: int, kind: str, filename: str, content: bytes,
              caption: str, key: str, now: datetime) -> None:
    """A document (kind "document") or a photo (kind "photo") through the outbox."""
    payload = outbox.document_payload(filename, content, caption)
    method = "sendDocument"
    if kind == "photo":
        payload["photo"] = payload.pop("document")
        method = "sendPhoto"
    outbox.enqueue(session, key=key, chat_id=chat_id, method=method, payload=payload, now=now,
                   priority=outbox.PRIORITY_REPLY)
