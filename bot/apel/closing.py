"""Closing an apel at its deadline: who pledged, who is excused, who is missing, per group;
the report to the Kalapas and the nudges."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from bot.apel import counts as apel_counts
from bot.apel.classification import corrections_for
from bot.apel.models import Apel, ApelExpected, Briefing, Correction, Pledge
from bot.apel.opening import leaves_on
from bot.audit.log import record_event
from bot.delivery import outbox
from bot.delivery.models import OutboxMessage
from bot.org.models import Employee, Regu, Unit
from bot.platform.texts import render

log = logging.getLogger(__name__)


@dataclass
class GroupReport:
    regu_id: int | None  # None: the administration group
    name: str
    reached: bool
    missing: list[Employee] = field(default_factory=list)
    late: list[Employee] = field(default_factory=list)
    on_time: int = 0
    excused: list[Employee] = field(default_factory=list)
    expected: int = 0
    # Excused afterwards by the KPLP or Kalapas (/koreksi): (person, Correction row).
    corrected: list[tuple[Employee, Correction]] = field(default_factory=list)


@dataclass
class ApelReport:
    apel: Apel
    unit: Unit
    groups: list[GroupReport]

    @property
    def roster(self) -> int:
        """Everyone on the frozen list, leave included."""
        return sum(g.expected for g in self.groups)

    @property
    def expected(self) -> int:
        """Those who had to pledge: the roster minus leave and corrections."""
        return self.roster - self.excused - self.corrected

    @property
    def pledged(self) -> int:
        return sum(g.on_time + len(g.late) for g in self.groups)

    @property
    def missing(self) -> int:
        return sum(len(g.missing) for g in self.groups if g.reached)

    @property
    def not_reached(self) -> int:
        return sum(g.expected - len(g.excused) - len(g.corrected)
                   for g in self.groups if not g.reached)

    @property
    def corrected(self) -> int:
        return sum(len(g.corrected) for g in self.groups)

    @property
    def excused(self) -> int:
        return sum(len(g.excused) for g in self.groups)

    @property
    def late(self) -> int:
        return sum(len(g.late) for g in self.groups)


def build_report(session: Session, apel: Apel, at: datetime,
                 reached_at: datetime | None = None) -> ApelReport:
    """Expected minus excused (leave) minus pledged by `at`; unreached groups kept apart.
    A correction (/koreksi) shows a person as corrected instead of missing.

    A group counts as reached when its briefing was delivered by `reached_at` (default `at`);
    /belum asks after the deadline with `at`=now and `reached_at`=the deadline, as /rekap does.
    """
    reached_by = at if reached_at is None else reached_at
    unit = session.get(Unit, apel.unit_id)
    expected = session.exec(
        select(ApelExpected, Employee)
        .join(Employee, col(Employee.id) == ApelExpected.employee_id)
        .where(ApelExpected.apel_id == apel.id)
        .order_by(col(Employee.name))
    ).all()
    pledges = {p.employee_id: p for p in session.exec(
        select(Pledge).where(Pledge.apel_id == apel.id, Pledge.pledged_at <= at))}
    on_leave = {lv.employee_id for lv in leaves_on(session, unit.id, apel.duty_date)}
    corrected = {emp_id: c for (_, emp_id), c in corrections_for(session, [apel.id]).items()}
    briefings = session.exec(
        select(Briefing, OutboxMessage.state, OutboxMessage.sent_at)
        .join(OutboxMessage, col(OutboxMessage.id) == Briefing.outbox_id)
        .where(Briefing.apel_id == apel.id)).all()
    reached = {b.regu_id: state == "sent" and sent_at is not None and sent_at <= reached_by
               for b, state, sent_at in briefings}
    regu_names = {r.id: r.name for r in session.exec(select(Regu).where(Regu.unit_id == unit.id))}
    groups: dict[int | None, GroupReport] = {}
    for exp, emp in expected:
        group = groups.get(exp.regu_id)
        if group is None:
            name = regu_names.get(exp.regu_id) if exp.regu_id else None
            group = groups[exp.regu_id] = GroupReport(
                regu_id=exp.regu_id, name=name or render("admin_group_name"),
                reached=reached.get(exp.regu_id, False))
        group.expected += 1
        pledge_row = pledges.get(emp.id)
        if pledge_row is not None:
            if pledge_row.late:
                group.late.append(emp)
            else:
                group.on_time += 1
        elif emp.id in on_leave:
            group.excused.append(emp)
        elif emp.id in corrected:
            group.corrected.append((emp, corrected[emp.id]))
        elif group.reached:
            group.missing.append(emp)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[1].name))
    return ApelReport(apel=apel, unit=unit, groups=[g for _, g in ordered])


def close_apel(session: Session, apel: Apel, now: datetime) -> ApelReport:
    """At the deadline: one report to the Kalapas, one nudge per missing person."""
    report = build_report(session, apel, apel.deadline_at)
    apel.state, apel.closed_at = "closed", now
    session.add(apel)
    session.flush()
    apel_counts.recount(session, [apel.id])
    unit = report.unit
    outbox.send_message(session, key=f"report:{apel.id}", chat_id=unit.kalapas_chat_id,
                        text=render("apel_report", report=report, unit=unit, apel=apel),
                        now=now, priority=outbox.PRIORITY_REPORT)
    chats = _group_chats(session, apel)
    missing_by_chat: dict[int, list[Employee]] = defaultdict(list)
    for group in report.groups:
        chat_id = chats.get(group.regu_id)
        if chat_id is not None and group.reached:
            missing_by_chat[chat_id].extend(group.missing)
    for chat_id, people in missing_by_chat.items():
        if not people:
            continue
        outbox.send_message(session, key=f"nudge:{apel.id}:{chat_id}", chat_id=chat_id,
                            text=render("nudge_group", people=people, apel=apel, unit=unit),
                            now=now, priority=outbox.PRIORITY_NUDGE)
        for emp in people:
            if emp.telegram_user_id and emp.private_chat_ok:
                outbox.send_message(session, key=f"nudge-dm:{apel.id}:{emp.id}",
                                    chat_id=emp.telegram_user_id,
                                    text=render("nudge_private", person=emp, apel=apel,
                                                unit=unit),
                                    now=now, priority=outbox.PRIORITY_NUDGE)
    record_event(session, kind="apel.closed", actor="scheduler", at=now, payload={
        "apel_id": apel.id, "expected": report.expected, "pledged": report.pledged,
        "late": report.late, "missing": report.missing, "excused": report.excused,
        "not_reached": report.not_reached})
    record_event(session, kind="report.sent", actor="scheduler", at=now, payload={
        "apel_id": apel.id, "chat_id": unit.kalapas_chat_id,
        "missing_employee_ids": sorted(e.id for g in report.groups for e in g.missing)})
    log.info("apel %d closed: %d expected, %d pledged, %d missing, %d not reached", apel.id,
             report.expected, report.pledged, report.missing, report.not_reached)
    return report


def _group_chats(session: Session, apel: Apel) -> dict[int | None, int]:
    return {b.regu_id: b.chat_id for b in session.exec(
        select(Briefing).where(Briefing.apel_id == apel.id))}


def apels_past_deadline(session: Session, now: datetime, *, lock: bool = False) -> list[Apel]:
    """`lock`: to close them. A second closer (a leader that froze mid-close and woke after
    another took over) waits, then finds them closed: one report, one 'apel.closed' entry."""
    # In id order: the order in which every writer locks apel rows (apel_counts), so closing
    # several at once cannot deadlock with a batch of pledges.
    query = (select(Apel).where(Apel.state == "open", Apel.deadline_at <= now)
             .order_by(col(Apel.id)))
    return list(session.exec(query.with_for_update() if lock else query))
