"""Satgas announcements: target, send (fan-out through the outbox), confirm, tally, remind,
follow up (/dibaca, /pengumuman, XLSX) and withdraw. No Telegram here: a Session and a `now`."""

from __future__ import annotations

import enum
import html
import io
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, insert, literal, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.announcements.models import (
    Acknowledgement,
    Announcement,
    AnnouncementExpected,
    AnnouncementPost,
    AnnouncementUnit,
)
from bot.audit.log import record_event
from bot.delivery import outbox, tallies
from bot.models import Employee, OutboxMessage, Regu, Unit
from bot.org.access import (
    Actor,
    actor_for,
    announce_home_unit,
    announce_reach,
    kalapas_units,
)
from bot.platform.config import Settings
from bot.platform.texts import render

log = logging.getLogger(__name__)

ACK_PREFIX = "a:"
# Below briefings (their pledge window is minutes long) and below the deadline nudges, above
# only the tally edits: a 2,000-group fan-out takes ~72 s at 28 msg/s, and nothing tied to an
# apel deadline should queue behind it. Replies (0) and reports (2) always go first.
PRIORITY_ANNOUNCEMENT = 7
# Taking posts down is as urgent as a briefing: a withdrawn text should vanish quickly.
PRIORITY_WITHDRAW = outbox.PRIORITY_BRIEFING
# Room left for our header, the reading instruction and the tally line.
MAX_TEXT_CHARS = 3500  # Telegram: 4096 per message
MAX_CAPTION_CHARS = 800  # Telegram: 1024 per caption
TALLY_HORIZON = timedelta(days=7)  # confirmations keep moving the tallies for a week
DELETE_LIMIT = timedelta(hours=47)  # Telegram lets a bot delete its messages for 48 hours
REMINDER_NAMES = 40  # names listed in one reminder; the rest are counted
SCOPES = ("unit", "kanwil", "all")
MEDIA_KINDS = ("photo", "document")


def ack_callback(announcement_id: int) -> str:
    return f"{ACK_PREFIX}{announcement_id}"


def parse_ack_callback(data: str | None) -> int | None:
    """`a:<announcement id>` -> id; anything else (forged, truncated, foreign) -> None."""
    if not data or not data.startswith(ACK_PREFIX):
        return None
    digits = data[len(ACK_PREFIX):]
    if not digits.isdigit() or len(digits) > 12:
        return None
    return int(digits)


# --- targets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetOption:
    scope: str  # unit | kanwil | all
    label: str  # the unit's name, the Kanwil's name, or "" for all reachable units
    unit_ids: tuple[int, ...]


@dataclass(frozen=True)
class Reach:
    units: int
    groups: int
    people: int


def target_options(session: Session, actor: Actor) -> list[TargetOption]:
    """What this sender may choose: this unit, the Kanwil's units, every unit they may reach —
    only the choices that differ. Empty: this person may not announce."""
    reach = announce_reach(session, actor)
    if not reach:
        return []
    options: list[TargetOption] = []
    home = announce_home_unit(actor, reach)
    if home is not None:
        options.append(TargetOption("unit", home.name, (home.id,)))
        kanwil = tuple(u.id for u in reach if u.kanwil == home.kanwil)
        if len(kanwil) > 1:
            options.append(TargetOption("kanwil", home.kanwil, kanwil))
    every = tuple(u.id for u in reach)
    if not options or len(every) > len(options[-1].unit_ids):
        options.append(TargetOption("all", "", every))
    return options


def target_for(session: Session, actor: Actor, scope: str) -> TargetOption | None:
    return next((o for o in target_options(session, actor) if o.scope == scope), None)


def _groups(session: Session, unit_ids: Iterable[int]) -> list[tuple[int, int | None, int]]:
    """(unit id, regu id or None for administration, chat id) of every active group."""
    ids = list(unit_ids)
    out: list[tuple[int, int | None, int]] = []
    seen: set[int] = set()
    for unit_id, regu_id, chat_id in session.exec(
            select(Regu.unit_id, Regu.id, Regu.chat_id)
            .where(col(Regu.unit_id).in_(ids), Regu.active)
            .order_by(col(Regu.unit_id), col(Regu.id))):
        if chat_id not in seen:
            seen.add(chat_id)
            out.append((unit_id, regu_id, chat_id))
    for unit_id, chat_id in session.exec(
            select(Unit.id, Unit.admin_group_chat_id)
            .where(col(Unit.id).in_(ids), col(Unit.admin_group_chat_id).is_not(None))
            .order_by(col(Unit.id))):
        if chat_id not in seen:
            seen.add(chat_id)
            out.append((unit_id, None, chat_id))
    return out


