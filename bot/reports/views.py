"""The answers to /rekap, /belum, /status and /regu: their texts and buttons.

Each view shows only what the asker's scope holds (bot/reports/scope.py): the target of a
pressed button is checked against it again here (press_view), as the data only says what was
asked. The buttons' data is in bot/reports/buttons.py, the sending in bot/reports/replies.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bot.apel.closing import build_report
from bot.calendar.periods import SPEC_TODAY, PeriodSpec, Span, resolve
from bot.org import people
from bot.org.models import Employee, Regu, Unit
from bot.platform.config import Settings
from bot.platform.texts import render
from bot.reports import many_units, one_unit, per_person, tally
from bot.reports.buttons import Press, button, callback, pairs, period_rows, rollup_rows
from bot.reports.scope import Scope

MAX_CHOICES = 8
MAX_LIST = 15  # names/dates listed in one message before "and N more"


@dataclass
class View:
    text: str  # a long one is sent in several messages (outbox.enqueue splits it)
    keyboard: list[list[dict]] | None = None


def span_for(settings: Settings, unit: Unit, spec: PeriodSpec, now: datetime) -> Span:
    p = settings.period
    return resolve(spec, unit.timezone, now, (p.name, p.start, p.end))


def period_label(span: Span) -> str:
    return render("rekap_period", span=span)


def _status_label(status: str) -> str:
    return render("rekap_status_label", status=status)


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
    keyboard = period_rows("unit", unit.id, spec)
    keyboard.append([button("belum", callback("belum", unit.id)),
                     button("unduh", callback("unduh", unit.id, spec)),
                     button("grafik", callback("grafik", unit.id, spec))])
    if len(scope.units) > 1:
        keyboard.append([button("back", callback("kanwil", unit.id, spec))])
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
    keyboard = rollup_rows(roll, "kanwil", "unit", any_unit.id, spec)
    keyboard.append([button("ranking", callback("peringkat", any_unit.id, spec))])
    if len(scope.kanwils) > 1:
        keyboard[-1].append(button("back", callback("rekap", None, spec)))
    return View(render("rekap_rollup", roll=roll, period=period_label(roll.span)), keyboard)


def national_view(session: Session, settings: Settings, scope: Scope, spec: PeriodSpec,
                  now: datetime) -> View:
    roll = scope_rollup(session, settings, scope, None, spec, now)
    keyboard = rollup_rows(roll, "rekap", "kanwil", None, spec)
    keyboard.append([button("ranking", callback("peringkatn", None, spec))])
    return View(render("rekap_rollup", roll=roll, period=period_label(roll.span)), keyboard)


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
    keyboard = [[button("refresh", callback("belum", unit.id)),
                 button("rekap_today", callback("unit", unit.id, None))]]
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
    buttons = [[button("person", callback("status", e.id, spec), person=e,
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
    return View(text, period_rows("status", employee.id, spec))


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
    buttons = pairs([button("regu", callback("regu", r.id, spec), regu=r,
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
    return View(text, period_rows("regu", regu.id, spec))
