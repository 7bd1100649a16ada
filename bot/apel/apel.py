"""The apel cycle: open (briefings out), pledge, tally, close (report and nudges), missed."""

from __future__ import annotations

import enum
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.apel import counts as apel_counts
from bot.apel.buttons import pledge_callback
from bot.apel.classification import leave_covers
from bot.audit.log import Event, format_at, record_event, record_events
from bot.calendar.duty import ApelPlan, LeaveSpan, Person, expected_people, standing
from bot.delivery import inbox, outbox, tallies
from bot.models import (
    Apel,
    ApelExpected,
    Briefing,
    ChatMigration,
    Employee,
    Leave,
    OutboxMessage,
    Pledge,
    PledgePeriod,
    Regu,
    Unit,
)
from bot.org.units import period_row
from bot.platform.config import Settings
from bot.platform.db import insert_ignoring_duplicates
from bot.platform.texts import render
from bot.unit_admin import swaps
from bot.unit_admin.corrections import corrections_for
from bot.unit_admin.models import Correction

log = logging.getLogger(__name__)

# Late pledges still move the tally for a day after the apel.
_TALLY_HORIZON = timedelta(days=1)


def private_briefing_key(apel_id: int, employee_id: int) -> str:
    """The outbox key of the briefing sent to the private chat of someone moved in (/tukar)."""
    return f"briefing-dm:{apel_id}:{employee_id}"


# --- opening -----------------------------------------------------------------------------------


def _unit_row(session: Session, code: str) -> Unit:
    return session.exec(select(Unit).where(Unit.code == code)).one()


def _leaves_on(session: Session, unit_id: int, day) -> list[LeaveSpan]:  # noqa: ANN001
    rows = session.exec(
        select(Leave.employee_id, Leave.start, Leave.end)
        .join(Employee, col(Employee.id) == Leave.employee_id)
        .where(Employee.unit_id == unit_id, Leave.start <= day, Leave.end >= day)
    ).all()
    return [LeaveSpan(*r) for r in rows]


def _people(session: Session, settings: Settings,
            unit_id: int) -> tuple[list[Person], dict[str, int]]:
    """The unit's people, as they stand the apel (config `attendance`), and its regu ids."""
    regu_ids = {r.name: r.id for r in session.exec(
        select(Regu).where(Regu.unit_id == unit_id, Regu.active))}
    names = {v: k for k, v in regu_ids.items()}
    rows = session.exec(select(Employee.id, Employee.role, Employee.regu_id).where(
        Employee.unit_id == unit_id, Employee.active)).all()
    return [standing(i, role, names.get(r) if r else None, settings.attendance)
            for i, role, r in rows], regu_ids


def _topic(period: PledgePeriod, plan: ApelPlan) -> str | None:
    if not period.topics:
        return None
    turn = plan.duty_date.toordinal() * 3 + ("pagi", "siang", "malam").index(plan.slot)
    return period.topics[turn % len(period.topics)]


def briefing_text(session: Session, apel: Apel, tally: tuple[int, int] | None = None) -> str:
    unit = session.get(Unit, apel.unit_id)
    period = session.get(PledgePeriod, apel.period_id)
    plan_like = ApelPlan(unit.code, apel.duty_date, apel.slot, apel.scheduled_at,
                         apel.scheduled_at, apel.late_after_at, apel.deadline_at, "", False)
    return render("briefing", unit=unit, apel=apel, period=period, topic=_topic(period, plan_like),
                  tally=tally)