def reach_of(session: Session, unit_ids: Iterable[int]) -> Reach:
    ids = list(unit_ids)
    people = session.exec(select(func.count()).select_from(Employee).where(
        col(Employee.unit_id).in_(ids), Employee.active)).one()
    return Reach(units=len(ids), groups=len(_groups(session, ids)), people=people)


# --- the post ----------------------------------------------------------------------------------


def _keyboard(announcement_id: int) -> list[list[dict]]:
    return [[outbox.button(render("announce_button_read"), ack_callback(announcement_id))]]


def post_text(text_html: str, tally: tuple[int, int] | None = None) -> str:
    return render("announce_post", body=text_html, tally=tally)


def post_message(text_html: str, media_kind: str | None, media_file_id: str | None,
                 keyboard: list[list[dict]] | None,
                 tally: tuple[int, int] | None = None) -> tuple[str, dict]:
    """(Bot API method, payload) of a post; media go by file_id, so nothing is uploaded again."""
    text = post_text(text_html, tally)
    if media_kind is None:
        return "sendMessage", outbox.html_message(text, keyboard)
    payload: dict = {media_kind: media_file_id, "caption": text, "parse_mode": "HTML"}
    if keyboard is not None:
        payload["reply_markup"] = {"inline_keyboard": keyboard}
    method = "sendPhoto" if media_kind == "photo" else "sendDocument"
    return method, payload


def _edit_message(ann: Announcement, text: str, keyboard: list[list[dict]] | None) -> tuple[
        str, dict]:
    markup = {"inline_keyboard": keyboard or []}
    if ann.media_kind is None:
        return "editMessageText", {"text": text, "parse_mode": "HTML", "reply_markup": markup,
                                   "link_preview_options": {"is_disabled": True}}
    return "editMessageCaption", {"caption": text, "parse_mode": "HTML", "reply_markup": markup}


# --- sending -----------------------------------------------------------------------------------


class SendResult(enum.Enum):
    SENT = "sent"
    ALREADY = "already"  # this draft was sent before (double tap, redelivered update)
    NOT_ALLOWED = "not_allowed"
    NO_GROUPS = "no_groups"


@dataclass(frozen=True)
class SendOutcome:
    result: SendResult
    announcement: Announcement | None = None


