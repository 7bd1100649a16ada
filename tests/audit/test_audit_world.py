"""A unit's month in small, written through the services: every operative table the reports
read has rows, each with its audit entries (shared by the reconciliation and recount tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlmodel import Session, select

from bot.announcements import confirmations, sending, withdrawal
from bot.apel import closing, opening, pledging
from bot.apel.models import DutySwap
from bot.audit.chain import append
from bot.audit.kinds import EMPLOYEE_CHANGED
from bot.calendar.duty import plan_apel
from bot.delivery.models import OutboxMessage
from bot.org import registration, roles
from bot.org.access import actor_for
from bot.org.audit_entries import employee_facts
from bot.org.models import Employee, Leave
from bot.platform.config import Settings
from bot.platform.db import Database
from bot.unit_admin import corrections, leave, pakta, swap_command, swap_rules
from tests.factories import (
    BUDI,
    DEWI,
    KARUPAM_D,
    KPLP,
    UNIT_CREW,
    Member,
    nip,
    seed_crew,
)

DAY = date(2024, 11, 26)
REGU_D = -1001000000004  # Lapas Palu's Regu D group (config.example.toml)
SARI_TG, STRANGER = 3002, 9999


def utc(h: int, m: int = 0, day: int = 25) -> datetime:
    return datetime(2024, 11, day, h, m, tzinfo=UTC)


@dataclass
class World:
    apel_id: int
    citra_id: int  # on no list, pledged nothing: a safe stand-in when a row is reassigned
    spare_id: int  # another unit's guard nobody references: safe to delete


def _record_roster(s: Session, at: datetime) -> None:
    """What an audited roster import would have written for the seeded crew."""
    for emp in s.exec(select(Employee).order_by(Employee.id)):
        append(s, kind=EMPLOYEE_CHANGED, actor="cli:test", at=at, payload=employee_facts(emp))


def _people_and_rights(s: Session, settings: Settings, now: datetime) -> None:
    people = seed_crew(s, settings, now, UNIT_CREW, extra=[
        Member(9, "Citra Dewi", "anggota", "Regu C"),
        Member(11, "Wahyu Cilacap", "anggota", "Regu I", unit="lapas-cilacap")])
    people["Sari"].telegram_user_id = None
    _record_roster(s, now)
    target = roles.target(s, "satgas", "lapas-palu", None)
    roles.grant(s, user_id=KPLP, t=target, by=None, actor="cli:test", now=now)
    roles.grant(s, user_id=STRANGER, t=roles.target(s, "admin", None, None), by=None,
                actor="cli:test", now=now)
    roles.revoke(s, user_id=STRANGER, t=roles.target(s, "admin", None, None), actor="cli:test",
                 now=now)
    claim = registration.claim(s, settings, telegram_user_id=SARI_TG, telegram_name="Sari",
                               nip=nip(3), now=now)
    registration.decide(s, settings, request_id=claim.request_id, approver_user_id=KPLP,
                        approve=True, now=now)
    # Two accounts claim Citra; the second approval finds her taken (refused as a conflict).
    claims = [registration.claim(s, settings, telegram_user_id=tg, telegram_name="Citra",
                                 nip=nip(9), now=now) for tg in (8001, 8002)]
    for c in claims:
        registration.decide(s, settings, request_id=c.request_id, approver_user_id=KPLP,
                            approve=True, now=now)


def _leave_swaps_pakta(s: Session, settings: Settings, now: datetime) -> None:
    kplp = actor_for(s, settings, KPLP)
    leave.command(s, settings, actor=kplp, text="Dewi Lestari hari ini s.d. besok sakit", now=now)
    leave.command(s, settings, actor=kplp, text="Agus 28-11-2024 s.d. 30-11-2024 cuti", now=now)
    agus = max(r.id for r in s.exec(select(Leave)))
    leave.end_early(s, actor=kplp, leave_id=agus, now=now)
    swap_command.command(s, settings, actor=kplp, text="besok malam Regu C", now=now)
    swap_command.command(s, settings, actor=kplp, text="besok siang Citra Dewi", now=now)
    first = min(r.id for r in s.exec(select(DutySwap)))
    swap_rules.revoke(s, settings, actor=kplp, swap_id=first, now=now)
    budi = actor_for(s, settings, BUDI)
    pakta.command(s, settings, actor=budi, text="", now=now)
    pakta.sign(s, settings, actor=budi, typed=nip(2), now=now)
    pakta.command(s, settings, actor=actor_for(s, settings, DEWI), text="", now=now)


def _apel(s: Session, settings: Settings) -> int:
    plan = plan_apel(settings.unit("lapas-palu"), DAY, "pagi", settings.calendar)
    apel = opening.open_apel(s, settings, plan, utc(23, 0))
    # Pressed under the briefing in Regu D's group (a press counts only where it was posted).
    pledging.pledge(s, apel_id=apel.id, telegram_user_id=BUDI, chat_id=REGU_D,
                        now=utc(23, 5))
    pledging.pledge(s, apel_id=apel.id, telegram_user_id=KARUPAM_D, chat_id=REGU_D,
                        now=utc(23, 25))  # late
    for b in s.exec(select(OutboxMessage).where(
            OutboxMessage.key.startswith("briefing:"))):  # type: ignore[attr-defined]
        b.state, b.sent_at = "sent", utc(23, 0)
        s.add(b)
    s.flush()
    closing.close_apel(s, apel, utc(23, 31))
    return apel.id


def _after(s: Session, settings: Settings, apel_id: int, now: datetime) -> None:
    kplp = actor_for(s, settings, KPLP)
    sari = s.exec(select(Employee).where(Employee.nip == nip(3))).one()
    corrections.record(s, actor=kplp, apel_id=apel_id, employee_id=sari.id, code="sakit",
                       now=now)
    sent = sending.send(s, settings, sender_user_id=KPLP, draft_key="k1",
                         text_html="<b>Edaran</b>", media_kind=None, media_file_id=None,
                         scope="unit", now=now)
    confirmations.acknowledge(s, announcement_id=sent.announcement.id, telegram_user_id=BUDI,
                         chat_id=BUDI, now=now)
    second = sending.send(s, settings, sender_user_id=KPLP, draft_key="k2",
                           text_html="Salah kirim", media_kind=None, media_file_id=None,
                           scope="unit", now=now)
    withdrawal.withdraw(s, settings, announcement_id=second.announcement.id,
                      telegram_user_id=KPLP, now=now)


def build_world(db: Database, settings: Settings) -> World:
    db.call(lambda s: _people_and_rights(s, settings, utc(21, 0)))
    db.call(lambda s: _leave_swaps_pakta(s, settings, utc(22, 0)))
    apel_id = db.call(lambda s: _apel(s, settings))
    db.call(lambda s: _after(s, settings, apel_id, utc(1, 0, day=26)))
    ids = db.call(lambda s: {e.nip: e.id for e in s.exec(select(Employee))})
    return World(apel_id, ids[nip(9)], ids[nip(11)])