def open_apel(session: Session, settings: Settings, plan: ApelPlan, now: datetime) -> Apel | None:
    """Open the apel once: freeze who is expected, queue a briefing per group. None if it exists."""
    unit = _unit_row(session, plan.unit_code)
    if _find(session, unit.id, plan) is not None:
        return None
    plan = swaps.effective_plan(session, settings, unit.id, plan)  # regu swaps (/tukar)
    period = period_row(session, settings)
    apel = Apel(unit_id=unit.id, duty_date=plan.duty_date, slot=plan.slot, period_id=period.id,
                scheduled_at=plan.scheduled_at, late_after_at=plan.late_after_at,
                deadline_at=plan.deadline_at, opened_at=now, state="open",
                opened_late=(now - plan.scheduled_at).total_seconds() > 120)
    try:
        with session.begin_nested():
            session.add(apel)
            session.flush()
    except IntegrityError:
        return None  # another process opened it a moment ago
    people, regu_ids = _people(session, settings, unit.id)
    # Freeze the roster on duty; leave is applied when counting, so leave added later excuses too.
    # Person swaps (/tukar) move someone onto this apel, or away to another one of the day;
    # those moved in stand with the on-duty regu and get the briefing privately as well.
    moves = swaps.moves_on(session, unit.id, plan.duty_date)
    expected = expected_people(plan, people, leaves=(), moves=moves)
    moved_in = {p.id for p in expected} - {p.id for p in expected_people(plan, people, ())}
    session.add_all([ApelExpected(apel_id=apel.id, employee_id=p.id,
                                  regu_id=regu_ids.get(plan.regu) if p.id in moved_in
                                  else regu_ids.get(p.regu) if p.regu else None)
                     for p in expected])
    groups: list[tuple[int | None, int]] = []
    on_duty = session.get(Regu, regu_ids[plan.regu]) if plan.regu in regu_ids else None
    if on_duty is not None:
        groups.append((on_duty.id, on_duty.chat_id))
    if plan.includes_administration and unit.admin_group_chat_id:
        groups.append((None, unit.admin_group_chat_id))
    text = briefing_text(session, apel)
    keyboard = [[outbox.button(render("button_pledge"), pledge_callback(apel.id))]]
    for regu_id, chat_id in groups:
        msg = outbox.send_message(session, key=f"briefing:{apel.id}:{chat_id}", chat_id=chat_id,
                                  text=text, keyboard=keyboard, now=now,
                                  priority=outbox.PRIORITY_BRIEFING)
        session.add(Briefing(apel_id=apel.id, regu_id=regu_id, chat_id=chat_id,
                             outbox_id=msg.id))
    for emp in session.exec(select(Employee).where(col(Employee.id).in_(moved_in))):
        if emp.telegram_user_id and emp.private_chat_ok:
            outbox.send_message(session, key=private_briefing_key(apel.id, emp.id),
                                chat_id=emp.telegram_user_id,
                                text=text + "\n\n" + render("briefing_moved", regu=plan.regu),
                                keyboard=keyboard, now=now, priority=outbox.PRIORITY_BRIEFING)
    record_event(session, kind="apel.opened", actor="scheduler", at=now, payload={
        "apel_id": apel.id, "unit_id": unit.id, "date": plan.duty_date.isoformat(),
        "slot": plan.slot, "expected": sorted(p.id for p in expected), "late": apel.opened_late})
    session.flush()
    log.info("apel %s %s %s opened (%d expected, %d groups)", unit.code, plan.duty_date,
             plan.slot, len(expected), len(groups))
    return apel


def _find(session: Session, unit_id: int, plan: ApelPlan) -> Apel | None:
    return session.exec(select(Apel).where(
        Apel.unit_id == unit_id, Apel.duty_date == plan.duty_date, Apel.slot == plan.slot)).first()


def record_missed(session: Session, settings: Settings, plan: ApelPlan,
                  now: datetime) -> Apel | None:
    """The bot was down through the whole apel: say so instead of pretending it happened."""
    unit = _unit_row(session, plan.unit_code)
    if _find(session, unit.id, plan) is not None:
        return None
    plan = swaps.effective_plan(session, settings, unit.id, plan)
    apel = Apel(unit_id=unit.id, duty_date=plan.duty_date, slot=plan.slot,
                period_id=period_row(session, settings).id, scheduled_at=plan.scheduled_at,
                late_after_at=plan.late_after_at, deadline_at=plan.deadline_at,
                closed_at=now, state="missed")
    try:
        with session.begin_nested():
            session.add(apel)
            session.flush()
    except IntegrityError:
        return None
    outbox.send_message(session, key=f"missed:{apel.id}", chat_id=unit.kalapas_chat_id,
                        text=render("apel_missed", unit=unit, apel=apel, regu=plan.regu),
                        now=now, priority=outbox.PRIORITY_REPORT)
    record_event(session, kind="apel.missed", actor="scheduler", at=now, payload={
        "apel_id": apel.id, "unit_id": unit.id, "date": plan.duty_date.isoformat(),
        "slot": plan.slot})
    log.warning("apel %s %s %s missed (bot was down)", unit.code, plan.duty_date, plan.slot)
    return apel