def send(session: Session, settings: Settings, *, sender_user_id: int, draft_key: str,
         text_html: str, media_kind: str | None, media_file_id: str | None, scope: str,
         now: datetime) -> SendOutcome:
    """Record the announcement and queue one post per group of the target, in one transaction."""
    existing = session.exec(select(Announcement).where(
        Announcement.draft_key == draft_key)).first()
    if existing is not None:
        return SendOutcome(SendResult.ALREADY, existing)
    if media_kind not in (None, *MEDIA_KINDS) or (media_kind is None) != (media_file_id is None):
        raise ValueError("media_kind and media_file_id go together")
    actor = actor_for(session, settings, sender_user_id)
    option = target_for(session, actor, scope)
    if option is None:
        return SendOutcome(SendResult.NOT_ALLOWED)
    groups = _groups(session, option.unit_ids)
    if not groups:
        return SendOutcome(SendResult.NO_GROUPS)
    ann = Announcement(
        draft_key=draft_key, sender_user_id=sender_user_id,
        sender_employee_id=actor.employee.id if actor.employee else None, text_html=text_html,
        media_kind=media_kind, media_file_id=media_file_id, scope=option.scope,
        scope_label=option.label[:120], created_at=now,
        remind_at=now + timedelta(minutes=settings.announcements.remind_after_minutes))
    try:
        with session.begin_nested():
            session.add(ann)
            session.flush()
    except IntegrityError:  # the same draft sent a moment ago by a concurrent press
        return SendOutcome(SendResult.ALREADY, session.exec(select(Announcement).where(
            Announcement.draft_key == draft_key)).one())
    session.add_all([AnnouncementUnit(announcement_id=ann.id, unit_id=u)
                     for u in option.unit_ids])
    # Everyone active in the target, frozen now, in one statement.
    session.exec(insert(AnnouncementExpected).from_select(
        ["announcement_id", "employee_id", "unit_id", "regu_id"],
        select(literal(ann.id), Employee.id, Employee.unit_id, Employee.regu_id).where(
            col(Employee.unit_id).in_(option.unit_ids), Employee.active)))
    expected = _expected_by_group(session, ann.id)
    method, payload = post_message(text_html, media_kind, media_file_id, _keyboard(ann.id))
    rows = [OutboxMessage(key=f"ann:{ann.id}:post:{chat_id}", chat_id=chat_id, method=method,
                          payload=payload, priority=PRIORITY_ANNOUNCEMENT, next_attempt_at=now,
                          created_at=now) for _, _, chat_id in groups]
    tallies.enqueue_all(session, rows)  # a new announcement: every key is new
    posts = [AnnouncementPost(announcement_id=ann.id, unit_id=unit_id, regu_id=regu_id,
                              chat_id=chat_id, outbox_id=row.id,
                              expected=expected.get((unit_id, regu_id), 0))
             for (unit_id, regu_id, chat_id), row in zip(groups, rows, strict=True)]
    session.add_all(posts)
    ann.expected_count = sum(expected.values())
    ann.group_count = len(posts)
    session.add(ann)
    record_event(session, kind="announcement.sent", actor=f"tg:{sender_user_id}", at=now,
                 payload={"announcement_id": ann.id, "scope": option.scope,
                          "unit_ids": sorted(option.unit_ids), "groups": len(posts),
                          "expected": ann.expected_count, "media": media_kind})
    session.flush()
    log.info("announcement %d sent by %d: %d groups, %d people", ann.id, sender_user_id,
             len(posts), ann.expected_count)
    return SendOutcome(SendResult.SENT, ann)


def _expected_by_group(session: Session, announcement_id: int) -> dict[tuple[int, int | None],
                                                                       int]:
    rows = session.exec(
        select(AnnouncementExpected.unit_id, AnnouncementExpected.regu_id, func.count())
        .where(AnnouncementExpected.announcement_id == announcement_id)
        .group_by(AnnouncementExpected.unit_id, AnnouncementExpected.regu_id))
    return {(u, r): n for u, r, n in rows}


def _confirmed_by_group(session: Session, announcement_id: int) -> dict[tuple[int, int | None],
                                                                        int]:
    rows = session.exec(
        select(AnnouncementExpected.unit_id, AnnouncementExpected.regu_id, func.count())
        .join(Acknowledgement, and_(
            col(Acknowledgement.announcement_id) == AnnouncementExpected.announcement_id,
            col(Acknowledgement.employee_id) == AnnouncementExpected.employee_id))
        .where(AnnouncementExpected.announcement_id == announcement_id)
        .group_by(AnnouncementExpected.unit_id, AnnouncementExpected.regu_id))
    return {(u, r): n for u, r, n in rows}


# --- confirming --------------------------------------------------------------------------------


class AckResult(enum.Enum):
    RECORDED = "recorded"
    ALREADY = "already"
    NOT_REGISTERED = "not_registered"
    NOT_TARGET = "not_target"
    WITHDRAWN = "withdrawn"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class AckOutcome:
    result: AckResult
    name: str | None = None
    at: datetime | None = None
    timezone: str = "Asia/Jakarta"  # the presser's unit's, for the time in the toast


