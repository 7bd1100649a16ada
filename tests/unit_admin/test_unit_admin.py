"""Running the unit from Telegram, service level, on SQLite and PostgreSQL: leave, swaps,
the integrity pact, corrections and per-role menus; plus the pure calendar extensions.

Lapas Palu (WITA): on Tuesday 26 November 2024 Regu D stands pagi, A siang, B malam, C is off.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from bot.apel import classification, closing, day_plan, opening, pledging
from bot.apel.models import Apel, ApelExpected, Briefing, Correction, DutySwap
from bot.audit.models import AuditEntry
from bot.calendar.duty import Move, Person, expected_people, plan_apel, regu_on_duty
from bot.delivery.models import OutboxMessage
from bot.org import menus
from bot.org.access import actor_for
from bot.org.models import Employee, Leave, MenuState
from bot.platform.config import RotationOverride
from bot.platform.texts import render
from bot.scheduler import ApelScheduler
from bot.unit_admin import corrections, leave, pakta, schedule, swap_command
from bot.unit_admin.common import DateWords, Jurisdiction, Origin, find_people, split_dates
from bot.unit_admin.models import LeaveEnding, LeaveRequest, PaktaSignature
from tests.factories import (
    AGUS,
    BUDI,
    DEWI,
    KALAPAS,
    KARUPAM_A,
    KARUPAM_D,
    KPLP,
    UNIT_CREW,
    Member,
    add_leave,
    nip,
    seed_crew,
)

STRANGER = 9999
REGU_D = -1001000000004  # Lapas Palu's Regu D group, where its briefings are posted
KALAPAS_CILACAP = 5000002  # lapas-cilacap's kalapas_chat_id, not on the roster
DAY = date(2024, 11, 26)


def utc(h: int, m: int = 0, day: int = 25) -> datetime:
    return datetime(2024, 11, day, h, m, tzinfo=UTC)


BEFORE_PAGI = utc(22, 0)  # 06.00 WITA on the 26th


@pytest.fixture
def world(db, settings):
    db.call(lambda s: seed_crew(s, settings, BEFORE_PAGI, UNIT_CREW, extra=[
        Member(9, "Citra Dewi", "anggota", "Regu C"),
        Member(11, "Wahyu Cilacap", "anggota", "Regu I", unit="lapas-cilacap")]))
    return db


def actor(db, settings, user_id):
    return db.call(lambda s: actor_for(s, settings, user_id))


def call(db, fn):
    return db.call(fn)


# --- the pure calendar ---------------------------------------------------------------------------


def test_calendar_takes_extra_overrides_and_moves(settings):
    palu = settings.unit("lapas-palu")
    assert regu_on_duty(palu, DAY, "pagi") == "Regu D"
    extra = [RotationOverride(date=DAY, slot="pagi", regu="Regu C")]
    assert regu_on_duty(palu, DAY, "pagi", extra) == "Regu C"
    # The database's overrides win over the config's (2024-11-27 pagi is Regu C in config).
    day27 = date(2024, 11, 27)
    assert regu_on_duty(palu, day27, "pagi") == "Regu C"
    assert regu_on_duty(palu, day27, "pagi",
                        [RotationOverride(date=day27, slot="pagi", regu="Regu B")]) == "Regu B"
    plan = plan_apel(palu, DAY, "pagi", settings.calendar)
    people = [Person(1, "Regu D"), Person(2, "Regu D"), Person(3, "Regu A"), Person(4, None)]
    moves = [Move(2, DAY, "siang"), Move(3, DAY, "pagi"), Move(4, DAY + timedelta(days=1), "x")]
    assert [p.id for p in expected_people(plan, people, (), moves)] == [1, 3, 4]
    siang = plan_apel(palu, DAY, "siang", settings.calendar)
    assert [p.id for p in expected_people(siang, people, (), moves)] == [2]


def test_dates_as_people_type_them():
    query, words, rest = split_dates("Budi Santoso 26-11-2024 s.d. 28-11-2024 sakit demam")
    assert (query, rest) == ("Budi Santoso", "sakit demam")
    assert words.resolve(DAY) == (DAY, date(2024, 11, 28))
    assert split_dates("Budi besok")[1].resolve(DAY) == (DAY + timedelta(days=1),) * 2
    assert split_dates("hari ini cuti")[1].resolve(DAY) == (DAY, DAY)
    assert split_dates("kemarin malam")[1].resolve(DAY) == (DAY - timedelta(days=1),) * 2
    assert split_dates("Budi 1-12-2024 sampai 3-12-2024")[1].resolve(DAY)[1] == date(2024, 12, 3)
    assert split_dates("Budi 31-02-2024")[1].resolve(DAY) is None
    assert split_dates("Budi saja")[1] is None
    assert DateWords("besok", "hari ini").resolve(DAY) == (DAY + timedelta(days=1), DAY)
    assert leave.parse_reason("dinas luar ke Kanwil") == ("d", "ke Kanwil")
    assert leave.parse_reason("urusan keluarga") == ("l", "urusan keluarga")
    assert leave.parse_reason("") == (None, "")


def test_people_found_by_nip_part_or_name_part_in_scope(world, settings):
    def names(scope, query):
        return call(world, lambda s: [e.name for e in find_people(s, scope, query)])

    everyone = Jurisdiction(None)
    assert names(everyone, nip(2)) == ["Budi Santoso"]  # the whole NIP
    assert names(everyone, nip(2)[-4:]) == ["Budi Santoso"]  # any part of it
    assert names(everyone, "  dewi ") == ["Citra Dewi", "Dewi Lestari"]
    assert names(everyone, "%") == [] and names(everyone, "") == []
    regu_a = call(world, lambda s: find_people(s, everyone, "Agus")[0].regu_id)
    assert names(Jurisdiction(None, regu_a), "dewi") == []


# --- leave ---------------------------------------------------------------------------------------


def test_officers_record_leave_in_their_scope(world, settings):
    now = BEFORE_PAGI
    karupam = actor(world, settings, KARUPAM_D)
    reply = call(world, lambda s: leave.command(s, settings, actor=karupam,
                                                text="Dewi hari ini s.d. besok sakit", now=now))
    assert reply.template == "cuti_saved"
    assert "Dewi Lestari" in reply.text() and "26-11-2024 s.d. 27-11-2024" in reply.text()
    rows = call(world, lambda s: s.exec(select(Leave)).all())
    assert [(r.start, r.end, r.reason, r.created_by) for r in rows] == [
        (DAY, DAY + timedelta(days=1), "Sakit", f"tg:{KARUPAM_D}")]
    # The same again overlaps: nothing new.
    again = call(world, lambda s: leave.command(s, settings, actor=karupam,
                                                text="Dewi besok cuti", now=now))
    assert again.context["result"] == "overlap"
    # A Karupam's scope is their regu; the KPLP's the unit; a guard records nobody else's.
    out = call(world, lambda s: leave.command(s, settings, actor=karupam,
                                              text="Agus besok cuti", now=now))
    assert out.context["result"] == "not_found"
    kplp = actor(world, settings, KPLP)
    ok = call(world, lambda s: leave.command(s, settings, actor=kplp,
                                             text=f"{nip(7)} besok diklat", now=now))
    assert ok.template == "cuti_saved"
    wahyu = call(world, lambda s: leave.command(s, settings, actor=kplp,
                                                text="Wahyu besok cuti", now=now))
    assert wahyu.context["result"] == "not_found"  # another unit
    guard = actor(world, settings, BUDI)
    other = call(world, lambda s: leave.command(s, settings, actor=guard,
                                                text="Dewi besok sakit", now=now))
    assert other.context["result"] == "own_only"  # a guard asks for his own leave only
    # Several matches: buttons; no reason: reason buttons; too far back: refused.
    many = call(world, lambda s: leave.command(s, settings, actor=kplp, text="dewi besok",
                                               now=now))
    assert many.template == "cuti_choose_person" and len(many.keyboard) == 2
    data = many.keyboard[1][0]["callback_data"]
    assert data.startswith("c:d:") and data.endswith(":-")
    reasons = call(world, lambda s: leave.press(s, settings, actor=kplp, data=data, now=now))
    assert reasons.reply.template == "cuti_choose_reason" and len(reasons.reply.keyboard) == 5
    old = call(world, lambda s: leave.command(s, settings, actor=kplp,
                                              text="Budi 01-11-2024 cuti", now=now))
    assert old.context["result"] == "too_early"
    kinds = call(world, lambda s: s.exec(select(AuditEntry.kind)).all())
    assert kinds.count("leave.added") == 2


def test_a_guard_naming_someone_else_is_told_he_may_ask_only_for_himself(world, settings):
    now = BEFORE_PAGI
    guard = actor(world, settings, BUDI)

    def ask(text):
        return call(world, lambda s: leave.command(s, settings, actor=guard, text=text, now=now))

    for text in ("Dewi hari ini sakit", f"{nip(4)} besok sakit", "Hendra besok cuti"):
        refused = ask(text)
        assert refused.template == "cuti_reply" and refused.context["result"] == "own_only"
        assert "hanya dapat mengajukan cuti/izin untuk diri sendiri" in refused.text()
    assert call(world, lambda s: s.exec(select(LeaveRequest)).all()) == []
    # Naming himself is asking for his own leave; so is `saya`, or nothing at all.
    assert ask("Budi hari ini sakit").context["result"] == "requested"
    assert ask("saya besok sakit").context["result"] == "requested"
    assert ask("besok sakit").context["result"] == "pending"  # tomorrow is asked for already
    assert ask("Budi sakit").template == "cuti_usage"  # no date: how to ask


def test_pressed_leave_buttons_are_checked_again(world, settings):
    now = BEFORE_PAGI
    dewi_id = call(world, lambda s: actor_for(s, settings, DEWI).employee.id)
    data = f"c:d:{dewi_id}:20241127:20241127:s"
    for who in (BUDI, KARUPAM_A, STRANGER):
        out = call(world, lambda s, w=who: leave.press(
            s, settings, actor=actor_for(s, settings, w), data=data, now=now))
        assert "tidak berwenang" in out.toast and out.reply is None
    for junk in ("c:d:1:2024:2024:s", "c:d:x:20241127:20241127:s", "c:zz:1", "c:a:1:2",
                 "c:d:1:20241127:20241127:q", "", "c:x:99999999999999"):
        out = call(world, lambda s, j=junk: leave.press(
            s, settings, actor=actor_for(s, settings, KPLP), data=j, now=now))
        assert "tidak berlaku" in out.toast, junk
    ok = call(world, lambda s: leave.press(s, settings, actor=actor_for(s, settings, KARUPAM_D),
                                           data=data, now=now))
    assert ok.reply.template == "cuti_saved"


def test_guard_request_goes_to_their_karupam(world, settings):
    now = BEFORE_PAGI
    guard = actor(world, settings, BUDI)
    ask = call(world, lambda s: leave.command(s, settings, actor=guard, text="besok", now=now))
    assert ask.template == "cuti_choose_reason"
    pressed = call(world, lambda s: leave.press(s, settings, actor=guard,
                                                data=ask.keyboard[1][0]["callback_data"],
                                                now=now))
    assert pressed.reply.context["result"] == "requested"
    assert pressed.reply.context["names"] == ["Hendra Gunawan"]
    asks = call(world, lambda s: s.exec(select(OutboxMessage).where(
        OutboxMessage.chat_id == KARUPAM_D)).all())
    assert len(asks) == 1 and "Permintaan cuti" in asks[0].payload["text"]
    approve = asks[0].payload["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert approve.startswith("c:a:")
    # Not the guard himself, not another regu's Karupam; the own Karupam, once.
    for who in (BUDI, KARUPAM_A):
        out = call(world, lambda s, w=who: leave.press(
            s, settings, actor=actor_for(s, settings, w), data=approve, now=now))
        assert "tidak berwenang" in out.toast
    done = call(world, lambda s: leave.press(s, settings, actor=actor_for(s, settings, KARUPAM_D),
                                             data=approve, now=now))
    assert "disetujui" in done.toast
    twice = call(world, lambda s: leave.press(
        s, settings, actor=actor_for(s, settings, KPLP), data=approve, now=now))
    assert "sudah diputuskan" in twice.toast
    rows = call(world, lambda s: s.exec(select(Leave)).all())
    assert [(r.start, r.reason) for r in rows] == [(DAY + timedelta(days=1), "Sakit")]
    told = call(world, lambda s: s.exec(select(OutboxMessage).where(
        OutboxMessage.chat_id == BUDI)).all())
    assert any("disetujui" in m.payload["text"] for m in told)
    # A request in the past is refused at once.
    past = call(world, lambda s: leave.command(s, settings, actor=guard,
                                               text="01-11-2024 cuti", now=now))
    assert past.context["result"] == "too_early"


def test_early_end_keeps_the_record(world, settings):
    now = utc(23, 40)  # 07.40 WITA on the 26th, after pagi's deadline
    kplp = actor(world, settings, KPLP)

    def setup(s):
        emp = actor_for(s, settings, DEWI).employee
        budi = actor_for(s, settings, BUDI).employee
        agus = actor_for(s, settings, AGUS).employee
        a = add_leave(s, emp, DAY - timedelta(days=2), DAY + timedelta(days=5))
        b = add_leave(s, budi, DAY - timedelta(days=2), DAY + timedelta(days=5))
        c = add_leave(s, agus, DAY + timedelta(days=3), DAY + timedelta(days=5))
        plan = plan_apel(settings.unit("lapas-palu"), DAY, "pagi", settings.calendar)
        apel = opening.open_apel(s, settings, plan, utc(23, 0))
        s.add(ApelExpected(apel_id=apel.id, employee_id=agus.id))  # (not on duty; no matter)
        return a.id, b.id, c.id, apel.id

    dewi_leave, budi_leave, agus_leave, _ = call(world, setup)
    # Dewi and Budi (Regu D) were on today's pagi list: their leave ends today, so today's
    # record stays as it was. Agus' leave had not begun: withdrawn (ends the day before).
    ask = call(world, lambda s: leave.press(s, settings, actor=kplp, data=f"c:x:{dewi_leave}",
                                            now=now))
    assert ask.reply.template == "cuti_confirm_end"
    done = call(world, lambda s: leave.press(s, settings, actor=kplp,
                                             data=f"c:y:{dewi_leave}", now=now))
    assert "diakhiri" in done.toast
    again = call(world, lambda s: leave.press(s, settings, actor=kplp,
                                              data=f"c:y:{dewi_leave}", now=now))
    assert "berakhir hari ini" in again.toast
    call(world, lambda s: leave.press(s, settings, actor=kplp, data=f"c:y:{agus_leave}",
                                      now=now))
    leaves = {lv.id: lv for lv in call(world, lambda s: s.exec(select(Leave)).all())}
    assert leaves[dewi_leave].end == DAY
    assert leaves[agus_leave].end == DAY + timedelta(days=2)  # start - 1: withdrawn
    endings = call(world, lambda s: s.exec(select(LeaveEnding).order_by(LeaveEnding.id)).all())
    assert [(e.leave_id, e.original_end, e.new_end) for e in endings] == [
        (dewi_leave, DAY + timedelta(days=5), DAY),
        (agus_leave, DAY + timedelta(days=5), DAY + timedelta(days=2))]
    # A Karupam of another regu may not end Budi's leave.
    refused = call(world, lambda s: leave.press(
        s, settings, actor=actor_for(s, settings, KARUPAM_A), data=f"c:y:{budi_leave}",
        now=now))
    assert "tidak berwenang" in refused.toast
    kinds = call(world, lambda s: s.exec(select(AuditEntry.kind)).all())
    assert kinds.count("leave.ended") == 2
    # Before any apel of the day, a return means: back today, the leave ended yesterday.
    morning = utc(21, 0, day=27)  # 05.00 WITA on the 28th
    call(world, lambda s: leave.press(s, settings, actor=kplp, data=f"c:y:{budi_leave}",
                                      now=morning))
    assert call(world, lambda s: s.get(Leave, budi_leave)).end == date(2024, 11, 27)


def test_today_list_for_officers_and_own_for_guards(world, settings):
    now = BEFORE_PAGI

    def setup(s):
        add_leave(s, actor_for(s, settings, DEWI).employee, DAY, DAY, "Sakit")
        add_leave(s, actor_for(s, settings, AGUS).employee, DAY + timedelta(days=1),
                  DAY + timedelta(days=1), "Cuti")

    call(world, setup)
    kplp_view = call(world, lambda s: leave.command(s, settings, actor=actor_for(s, settings, KPLP),
                                                    text="", now=now))
    assert kplp_view.template == "cuti_today"
    text = kplp_view.text()
    assert "Dewi Lestari (Regu D) — Sakit" in text and "Agus" not in text
    assert kplp_view.keyboard[0][0]["callback_data"].startswith("c:x:")
    kalapas_view = call(world, lambda s: leave.command(
        s, settings, actor=actor_for(s, settings, KALAPAS), text="", now=now))
    assert "Dewi Lestari" in kalapas_view.text() and kalapas_view.keyboard is None
    own = call(world, lambda s: leave.command(s, settings, actor=actor_for(s, settings, AGUS),
                                              text="", now=now))
    assert own.template == "cuti_mine" and "27-11-2024" in own.text()
    stranger = call(world, lambda s: leave.command(
        s, settings, actor=actor_for(s, settings, STRANGER), text="", now=now))
    assert stranger.context["result"] == "not_registered"


def test_leave_added_while_apel_open_excuses_in_the_report(world, settings):
    plan = plan_apel(settings.unit("lapas-palu"), DAY, "pagi", settings.calendar)
    apel = call(world, lambda s: opening.open_apel(s, settings, plan, utc(23, 0)))
    reply = call(world, lambda s: leave.command(
        s, settings, actor=actor_for(s, settings, KARUPAM_D), text="Dewi hari ini sakit",
        now=utc(23, 10)))
    assert reply.context["open_apel"] is True
    report = call(world, lambda s: closing.build_report(s, s.get(Apel, apel.id),
                                                             apel.deadline_at))
    missing = {e.name for g in report.groups for e in g.missing}
    excused = {e.name for g in report.groups for e in g.excused}
    assert "Dewi Lestari" in excused and "Dewi Lestari" not in missing


# --- swaps ---------------------------------------------------------------------------------------


def test_regu_swap_exchanges_and_open_apel_honours_it(world, settings):
    now = BEFORE_PAGI
    kplp = actor(world, settings, KPLP)
    # Regu A (siang) takes pagi: Regu D, displaced, takes siang.
    reply = call(world, lambda s: swap_command.command(s, settings, actor=kplp,
                                                       text="hari ini pagi Regu A", now=now))
    assert reply.template == "tukar_saved"
    assert [p.regu for p in reply.context["plans"]] == ["Regu A", "Regu D", "Regu B"]
    rows = call(world, lambda s: s.exec(select(DutySwap).order_by(DutySwap.id)).all())
    assert [(r.slot, r.pair_id) for r in rows] == [("pagi", None), ("siang", rows[0].id)]
    groups = call(world, lambda s: s.exec(select(OutboxMessage.chat_id).where(
        OutboxMessage.key.startswith("swap-group:"))).all())  # type: ignore[attr-defined]
    assert sorted(groups) == [-1001000000004, -1001000000001]
    # Regu C (off) takes malam: Regu B is off instead.
    call(world, lambda s: swap_command.command(s, settings, actor=kplp, text="hari ini malam C",
                                               now=now))
    plans = call(world, lambda s: day_plan.day_plans(s, settings, _palu(s), DAY))
    assert [p.regu for p in plans] == ["Regu A", "Regu D", "Regu C"]
    # The apel opens with Regu A's people and the administration staff with the KPLP (not the
    # Kalapas: he receives the report), and the report is about them.
    plan = plan_apel(settings.unit("lapas-palu"), DAY, "pagi", settings.calendar)
    assert plan.regu == "Regu D"
    apel = call(world, lambda s: opening.open_apel(s, settings, plan, utc(23, 0)))
    expected = call(world, lambda s: s.exec(select(ApelExpected.employee_id).where(
        ApelExpected.apel_id == apel.id)).all())
    names = call(world, lambda s: sorted(s.get(Employee, i).name for i in expected))
    assert names == ["Agus Salim", "Andi Karupam", "Rina Marlina", "Yusuf Kurniawan"]
    briefings = call(world, lambda s: s.exec(select(Briefing.chat_id).where(
        Briefing.apel_id == apel.id)).all())
    assert -1001000000001 in briefings and -1001000000004 not in briefings
    # Opened: no more changes to it; the undo button says so.
    late = call(world, lambda s: swap_command.command(s, settings, actor=kplp,
                                                      text="hari ini pagi Regu B", now=utc(23, 5)))
    assert late.context["result"] == "already_open"
    undo = call(world, lambda s: swap_command.press(s, settings, actor=kplp,
                                                    data=f"t:u:{rows[0].id}", now=utc(23, 5)))
    assert "sudah dimulai" in undo.toast
    kinds = call(world, lambda s: s.exec(select(AuditEntry.kind)).all())
    assert kinds.count("swap.recorded") == 2


def _palu(s):
    from bot.org.models import Unit
    return s.exec(select(Unit).where(Unit.code == "lapas-palu")).one()


def test_swap_rights_and_undo(world, settings):
    now = BEFORE_PAGI
    for who, text, result in [
            (KARUPAM_D, "besok pagi Regu C", "not_allowed_regu"),
            (BUDI, "besok siang Budi", "not_allowed"),
            (KALAPAS, "besok siang Budi", "not_allowed"),
            (STRANGER, "besok siang Budi", "not_registered"),
            (KARUPAM_A, "besok siang Dewi", "not_found"),  # not in his regu
            (KPLP, "01-11-2024 pagi Regu C", "past"),
            (KPLP, "hari ini pagi Regu D", "already")]:
        out = call(world, lambda s, w=who, t=text: swap_command.command(
            s, settings, actor=actor_for(s, settings, w), text=t, now=now))
        assert out.context.get("result") == result, (who, text)
    usage = call(world, lambda s: swap_command.command(
        s, settings, actor=actor_for(s, settings, KPLP), text="besok", now=now))
    assert usage.template == "tukar_usage"
    # The Karupam moves his own man; the undo puts him back.
    moved = call(world, lambda s: swap_command.command(
        s, settings, actor=actor_for(s, settings, KARUPAM_D), text="hari ini siang Budi",
        now=now))
    assert moved.template == "tukar_saved" and moved.context["own"] == "pagi"
    assert call(world, lambda s: day_plan.moves_on(s, _palu(s).id, DAY))[0].slot == "siang"
    undo = moved.keyboard[0][0]["callback_data"]
    refused = call(world, lambda s: swap_command.press(
        s, settings, actor=actor_for(s, settings, BUDI), data=undo, now=now))
    assert "tidak berwenang" in refused.toast
    ok = call(world, lambda s: swap_command.press(s, settings, actor=actor_for(s, settings, KPLP),
                                                  data=undo, now=now))
    assert ok.reply.template == "tukar_revoked"
    assert call(world, lambda s: day_plan.moves_on(s, _palu(s).id, DAY)) == []
    assert len(call(world, lambda s: s.exec(select(DutySwap)).all())) == 1  # kept, revoked


def test_person_swap_moves_the_expected_list(world, settings):
    call(world, lambda s: swap_command.command(s, settings, actor=actor_for(s, settings, KPLP),
                                               text="hari ini siang Dewi Lestari", now=BEFORE_PAGI))
    palu = settings.unit("lapas-palu")
    pagi = call(world, lambda s: opening.open_apel(
        s, settings, plan_apel(palu, DAY, "pagi", settings.calendar), utc(23, 0)))
    siang = call(world, lambda s: opening.open_apel(
        s, settings, plan_apel(palu, DAY, "siang", settings.calendar), utc(5, 0, day=26)))

    def expected(apel_id):
        return call(world, lambda s: {s.get(Employee, e.employee_id).name: e.regu_id
                                      for e in s.exec(select(ApelExpected).where(
                                          ApelExpected.apel_id == apel_id))})

    assert "Dewi Lestari" not in expected(pagi.id)
    at_siang = expected(siang.id)
    assert "Dewi Lestari" in at_siang
    assert at_siang["Dewi Lestari"] == at_siang["Agus Salim"]  # stands with Regu A
    dm = call(world, lambda s: s.exec(select(OutboxMessage).where(
        OutboxMessage.key == f"briefing-dm:{siang.id}:{4}")).first())
    assert dm is not None and dm.chat_id == DEWI
    assert dm.payload["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == f"p:{siang.id}"


def test_jadwal_shows_swaps_in_local_time(world, settings):
    now = BEFORE_PAGI
    call(world, lambda s: swap_command.command(s, settings, actor=actor_for(s, settings, KPLP),
                                               text="hari ini pagi Regu C", now=now))
    call(world, lambda s: swap_command.command(s, settings, actor=actor_for(s, settings, KPLP),
                                               text="hari ini malam Budi", now=now))
    reply = call(world, lambda s: schedule.schedule(s, settings, actor=actor_for(s, settings, AGUS),
                                                    text="", now=now))
    text = re.sub(r"<[^>]+>", "", reply.text())
    assert "Selasa, 26 November 2024" in text
    assert "Apel pagi 07.00 WITA: Regu C (tukar jaga) + staf administrasi" in text
    assert "Apel siang 13.00 WITA: Regu A" in text
    assert "Libur: Regu D" in text and "Budi Santoso — apel malam" in text
    tomorrow = call(world, lambda s: schedule.schedule(
        s, settings, actor=actor_for(s, settings, AGUS), text="besok", now=now)).text()
    assert "Rabu, 27 November 2024" in tomorrow and "(tukar jaga)" not in tomorrow
    bad = call(world, lambda s: schedule.schedule(s, settings, actor=actor_for(s, settings, AGUS),
                                                  text="kapan-kapan", now=now))
    assert bad.context["result"] == "usage"
    assert call(world, lambda s: schedule.schedule(
        s, settings, actor=actor_for(s, settings, STRANGER), text="", now=now)
    ).context["result"] == "not_registered"


# --- pakta integritas ----------------------------------------------------------------------------


def test_pakta_read_then_sign_with_own_nip(world, settings):
    now = BEFORE_PAGI
    budi = actor(world, settings, BUDI)
    early = call(world, lambda s: pakta.sign(s, settings, actor=budi, typed=nip(2), now=now))
    assert early.template == "pakta_show" and early.context["note"] == "read_first"
    shown = call(world, lambda s: pakta.command(s, settings, actor=budi, text="", now=now))
    text = shown.text()
    assert "PAKTA INTEGRITAS" in text and nip(2) in text and "Menolak politik uang" in text
    wrong = call(world, lambda s: pakta.sign(s, settings, actor=budi, typed=nip(4), now=now))
    assert wrong.context["result"] == "wrong_nip"
    signed = call(world, lambda s: pakta.sign(s, settings, actor=budi, typed=nip(2), now=now))
    assert signed.context["result"] == "signed"
    again = call(world, lambda s: pakta.sign(s, settings, actor=budi, typed=nip(2), now=now))
    assert again.context["result"] == "already"
    sig = call(world, lambda s: s.exec(select(PaktaSignature)).one())
    assert sig.signed_at == now and sig.telegram_user_id == BUDI
    assert sig.text_sha256 == pakta.digest(call(world, lambda s: pakta.pact_text(
        settings, pakta.period_row(s, settings), budi.employee, _palu(s))))
    entry = call(world, lambda s: s.exec(select(AuditEntry).where(
        AuditEntry.kind == "pakta.signed")).one())
    assert f'"employee_id":{budi.employee.id}' in entry.payload
    stranger = call(world, lambda s: pakta.sign(
        s, settings, actor=actor_for(s, settings, STRANGER), typed=nip(3), now=now))
    assert stranger.context["result"] == "not_registered" and f"/daftar {nip(3)}" in \
        stranger.text()


def test_pakta_text_changed_after_showing_is_shown_again(world, settings):
    now = BEFORE_PAGI
    budi = actor(world, settings, BUDI)
    call(world, lambda s: pakta.command(s, settings, actor=budi, text="", now=now))
    period = settings.period.model_copy(update={"pakta_text": "Saya berjanji menjaga netralitas."})
    changed = settings.model_copy(update={"period": period})
    out = call(world, lambda s: pakta.sign(s, changed, actor=budi, typed=nip(2), now=now))
    assert out.template == "pakta_show" and out.context["note"] == "changed"
    assert "Saya berjanji menjaga netralitas." in out.text()
    ok = call(world, lambda s: pakta.sign(s, changed, actor=budi, typed=nip(2), now=now))
    assert ok.context["result"] == "signed"


def test_pakta_status_for_the_kalapas(world, settings):
    now = BEFORE_PAGI
    budi = actor(world, settings, BUDI)
    call(world, lambda s: pakta.command(s, settings, actor=budi, text="", now=now))
    call(world, lambda s: pakta.sign(s, settings, actor=budi, typed=nip(2), now=now))
    status = call(world, lambda s: pakta.command(s, settings, actor=actor_for(s, settings, KALAPAS),
                                                 text="", now=now))
    text = status.text()
    assert "1 dari 10 pegawai sudah menandatangani (10%)" in text
    assert "Dewi Lestari (Regu D)" in text and "Budi Santoso" not in text
    assert "Sari Wulandari (Regu D) — belum terdaftar di bot" in text
    assert "Wahyu" not in text  # another unit
    assert status.keyboard[0][0]["callback_data"] == "m:t"  # the Kalapas' own signature
    own = call(world, lambda s: pakta.press(s, settings, actor=actor_for(s, settings, KALAPAS),
                                            data="m:t", now=now))
    assert own.reply.template == "pakta_show"
    guard = call(world, lambda s: pakta.command(s, settings, actor=actor_for(s, settings, DEWI),
                                                text="status", now=now))
    assert guard.template == "pakta_show"  # a guard gets the pact, never the list


def test_pakta_reminders_follow_the_cadence_once_a_day(world, settings):
    budi = actor(world, settings, BUDI)
    call(world, lambda s: pakta.command(s, settings, actor=budi, text="", now=BEFORE_PAGI))
    call(world, lambda s: pakta.sign(s, settings, actor=budi, typed=nip(2), now=BEFORE_PAGI))
    # 26 Nov is day 86 of the period (not a multiple of 3); 27 Nov is day 87.
    assert call(world, lambda s: pakta.send_reminders(s, settings, utc(2, 0, day=26))) == 0
    assert call(world, lambda s: pakta.send_reminders(s, settings, utc(0, 30, day=27))) == 0
    first = call(world, lambda s: pakta.send_reminders(s, settings, utc(1, 0, day=27)))
    again = call(world, lambda s: pakta.send_reminders(s, settings, utc(5, 0, day=27)))
    assert (first, again) == (7, 0)  # registered, started, unsigned: all but Budi and Wahyu
    chats = call(world, lambda s: s.exec(select(OutboxMessage.chat_id).where(
        OutboxMessage.key.startswith("pakta-remind:"))).all())  # type: ignore[attr-defined]
    assert BUDI not in chats and DEWI in chats and KALAPAS in chats
    off = settings.model_copy(update={"pakta": settings.pakta.model_copy(
        update={"reminder_days": 0})})
    assert call(world, lambda s: pakta.send_reminders(s, off, utc(1, 0, day=30))) == 0


# --- corrections ---------------------------------------------------------------------------------


def _closed_pagi(world, settings):
    plan = plan_apel(settings.unit("lapas-palu"), DAY, "pagi", settings.calendar)

    def run(s):
        apel = opening.open_apel(s, settings, plan, utc(23, 0))
        pledging.pledge(s, apel_id=apel.id, telegram_user_id=BUDI, chat_id=REGU_D,
                            now=utc(23, 5))
        for b in s.exec(select(OutboxMessage).where(OutboxMessage.key.startswith(  # type: ignore
                "briefing:"))):
            b.state, b.sent_at = "sent", utc(23, 0)
            s.add(b)
        s.flush()
        closing.close_apel(s, apel, utc(23, 31))
        return apel.id

    return call(world, run)


def test_correction_excuses_and_every_report_shows_it(world, settings):
    apel_id = _closed_pagi(world, settings)
    now = utc(1, 0, day=26)
    kplp = actor(world, settings, KPLP)
    listing = call(world, lambda s: corrections.command(s, settings, actor=kplp, text="",
                                                        now=now))
    assert listing.template == "koreksi_list" and "26-11-2024 apel pagi" in listing.text()
    step = call(world, lambda s: corrections.press(s, settings, actor=kplp,
                                                   data=listing.keyboard[0][0]["callback_data"],
                                                   now=now))
    assert "Dewi Lestari" in step.reply.text()
    dewi = next(b[0]["callback_data"] for b in step.reply.keyboard if "Dewi" in b[0]["text"])
    reasons = call(world, lambda s: corrections.press(s, settings, actor=kplp, data=dewi, now=now))
    data = reasons.reply.keyboard[0][0]["callback_data"]
    assert data.endswith(":sampai")
    for who in (BUDI, KARUPAM_D):
        refused = call(world, lambda s, w=who: corrections.press(
            s, settings, actor=actor_for(s, settings, w), data=data, now=now))
        assert "tidak berwenang" in refused.toast
    done = call(world, lambda s: corrections.press(s, settings, actor=kplp, data=data, now=now))
    assert "tercatat" in done.toast and done.reply.template == "koreksi_saved"
    twice = call(world, lambda s: corrections.press(s, settings, actor=kplp, data=data, now=now))
    assert "sudah dikoreksi" in twice.toast
    # The original record is untouched; the report shows the person as corrected.
    report = call(world, lambda s: closing.build_report(s, s.get(Apel, apel_id),
                                                             s.get(Apel, apel_id).deadline_at))
    assert "Dewi Lestari" not in {e.name for g in report.groups for e in g.missing}
    assert report.corrected == 1
    text = render("apel_report", report=report, unit=report.unit, apel=report.apel)
    assert "Dikoreksi: 1" in text
    assert "Dewi Lestari — Pengarahan tidak sampai kepada yang bersangkutan (oleh Yusuf" in text
    found = call(world, lambda s: classification.corrections_for(s, [apel_id, 999]))
    assert list(found) == [(apel_id, 4)] and isinstance(found[(apel_id, 4)], Correction)
    note = call(world, lambda s: s.exec(select(OutboxMessage).where(
        OutboxMessage.key.startswith("correction-note:"))).one())  # type: ignore
    assert note.chat_id == KALAPAS and "Dewi Lestari" in note.payload["text"]
    # Somebody who pledged cannot be "corrected".
    budi_data = data.replace(":4:", ":2:")
    assert "tidak tercatat belum" in call(world, lambda s: corrections.press(
        s, settings, actor=kplp, data=budi_data, now=now)).toast


def test_correction_rights_and_direct_apel(world, settings):
    apel_id = _closed_pagi(world, settings)
    now = utc(1, 0, day=26)
    for who, result in [(KARUPAM_D, "not_allowed"), (BUDI, "not_allowed"),
                        (STRANGER, "not_registered")]:
        out = call(world, lambda s, w=who: corrections.command(
            s, settings, actor=actor_for(s, settings, w), text="", now=now))
        assert out.context["result"] == result
    direct = call(world, lambda s: corrections.command(
        s, settings, actor=actor_for(s, settings, KALAPAS), text="hari ini pagi", now=now))
    assert direct.template == "koreksi_missing" and direct.context["apel"].id == apel_id
    none = call(world, lambda s: corrections.command(
        s, settings, actor=actor_for(s, settings, KALAPAS), text="hari ini malam", now=now))
    assert none.context["result"] == "no_apel"
    still_open = call(world, lambda s: corrections.press(
        s, settings, actor=actor_for(s, settings, KALAPAS), data=f"k:a:{apel_id + 100}",
        now=now))
    assert "tidak ditemukan" in still_open.toast


# --- menus ---------------------------------------------------------------------------------------


TABLE = [
    menus.MenuCommand("koreksi", "Koreksi", frozenset({"kplp", "kalapas", "admin"})),
    menus.MenuCommand("cuti", "Catat cuti", frozenset({"karupam", "kplp", "admin"})),
    menus.MenuCommand("cuti", "Ajukan cuti", frozenset({"pegawai"})),
    menus.MenuCommand("daftar", "Daftar", frozenset({"tamu"})),
    menus.MenuCommand("bantuan", "Bantuan"),
]


def test_menus_by_role_and_only_when_changed(world, settings):
    now = BEFORE_PAGI
    assert menus.default_commands(TABLE) == [{"command": "daftar", "description": "Daftar"},
                                             {"command": "bantuan", "description": "Bantuan"}]
    queued = call(world, lambda s: menus.sync(s, settings, TABLE, now, full=True))
    # The eight registered people who started the bot in lapas-palu, and the Kalapas of
    # lapas-cilacap, known only by the unit's kalapas_chat_id.
    assert queued == 9
    rows = call(world, lambda s: {r.chat_id: r.payload for r in s.exec(select(OutboxMessage))})
    # Registered people no longer see /daftar.
    assert [c["description"] for c in rows[KPLP]["commands"]] == [
        "Koreksi", "Catat cuti", "Bantuan"]
    assert [c["description"] for c in rows[BUDI]["commands"]] == ["Ajukan cuti", "Bantuan"]
    assert [c["description"] for c in rows[KALAPAS_CILACAP]["commands"]] == [
        "Koreksi", "Bantuan"]
    assert rows[BUDI]["scope"] == {"type": "chat", "chat_id": BUDI}
    assert call(world, lambda s: menus.sync(s, settings, TABLE, now, full=True)) == 0
    assert call(world, lambda s: menus.sync(s, settings, TABLE, now)) == 0

    # Budi becomes Karupam (a roster change): the next sync gives him the officer's menu.
    later = now + timedelta(minutes=5)

    def promote(s):
        emp = actor_for(s, settings, BUDI).employee
        emp.role, emp.updated_at = "karupam", later
        s.add(emp)

    call(world, promote)
    assert call(world, lambda s: menus.sync(s, settings, TABLE, later)) == 1
    # Deactivated: the chat's own menu is deleted.
    even_later = later + timedelta(minutes=5)

    def leave_service(s):
        emp = actor_for(s, settings, DEWI).employee
        emp.active, emp.updated_at = False, even_later
        s.add(emp)

    call(world, leave_service)
    assert call(world, lambda s: menus.sync(s, settings, TABLE, even_later)) == 1
    gone = call(world, lambda s: s.exec(select(OutboxMessage).where(
        OutboxMessage.method == "deleteMyCommands")).one())
    assert gone.chat_id == DEWI and call(world, lambda s: s.get(MenuState, DEWI)) is None


def test_scheduler_housekeeping_runs_reminders_and_menus(world, settings):
    from bot.platform.clock import FakeClock

    clock = FakeClock(utc(1, 0, day=27))
    sched = ApelScheduler(world, settings, clock, menu_table=TABLE)
    assert sched.housekeeping() == 8 + 9  # reminders (nobody signed yet), menus
    assert sched.housekeeping() == 0


async def test_a_fenced_scheduler_rings_no_bell(world, settings):
    """A leader that lost its lock (it froze, another took over, it woke and is stopping)
    runs none of its jobs; leading on again, it runs them."""
    from bot.platform.clock import FakeClock

    leading = {"now": False}
    sched = ApelScheduler(world, settings, FakeClock(utc(1, 0, day=27)), menu_table=TABLE,
                          may_run=lambda: leading["now"])
    queued = lambda: len(call(world, lambda s: s.exec(select(OutboxMessage)).all()))  # noqa: E731
    sched.start()
    try:
        jobs = {job.id: job.func for job in sched._scheduler.get_jobs()}
        for job in jobs.values():
            await job()
        assert queued() == 0
        leading["now"] = True
        await jobs["housekeeping"]()
        assert queued() == 8 + 9
    finally:
        sched.stop()


def test_end_search_and_upcoming_swaps(world, settings):
    now = BEFORE_PAGI
    call(world, lambda s: add_leave(s, actor_for(s, settings, BUDI).employee, DAY,
                                    DAY + timedelta(days=3)))
    kplp = actor(world, settings, KPLP)
    found = call(world, lambda s: leave.command(s, settings, actor=kplp, text="selesai Budi",
                                                now=now))
    assert found.template == "cuti_choose_end"
    assert found.keyboard[0][0]["callback_data"].startswith("c:x:")
    nothing = call(world, lambda s: leave.command(s, settings, actor=kplp, text="selesai Agus",
                                                  now=now))
    assert nothing.context["result"] == "no_current_leave"
    refused = call(world, lambda s: leave.command(
        s, settings, actor=actor_for(s, settings, DEWI), text="selesai Budi", now=now))
    assert refused.context["result"] == "not_allowed"
    call(world, lambda s: swap_command.command(s, settings, actor=kplp,
                                               text="besok apel pagi Regu A", now=now))
    call(world, lambda s: swap_command.command(s, settings, actor=kplp, text="besok malam Budi",
                                               now=now))
    listed = call(world, lambda s: swap_command.command(s, settings, actor=kplp, text="", now=now))
    assert listed.template == "tukar_list" and len(listed.keyboard) == 2
    assert "27-11-2024 apel pagi: Regu A" in listed.text()
    karupam = call(world, lambda s: swap_command.command(
        s, settings, actor=actor_for(s, settings, KARUPAM_D), text="", now=now))
    assert [b[0]["text"] for b in karupam.keyboard] == ["Batalkan: 27-11-2024 malam — Budi Santoso"]
    own = call(world, lambda s: pakta.command(s, settings, actor=actor_for(s, settings, KALAPAS),
                                              text="baca", now=now))
    assert own.template == "pakta_show"


def test_both_copies_of_a_leave_request_lose_their_buttons(world, settings):
    """The Kalapas' own leave goes to every admin; once one decides, the others' copies close."""
    admins = (7000001, 7000002)
    settings = settings.model_copy(update={"telegram": settings.telegram.model_copy(
        update={"admin_user_ids": list(admins)})})
    call(world, lambda s: leave.command(s, settings, actor=actor_for(s, settings, KALAPAS),
                                        text="besok sakit", now=BEFORE_PAGI))
    copies = call(world, lambda s: {r.chat_id: r.id for r in s.exec(select(OutboxMessage).where(
        OutboxMessage.key.startswith("leave-ask:")))})  # type: ignore[attr-defined]
    assert set(copies) == set(admins)
    request_id = call(world, lambda s: s.exec(select(LeaveRequest.id)).one())
    pressed = Origin(admins[0], 11, "Permintaan cuti")
    call(world, lambda s: leave.press(s, settings, actor=actor_for(s, settings, admins[0]),
                                      data=f"c:a:{request_id}", now=BEFORE_PAGI,
                                      origin=pressed))
    edits = call(world, lambda s: s.exec(select(OutboxMessage).where(
        OutboxMessage.method == "editMessageText")).all())
    by_chat = {e.chat_id: e.payload for e in edits}
    assert set(by_chat) == set(admins)
    assert by_chat[admins[0]]["message_id"] == 11  # the pressed copy, as Telegram showed it
    other = by_chat[admins[1]]  # the other copy, once it has a message id
    assert other["ref_outbox_id"] == copies[admins[1]] and "reply_markup" not in other
    assert "Disetujui oleh" in other["text"]