# --- pledging ----------------------------------------------------------------------------------


class PledgeResult(enum.Enum):
    RECORDED = "recorded"
    RECORDED_LATE = "recorded_late"
    ALREADY = "already"
    NOT_REGISTERED = "not_registered"
    NOT_EXPECTED = "not_expected"  # recorded, with a note
    UNKNOWN_APEL = "unknown_apel"
    WRONG_CHAT = "wrong_chat"  # the apel's briefing was not posted in this chat: nothing done


@dataclass(frozen=True)
class PledgeOutcome:
    result: PledgeResult
    apel_id: int | None = None
    employee_name: str | None = None
    pledged_at: datetime | None = None
    timezone: str = "Asia/Jakarta"  # the unit's, for the time in the toast


@dataclass(frozen=True)
class Press:
    """One press of the pledge button: who Telegram says pressed, where, when."""

    apel_id: int
    telegram_user_id: int
    chat_id: int
    at: datetime
    inbox_id: int | None = None  # the stored update: marked handled with the pledge itself


def pledge(session: Session, *, apel_id: int, telegram_user_id: int, chat_id: int,
           now: datetime) -> PledgeOutcome:
    """Record the presser's pledge. The person is whoever Telegram says pressed, nothing else."""
    return pledge_many(session, [Press(apel_id, telegram_user_id, chat_id, now)])[0]


def pledge_many(session: Session, presses: list[Press]) -> list[PledgeOutcome]:
    """Record a batch of presses with a handful of set-based queries (bursts of thousands).

    Doubles in the batch, in the database, or written meanwhile by another process all come
    back as ALREADY; exactly one Pledge row and one audit entry exist per (apel, employee).
    """
    apels = {a.id: a for a in session.exec(
        select(Apel).where(col(Apel.id).in_({p.apel_id for p in presses})))}
    zones = dict(session.exec(select(Unit.id, Unit.timezone).where(
        col(Unit.id).in_({a.unit_id for a in apels.values()}))).all())
    people = {row.telegram_user_id: row for row in session.exec(
        select(Employee.id, Employee.name, Employee.telegram_user_id, Employee.unit_id).where(
            col(Employee.telegram_user_id).in_({p.telegram_user_id for p in presses}),
            Employee.active))}
    apel_ids, employee_ids = list(apels), [e.id for e in people.values()]
    done = {(a, e): at for a, e, at in session.exec(
        select(Pledge.apel_id, Pledge.employee_id, Pledge.pledged_at).where(
            col(Pledge.apel_id).in_(apel_ids), col(Pledge.employee_id).in_(employee_ids)))}
    expected = set(session.exec(select(ApelExpected.apel_id, ApelExpected.employee_id).where(
        col(ApelExpected.apel_id).in_(apel_ids),
        col(ApelExpected.employee_id).in_(employee_ids))).all())
    posted = _briefed_chats(session, presses, people)

    outcomes: list[PledgeOutcome | None] = []
    rows: list[dict] = []
    for press in presses:
        apel = apels.get(press.apel_id)
        if apel is None or apel.state == "missed":
            outcomes.append(PledgeOutcome(PledgeResult.UNKNOWN_APEL))
            continue
        zone = zones[apel.unit_id]
        if (apel.id, press.chat_id) not in posted:  # another unit's (or group's) apel id
            log.warning("pledge press for apel %d in chat %d, where it was not posted",
                        apel.id, press.chat_id)
            outcomes.append(PledgeOutcome(PledgeResult.WRONG_CHAT, apel.id, timezone=zone))
            continue
        person = people.get(press.telegram_user_id)
        if person is None:
            outcomes.append(PledgeOutcome(PledgeResult.NOT_REGISTERED, apel.id, timezone=zone))
            continue
        if person.unit_id != apel.unit_id:  # a guest in another unit's group: not his apel
            outcomes.append(PledgeOutcome(PledgeResult.WRONG_CHAT, apel.id, timezone=zone))
            continue
        key = (apel.id, person.id)
        if key in done:
            outcomes.append(PledgeOutcome(PledgeResult.ALREADY, apel.id, person.name,
                                          done[key], zone))
            continue
        done[key] = press.at
        rows.append({"apel_id": apel.id, "employee_id": person.id,
                     "telegram_user_id": press.telegram_user_id, "chat_id": press.chat_id,
                     "pledged_at": press.at, "late": press.at > apel.late_after_at,
                     "after_deadline": press.at > apel.deadline_at,
                     "expected": key in expected})
        outcomes.append(None)  # decided once we know the row went in
    inserted = _insert_new_pledges(session, rows)
    # A pledge to a closed apel (late, after the deadline) changes its counts.
    apel_counts.changed(session, {a for a, _ in inserted})
    pending = iter(rows)
    events: list[Event] = []
    for i, outcome in enumerate(outcomes):
        if outcome is not None:
            continue
        row = next(pending)
        apel = apels[row["apel_id"]]
        name, zone = people[row["telegram_user_id"]].name, zones[apel.unit_id]
        pledge_id = inserted.get((row["apel_id"], row["employee_id"]))
        if pledge_id is None:  # another process recorded it a moment ago
            outcomes[i] = PledgeOutcome(PledgeResult.ALREADY, apel.id, name, row["pledged_at"],
                                        zone)
            continue
        events.append(Event("pledge.recorded", f"tg:{row['telegram_user_id']}", {
            "pledge_id": pledge_id, "apel_id": apel.id, "employee_id": row["employee_id"],
            "late": row["late"], "after_deadline": row["after_deadline"],
            "expected": row["expected"], "pledged_at": format_at(row["pledged_at"])},
            row["pledged_at"]))
        if not row["expected"]:
            result = PledgeResult.NOT_EXPECTED
        elif row["late"]:
            result = PledgeResult.RECORDED_LATE
        else:
            result = PledgeResult.RECORDED
        outcomes[i] = PledgeOutcome(result, apel.id, name, row["pledged_at"], zone)
    record_events(session, events)
    # The presses' updates are handled exactly when their pledges are: one commit.
    inbox.mark_handled(session, [p.inbox_id for p in presses if p.inbox_id is not None],
                       max(p.at for p in presses))
    return outcomes  # type: ignore[return-value]