def acknowledge(session: Session, *, announcement_id: int, telegram_user_id: int, chat_id: int,
                now: datetime) -> AckOutcome:
    """Record that the presser read it. The person is whoever Telegram says pressed."""
    ann = session.get(Announcement, announcement_id)
    if ann is None:
        return AckOutcome(AckResult.UNKNOWN)
    if ann.withdrawn_at is not None:
        return AckOutcome(AckResult.WITHDRAWN)
    employee = session.exec(select(Employee).where(
        Employee.telegram_user_id == telegram_user_id, Employee.active)).first()
    if employee is None:
        return AckOutcome(AckResult.NOT_REGISTERED)
    zone = session.get(Unit, employee.unit_id).timezone
    if session.get(AnnouncementUnit, (ann.id, employee.unit_id)) is None:
        return AckOutcome(AckResult.NOT_TARGET, employee.name, timezone=zone)
    existing = session.exec(select(Acknowledgement).where(
        Acknowledgement.announcement_id == ann.id,
        Acknowledgement.employee_id == employee.id)).first()
    if existing is not None:
        return AckOutcome(AckResult.ALREADY, employee.name, existing.acknowledged_at, zone)
    row = Acknowledgement(announcement_id=ann.id, employee_id=employee.id,
                          telegram_user_id=telegram_user_id, chat_id=chat_id,
                          acknowledged_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # the same press delivered twice, concurrently
        return AckOutcome(AckResult.ALREADY, employee.name, now, zone)
    expected = session.get(AnnouncementExpected, (ann.id, employee.id)) is not None
    record_event(session, kind="announcement.acknowledged", actor=f"tg:{telegram_user_id}",
                 at=now, payload={"acknowledgement_id": row.id, "announcement_id": ann.id,
                                  "employee_id": employee.id, "expected": expected})
    return AckOutcome(AckResult.RECORDED, employee.name, now, zone)


# --- the periodic pass: tallies and reminders --------------------------------------------------


def refresh(session: Session, settings: Settings, now: datetime) -> int:
    """What the scheduler runs every few seconds. Returns the number of messages queued."""
    return (refresh_tallies(session, now, settings.telegram.tally_edit_seconds)
            + send_reminders(session, now))


def refresh_tallies(session: Session, now: datetime, min_interval_s: float) -> int:
    """Edit the tally on posts whose count changed, at most once per interval per post.

    Cheap when nothing happened: one indexed look at acknowledgements newer than the oldest
    watermark of the announcements still live."""
    live = session.exec(select(Announcement).where(
        col(Announcement.withdrawn_at).is_(None),
        Announcement.created_at >= now - TALLY_HORIZON)).all()
    if not live:
        return 0
    floor = min(a.tally_ack_id for a in live)
    newest = dict(session.exec(
        select(Acknowledgement.announcement_id, func.max(Acknowledgement.id))
        .where(col(Acknowledgement.id) > floor,
               col(Acknowledgement.announcement_id).in_([a.id for a in live]))
        .group_by(Acknowledgement.announcement_id)).all())
    queued = 0
    for ann in live:
        top = newest.get(ann.id)
        if top is None or top <= ann.tally_ack_id:
            continue
        confirmed = _confirmed_by_group(session, ann.id)
        posts = session.exec(
            select(AnnouncementPost, OutboxMessage.state)
            .join(OutboxMessage, col(OutboxMessage.id) == AnnouncementPost.outbox_id)
            .where(AnnouncementPost.announcement_id == ann.id)).all()

        def edit(post: AnnouncementPost, count: int, ann: Announcement = ann) -> tuple[str, dict]:
            return _edit_message(ann, post_text(ann.text_html, (count, post.expected)),
                                 _keyboard(ann.id))

        done = tallies.refresh_posts(
            session, posts, lambda p, c=confirmed: c.get((p.unit_id, p.regu_id), 0), edit,
            key_prefix=f"ann:{ann.id}:tally", now=now, min_interval_s=min_interval_s)
        queued += done.queued
        if not done.deferred:
            ann.tally_ack_id = top
            session.add(ann)
    return queued


def _missing_by_group(session: Session, announcement_id: int,
                      unit_ids: set[int] | None = None) -> dict[tuple[int, int | None],
                                                                list[Employee]]:
    acked = select(Acknowledgement.id).where(
        Acknowledgement.announcement_id == AnnouncementExpected.announcement_id,
        Acknowledgement.employee_id == AnnouncementExpected.employee_id)
    query = (select(AnnouncementExpected.unit_id, AnnouncementExpected.regu_id, Employee)
             .join(Employee, col(Employee.id) == AnnouncementExpected.employee_id)
             .where(AnnouncementExpected.announcement_id == announcement_id, ~acked.exists())
             .order_by(col(Employee.name)))
    if unit_ids is not None:
        query = query.where(col(AnnouncementExpected.unit_id).in_(unit_ids))
    out: dict[tuple[int, int | None], list[Employee]] = defaultdict(list)
    for unit_id, regu_id, employee in session.exec(query):
        out[(unit_id, regu_id)].append(employee)
    return out


def send_reminders(session: Session, now: datetime) -> int:
    """Once per announcement, after remind_after_minutes: a reminder in each group where
    someone has not confirmed, naming them, replying to the post. Keyed: never twice."""
    due = session.exec(select(Announcement).where(
        col(Announcement.reminded_at).is_(None), col(Announcement.withdrawn_at).is_(None),
        Announcement.remind_at <= now)).all()
    queued = 0
    for ann in due:
        missing = _missing_by_group(session, ann.id)
        posts = session.exec(
            select(AnnouncementPost, OutboxMessage.state, OutboxMessage.message_id)
            .join(OutboxMessage, col(OutboxMessage.id) == AnnouncementPost.outbox_id)
            .where(AnnouncementPost.announcement_id == ann.id)
            .order_by(col(AnnouncementPost.id))).all()
        for post, state, message_id in posts:
            people = missing.get((post.unit_id, post.regu_id))
            if state != "sent" or not people:
                continue
            text = render("announce_reminder", people=people[:REMINDER_NAMES],
                          more=max(0, len(people) - REMINDER_NAMES), announcement=ann)
            payload = outbox.html_message(text, _keyboard(ann.id))
            if message_id is not None:
                payload["reply_parameters"] = {"message_id": message_id,
                                               "allow_sending_without_reply": True}
            outbox.enqueue(session, key=f"ann:{ann.id}:remind:{post.chat_id}",
                           chat_id=post.chat_id, method="sendMessage", payload=payload,
                           now=now, priority=PRIORITY_ANNOUNCEMENT)
            queued += 1
        ann.reminded_at = now
        session.add(ann)
        log.info("announcement %d: reminders to %d groups", ann.id, queued)
    return queued


# --- who may follow up -------------------------------------------------------------------------


def viewer_units(session: Session, actor: Actor, ann: Announcement) -> set[int] | None:
    """The target units whose confirmations this person may see (the sender and admins: all;
    a Kalapas: their own units in the target). None: not allowed."""
    target = set(session.exec(select(AnnouncementUnit.unit_id).where(
        AnnouncementUnit.announcement_id == ann.id)).all())
    if actor.is_admin or ann.sender_user_id == actor.telegram_user_id:
        return target
    own = kalapas_units(actor) & target
    return own or None


def may_withdraw(actor: Actor, ann: Announcement) -> bool:
    return actor.is_admin or ann.sender_user_id == actor.telegram_user_id


def _visible_query(session: Session, actor: Actor):  # noqa: ANN202
    query = select(Announcement)
    if actor.is_admin:
        return query
    heads = kalapas_units(actor)
    mine = col(Announcement.sender_user_id) == actor.telegram_user_id
    if not heads:
        return query.where(mine)
    return query.where(or_(mine, col(Announcement.id).in_(
        select(AnnouncementUnit.announcement_id).where(
            col(AnnouncementUnit.unit_id).in_(heads)))))


# --- /dibaca -----------------------------------------------------------------------------------


@dataclass
class GroupRead:
    unit_id: int
    regu_id: int | None
    name: str
    reached: bool  # the post was delivered
    has_group: bool = True  # False: no Telegram group for these people (nothing was posted)
    expected: int = 0
    confirmed: int = 0
    missing: list[Employee] = field(default_factory=list)


@dataclass
class UnitRead:
    unit: Unit
    groups: list[GroupRead]

    @property
    def expected(self) -> int:
        return sum(g.expected for g in self.groups)

    @property
    def confirmed(self) -> int:
        return sum(g.confirmed for g in self.groups)


@dataclass
class ReadReport:
    announcement: Announcement
    units: list[UnitRead]
    sender_name: str
    may_withdraw: bool = False
    # For the spreadsheet: every expected person with the time they confirmed (or None).
    rows: list[tuple[Unit, str, Employee, datetime | None]] = field(default_factory=list)

    @property
    def expected(self) -> int:
        return sum(u.expected for u in self.units)

    @property
    def confirmed(self) -> int:
        return sum(u.confirmed for u in self.units)

    @property
    def missing(self) -> int:
        return self.expected - self.confirmed


class FollowUpResult(enum.Enum):
    OK = "ok"
    NONE = "none"  # no announcement this person may see
    UNKNOWN = "unknown"
    NOT_ALLOWED = "not_allowed"


@dataclass(frozen=True)
class FollowUp:
    result: FollowUpResult
    report: ReadReport | None = None


def follow_up(session: Session, settings: Settings, *, telegram_user_id: int,
              announcement_id: int | None) -> FollowUp:
    """/dibaca: confirmed/expected per unit and group, with the names still missing."""
    actor = actor_for(session, settings, telegram_user_id)
    if announcement_id is None:
        ann = session.exec(_visible_query(session, actor).order_by(
            col(Announcement.created_at).desc(), col(Announcement.id).desc()).limit(1)).first()
        if ann is None:
            return FollowUp(FollowUpResult.NONE)
    else:
        ann = session.get(Announcement, announcement_id)
        if ann is None:
            return FollowUp(FollowUpResult.UNKNOWN)
    units = viewer_units(session, actor, ann)
    if units is None:
        return FollowUp(FollowUpResult.NOT_ALLOWED)
    report = build_report(session, ann, units)
    report.may_withdraw = may_withdraw(actor, ann) and ann.withdrawn_at is None
    return FollowUp(FollowUpResult.OK, report)


def build_report(session: Session, ann: Announcement, unit_ids: set[int]) -> ReadReport:
    units = {u.id: u for u in session.exec(select(Unit).where(col(Unit.id).in_(unit_ids)))}
    regu_names = {r.id: r.name for r in session.exec(
        select(Regu).where(col(Regu.unit_id).in_(unit_ids)))}
    admin_name = render("admin_group_name")
    reached = {(p.unit_id, p.regu_id): state == "sent" for p, state in session.exec(
        select(AnnouncementPost, OutboxMessage.state)
        .join(OutboxMessage, col(OutboxMessage.id) == AnnouncementPost.outbox_id)
        .where(AnnouncementPost.announcement_id == ann.id))}
    rows = session.exec(
        select(AnnouncementExpected.unit_id, AnnouncementExpected.regu_id, Employee,
               Acknowledgement.acknowledged_at)
        .join(Employee, col(Employee.id) == AnnouncementExpected.employee_id)
        .outerjoin(Acknowledgement, and_(
            col(Acknowledgement.announcement_id) == AnnouncementExpected.announcement_id,
            col(Acknowledgement.employee_id) == AnnouncementExpected.employee_id))
        .where(AnnouncementExpected.announcement_id == ann.id,
               col(AnnouncementExpected.unit_id).in_(unit_ids))
        .order_by(col(Employee.name))).all()
    groups: dict[tuple[int, int | None], GroupRead] = {}
    sheet: list[tuple[Unit, str, Employee, datetime | None]] = []
    for unit_id, regu_id, employee, at in rows:
        key = (unit_id, regu_id)
        group = groups.get(key)
        if group is None:
            name = regu_names.get(regu_id, admin_name) if regu_id else admin_name
            group = groups[key] = GroupRead(unit_id, regu_id, name, reached.get(key, False),
                                            has_group=key in reached)
        group.expected += 1
        if at is not None:
            group.confirmed += 1
        else:
            group.missing.append(employee)
        sheet.append((units[unit_id], group.name, employee, at))
    by_unit: dict[int, list[GroupRead]] = defaultdict(list)
    for group in groups.values():
        by_unit[group.unit_id].append(group)
    ordered = sorted(units.values(), key=lambda u: u.name)
    unit_reads = [UnitRead(u, sorted(by_unit.get(u.id, []),
                                     key=lambda g: (g.regu_id is None, g.name)))
                  for u in ordered]
    sheet.sort(key=lambda r: (r[0].name, r[1], r[2].name))
    return ReadReport(ann, unit_reads, _sender_name(session, ann), rows=sheet)


def _sender_name(session: Session, ann: Announcement) -> str:
    if ann.sender_employee_id is not None:
        employee = session.get(Employee, ann.sender_employee_id)
        if employee is not None:
            return employee.name
    return ""


XLSX_WIDTHS = (34, 20, 30, 20, 12, 10, 20)


def workbook(report: ReadReport) -> bytes:
    """The confirmations as XLSX: one row per expected person. CPU work: run it off the loop.
    Cells go through exports.put (text stays text, never a formula)."""
    from openpyxl import Workbook

    from bot.reports.exports import put, table_head

    def label(key: str) -> str:
        return render("announce_xlsx_label", key=key)

    book = Workbook()
    sheet = book.active
    sheet.title = label("sheet")[:31]
    table_head(sheet, [label(k) for k in ("unit", "group", "name", "nip", "role", "status",
                                          "at")], XLSX_WIDTHS)
    for row, (unit, group, employee, at) in enumerate(report.rows, 2):
        local = at.astimezone(ZoneInfo(unit.timezone)).replace(tzinfo=None) if at else None
        for column, value in enumerate((unit.name, group, employee.name, employee.nip,
                                        employee.role, label("yes") if at else label("no"),
                                        local), 1):
            put(sheet, row, column, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- /pengumuman -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    announcement: Announcement
    expected: int
    confirmed: int
    sender_name: str
    zone: str  # of the first target unit, for the time shown

    @property
    def excerpt(self) -> str:
        return excerpt(self.announcement.text_html, 90)


def recent(session: Session, settings: Settings, *, telegram_user_id: int,
           limit: int = 10) -> list[Listed] | None:
    """The latest announcements this person may follow up, with confirmation rates (of the
    units they may see). None: not a sender, Kalapas or admin."""
    actor = actor_for(session, settings, telegram_user_id)
    if not (actor.is_admin or announce_reach(session, actor) or kalapas_units(actor)):
        return None
    anns = session.exec(_visible_query(session, actor).order_by(
        col(Announcement.created_at).desc(), col(Announcement.id).desc()).limit(limit)).all()
    if not anns:
        return []
    ids = [a.id for a in anns]
    expected = session.exec(
        select(AnnouncementExpected.announcement_id, AnnouncementExpected.unit_id, func.count())
        .where(col(AnnouncementExpected.announcement_id).in_(ids))
        .group_by(AnnouncementExpected.announcement_id, AnnouncementExpected.unit_id)).all()
    confirmed = session.exec(
        select(AnnouncementExpected.announcement_id, AnnouncementExpected.unit_id, func.count())
        .join(Acknowledgement, and_(
            col(Acknowledgement.announcement_id) == AnnouncementExpected.announcement_id,
            col(Acknowledgement.employee_id) == AnnouncementExpected.employee_id))
        .where(col(AnnouncementExpected.announcement_id).in_(ids))
        .group_by(AnnouncementExpected.announcement_id, AnnouncementExpected.unit_id)).all()
    heads = kalapas_units(actor)
    zones = dict(session.exec(
        select(AnnouncementUnit.announcement_id, Unit.timezone)
        .join(Unit, col(Unit.id) == AnnouncementUnit.unit_id)
        .where(col(AnnouncementUnit.announcement_id).in_(ids))
        .order_by(col(AnnouncementUnit.unit_id).desc())).all())
    out = []
    for ann in anns:
        every = actor.is_admin or ann.sender_user_id == telegram_user_id

        def seen(a: int, u: int, ann: Announcement = ann, every: bool = every) -> bool:
            return a == ann.id and (every or u in heads)

        out.append(Listed(ann, sum(n for a, u, n in expected if seen(a, u)),
                          sum(n for a, u, n in confirmed if seen(a, u)),
                          _sender_name(session, ann), zones.get(ann.id, "Asia/Jakarta")))
    return out


# --- withdrawing -------------------------------------------------------------------------------


class WithdrawResult(enum.Enum):
    WITHDRAWN = "withdrawn"
    ALREADY = "already"
    NOT_ALLOWED = "not_allowed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class WithdrawOutcome:
    result: WithdrawResult | None
    announcement: Announcement | None = None
    cancelled: int = 0  # posts never sent
    removed: int = 0  # posts and reminders taken down (deleted, or edited when too old)


def withdraw(session: Session, settings: Settings, *, announcement_id: int,
             telegram_user_id: int, now: datetime) -> WithdrawOutcome:
    """Stop what is not sent yet, take down what is (where Telegram allows), keep the record."""
    ann = session.get(Announcement, announcement_id)
    if ann is None:
        return WithdrawOutcome(WithdrawResult.UNKNOWN)
    actor = actor_for(session, settings, telegram_user_id)
    if not may_withdraw(actor, ann):
        return WithdrawOutcome(WithdrawResult.NOT_ALLOWED, ann)
    if ann.withdrawn_at is not None:
        return WithdrawOutcome(WithdrawResult.ALREADY, ann)
    ann.withdrawn_at, ann.withdrawn_by = now, telegram_user_id
    session.add(ann)
    chats = select(AnnouncementPost.chat_id).where(AnnouncementPost.announcement_id == ann.id)
    # Posts, tally edits and reminders still waiting: never sent.
    cancelled = session.exec(
        update(OutboxMessage)
        .where(OutboxMessage.state == "pending", col(OutboxMessage.chat_id).in_(chats),
               col(OutboxMessage.key).startswith(f"ann:{ann.id}:"))
        .values(state="failed", last_error="cancelled: announcement withdrawn",
                next_attempt_at=now)
        .execution_options(synchronize_session=False)).rowcount or 0
    posts = session.exec(
        select(AnnouncementPost, OutboxMessage.state, OutboxMessage.sent_at)
        .join(OutboxMessage, col(OutboxMessage.id) == AnnouncementPost.outbox_id)
        .where(AnnouncementPost.announcement_id == ann.id)).all()
    note = render("announce_withdrawn_note")
    removed = 0
    for post, state, sent_at in posts:
        if state not in ("sent", "sending"):
            continue
        if sent_at is not None and now - sent_at > DELETE_LIMIT:
            # Too old to delete: replace the text, drop the button.
            method, payload = _edit_message(ann, note, None)
        else:
            method, payload = "deleteMessage", {}
        outbox.enqueue(session, key=f"ann:{ann.id}:down:{post.chat_id}", chat_id=post.chat_id,
                       method=method, payload={**payload, "ref_outbox_id": post.outbox_id},
                       now=now, priority=PRIORITY_WITHDRAW)
        removed += 1
    reminders = session.exec(select(OutboxMessage).where(
        col(OutboxMessage.key).in_([f"ann:{ann.id}:remind:{p.chat_id}" for p, _, _ in posts]),
        col(OutboxMessage.state).in_(("sent", "sending")))).all()
    for row in reminders:
        if row.sent_at is not None and now - row.sent_at > DELETE_LIMIT:
            continue  # a reminder without its post says little; an old one can stay
        outbox.enqueue(session, key=f"ann:{ann.id}:down-remind:{row.chat_id}",
                       chat_id=row.chat_id, method="deleteMessage",
                       payload={"ref_outbox_id": row.id}, now=now, priority=PRIORITY_WITHDRAW)
        removed += 1
    record_event(session, kind="announcement.withdrawn", actor=f"tg:{telegram_user_id}", at=now,
                 payload={"announcement_id": ann.id, "cancelled": cancelled,
                          "removed": removed})
    log.info("announcement %d withdrawn by %d: %d cancelled, %d taken down", ann.id,
             telegram_user_id, cancelled, removed)
    return WithdrawOutcome(WithdrawResult.WITHDRAWN, ann, cancelled, removed)


def withdraw_check(session: Session, settings: Settings, *, announcement_id: int,
                   telegram_user_id: int) -> WithdrawOutcome:
    """Before asking "are you sure": result None means the person may withdraw it now."""
    ann = session.get(Announcement, announcement_id)
    if ann is None:
        return WithdrawOutcome(WithdrawResult.UNKNOWN)
    if not may_withdraw(actor_for(session, settings, telegram_user_id), ann):
        return WithdrawOutcome(WithdrawResult.NOT_ALLOWED, ann)
    if ann.withdrawn_at is not None:
        return WithdrawOutcome(WithdrawResult.ALREADY, ann)
    return WithdrawOutcome(None, ann)


_TAG = re.compile(r"<[^>]*>")


def excerpt(text_html: str, limit: int = 160) -> str:
    """The start of an announcement as plain text, for lists and report headers."""
    plain = " ".join(html.unescape(_TAG.sub("", text_html)).split())
    return plain if len(plain) <= limit else plain[:limit - 1].rstrip() + "…"