def unanswered_press_note(session: Session, telegram_user_id: int,
                          outcome: PledgeOutcome) -> dict | None:
    """What the private note about a pledge whose toast came too late says; None when the
    person's private chat with the bot is not known to work (nothing to send then)."""
    person = session.exec(select(Employee).where(
        Employee.telegram_user_id == telegram_user_id, Employee.active)).first()
    apel = session.get(Apel, outcome.apel_id) if outcome.apel_id else None
    if person is None or apel is None or not person.private_chat_ok:
        return None
    return {"name": person.name, "slot": apel.slot, "at": outcome.pledged_at,
            "zone": outcome.timezone, "late": outcome.result == PledgeResult.RECORDED_LATE}


def _briefed_chats(session: Session, presses: list[Press],
                   people: dict) -> set[tuple[int, int]]:
    """(apel id, chat id) wherever the apel's briefing was posted among these presses' apel:
    its groups (as queued, as sent, and the supergroup a group became since), and the private
    chats of people moved onto it (/tukar). A pledge counts only from one of these chats."""
    rows = session.exec(
        select(Briefing.apel_id, Briefing.chat_id, OutboxMessage.chat_id)
        .join(OutboxMessage, col(OutboxMessage.id) == Briefing.outbox_id, isouter=True)
        .where(col(Briefing.apel_id).in_({p.apel_id for p in presses}))).all()
    posted = {(apel_id, chat) for apel_id, *chats in rows for chat in chats if chat is not None}
    moved = dict(session.exec(select(ChatMigration.old_chat_id, ChatMigration.new_chat_id).where(
        col(ChatMigration.old_chat_id).in_({chat for _, chat in posted}))).all())
    posted |= {(apel_id, moved[chat]) for apel_id, chat in posted if chat in moved}
    # A private chat's id is its person's user id; their briefing is keyed by employee.
    private = {private_briefing_key(p.apel_id, people[p.telegram_user_id].id): p.apel_id
               for p in presses
               if p.chat_id == p.telegram_user_id and p.telegram_user_id in people}
    if private:
        posted |= {(private[key], chat) for key, chat in session.exec(
            select(OutboxMessage.key, OutboxMessage.chat_id).where(
                col(OutboxMessage.key).in_(private)))}
    return posted


def _insert_new_pledges(session: Session, rows: list[dict]) -> dict[tuple[int, int], int]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: {(apel id, employee id): pledge id}."""
    if not rows:
        return {}
    table = Pledge.__table__
    statement = (insert_ignoring_duplicates(session, table, ["apel_id", "employee_id"])
                 .returning(table.c.apel_id, table.c.employee_id, table.c.id))
    return {(a, e): i for a, e, i in session.execute(statement, rows)}


# --- tallies -----------------------------------------------------------------------------------


def refresh_tallies(session: Session, now: datetime, min_interval_s: float) -> int:
    """Queue an edit for each delivered briefing whose count changed, at most once per interval."""
    rows = session.exec(
        select(Briefing, OutboxMessage.state)
        .join(Apel, col(Apel.id) == Briefing.apel_id)
        .join(OutboxMessage, col(OutboxMessage.id) == Briefing.outbox_id)
        .where(col(Apel.state).in_(("open", "closed")),
               col(Apel.scheduled_at) >= now - _TALLY_HORIZON)
    ).all()
    if not rows:
        return 0
    apel_ids = {b.apel_id for b, _ in rows}
    totals = _group_counts(session, apel_ids, pledged=False, skip_leave=True)
    pledged = _group_counts(session, apel_ids, pledged=True)

    def count_of(briefing: Briefing) -> int:
        return pledged.get((briefing.apel_id, briefing.regu_id), 0)

    def total_of(briefing: Briefing) -> int:  # leave recorded meanwhile lowers it
        return totals.get((briefing.apel_id, briefing.regu_id), 0)

    def edit_of(briefing: Briefing, count: int) -> tuple[str, dict]:
        apel = session.get(Apel, briefing.apel_id)
        return "editMessageText", outbox.html_message(
            briefing_text(session, apel, (count, total_of(briefing))),
            [[outbox.button(render("button_pledge"), pledge_callback(apel.id))]])

    return tallies.refresh_posts(session, rows, count_of, edit_of, key_prefix="tally", now=now,
                                 min_interval_s=min_interval_s, base_of=total_of).queued


def _group_counts(session: Session, apel_ids: set[int], *, pledged: bool,
                  skip_leave: bool = False) -> dict:
    query = select(ApelExpected.apel_id, ApelExpected.regu_id, func.count()).where(
        col(ApelExpected.apel_id).in_(apel_ids))
    if skip_leave:
        # The apel is joined, not looked up in a subquery: nested inside the leave check, such a
        # subquery would not correlate with this row (PostgreSQL: more than one row; SQLite: the
        # first apel's date for every row).
        query = (query.join(Apel, col(Apel.id) == ApelExpected.apel_id)
                 .where(~leave_covers(ApelExpected.employee_id, Apel.duty_date)))
    if pledged:
        query = query.join(Pledge, (col(Pledge.apel_id) == ApelExpected.apel_id)
                           & (col(Pledge.employee_id) == ApelExpected.employee_id))
    query = query.group_by(ApelExpected.apel_id, ApelExpected.regu_id)
    return {(a, r): n for a, r, n in session.exec(query)}


# --- closing -----------------------------------------------------------------------------------


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
    on_leave = {lv.employee_id for lv in _leaves_on(session, unit.id, apel.duty_date)}
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


def apels_past_deadline(session: Session, now: datetime) -> list[Apel]:
    # In id order: the order in which every writer locks apel rows (apel_counts), so closing
    # several at once cannot deadlock with a batch of pledges.
    return list(session.exec(select(Apel).where(Apel.state == "open", Apel.deadline_at <= now)
                             .order_by(col(Apel.id))))
