"""Rules for who may act on whom, on SQLite and PostgreSQL: one rule for the units a person may
see (access.visible_units) everywhere; /jadwal for a person whose unit is inactive; officers do
not excuse themselves (leave, corrections).

Same world as tests/unit_admin/test_unit_admin.py (Lapas Palu, 26 November 2024)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.apel.models import ApelExpected, Correction
from bot.delivery.models import OutboxMessage
from bot.org.access import actor_for, visible_units
from bot.org.models import Employee, Leave, RoleGrant, Unit
from bot.reports import scope as report_scope
from bot.unit_admin import common as unit_common
from bot.unit_admin import corrections, leave, pakta, schedule
from bot.unit_admin.models import LeaveRequest
from tests.factories import add_employee
from tests.unit_admin import test_unit_admin as ua

world = ua.world  # the fixture
KPLP, KARUPAM_D, KALAPAS, AGUS, BUDI = ua.KPLP, ua.KARUPAM_D, ua.KALAPAS, ua.AGUS, ua.BUDI
KALAPAS_CILACAP = 5000002  # config.example.toml: known only as lapas-cilacap's Kalapas chat
SATGAS_KANWIL = 7009
NOW = ua.BEFORE_PAGI



def _actor(db, settings, user_id):
    return db.call(lambda s: actor_for(s, settings, user_id))


def _employee(db, tg):
    return db.call(lambda s: s.exec(select(Employee).where(Employee.telegram_user_id == tg)).one())


def _approve_button(db, chat_id):
    """The approve button of the one leave request sent to `chat_id`."""
    ask = db.call(lambda s: s.exec(select(OutboxMessage).where(
        OutboxMessage.chat_id == chat_id)).one())
    return ask.payload["reply_markup"]["inline_keyboard"][0][0]["callback_data"]


def _press_as(db, settings, tg, data):
    """The toast a leave button pressed by `tg` gives."""
    return db.call(lambda s: leave.press(s, settings, actor=actor_for(s, settings, tg),
                                         data=data, now=NOW)).toast


def _unit(db, code):
    return db.call(lambda s: s.exec(select(Unit).where(Unit.code == code)).one())


# --- one rule for the units a person may see -----------------------------------------------------


def test_kalapas_known_by_chat_and_satgas_per_kanwil_see_the_same_everywhere(world, settings):
    cilacap, palu = _unit(world, "lapas-cilacap"), _unit(world, "lapas-palu")

    def grant(s):
        s.add(RoleGrant(telegram_user_id=SATGAS_KANWIL, role="satgas", kanwil=palu.kanwil,
                        granted_at=NOW))

    world.call(grant)
    for tg, unit in ((KALAPAS_CILACAP, cilacap), (SATGAS_KANWIL, palu), (KALAPAS, palu)):
        def views(s, tg=tg):
            person = actor_for(s, settings, tg)
            return ([u.id for u in visible_units(s, person)],
                    [u.id for u in report_scope.scope_for(s, settings, tg).units],
                    unit_common.reader_scope(s, person),
                    pakta.command(s, settings, actor=person, text="", now=NOW).template)

        seen, reports, reader, pakta_reply = world.call(views)
        assert seen == reports == [unit.id]
        assert reader == unit_common.Jurisdiction(frozenset({unit.id}))
        assert pakta_reply == "pakta_status"
    # The Kalapas named only in config.toml may correct their unit; the Satgas may not.
    kalapas_scope = world.call(lambda s: corrections.correct_scope(
        s, actor_for(s, settings, KALAPAS_CILACAP)))
    assert kalapas_scope == unit_common.Jurisdiction(frozenset({cilacap.id}))
    assert world.call(lambda s: corrections.correct_scope(
        s, actor_for(s, settings, SATGAS_KANWIL))) is None
    # Role semantics otherwise as before: a guard sees nothing, the KPLP reads their unit.
    assert world.call(lambda s: visible_units(s, actor_for(s, settings, BUDI))) == []
    assert world.call(lambda s: unit_common.reader_scope(
        s, actor_for(s, settings, KPLP))) == unit_common.Jurisdiction(frozenset({palu.id}))


# --- /jadwal for somebody whose unit is inactive -------------------------------------------------


def test_jadwal_when_own_unit_is_inactive(world, settings):
    def deactivate(s):
        unit = s.exec(select(Unit).where(Unit.code == "lapas-palu")).one()
        unit.active = False
        s.add(unit)

    world.call(deactivate)
    reply = world.call(lambda s: schedule.schedule(s, settings, actor=actor_for(s, settings, AGUS),
                                                   text="", now=NOW))
    assert reply.context["result"] == "usage"


# --- officers cannot excuse themselves -----------------------------------------------------------


def test_officer_own_leave_is_a_request_to_their_superior(world, settings):
    karupam = _actor(world, settings, KARUPAM_D)
    hendra = _employee(world, KARUPAM_D)
    reply = world.call(lambda s: leave.command(s, settings, actor=karupam,
                                               text="Hendra besok sakit", now=NOW))
    assert reply.context["result"] == "requested"
    assert reply.context["names"] == ["Yusuf Kurniawan"]  # the KPLP decides, not Hendra
    assert world.call(lambda s: s.exec(select(Leave)).all()) == []
    approve = _approve_button(world, KPLP)
    assert "tidak berwenang" in _press_as(world, settings, KARUPAM_D, approve)
    assert "disetujui" in _press_as(world, settings, KPLP, approve)
    rows = world.call(lambda s: s.exec(select(Leave)).all())
    assert [(r.employee_id, r.created_by) for r in rows] == [(hendra.id, f"tg:{KPLP}")]
    # The Kalapas is the KPLP's superior, not the Karupam's.
    assert "tidak berwenang" in _press_as(world, settings, KALAPAS, approve)


def test_kplp_own_leave_is_decided_by_the_kalapas(world, settings):
    """The superior rule: guard -> Karupam/KPLP, Karupam -> KPLP, KPLP -> Kalapas."""
    kplp = _actor(world, settings, KPLP)
    yusuf = _employee(world, KPLP)
    # "/cuti saya ..." works for officers too, and so does their own name.
    own = world.call(lambda s: leave.command(s, settings, actor=kplp,
                                             text="saya 02-12-2024 cuti", now=NOW))
    assert own.context["result"] == "requested"
    assert own.context["names"] == ["Ketut Kalapas"]
    again = world.call(lambda s: leave.command(s, settings, actor=kplp,
                                               text="Yusuf 02-12-2024 cuti", now=NOW))
    assert again.context["result"] == "pending"
    approve = _approve_button(world, KALAPAS)
    for who in (KPLP, KARUPAM_D, BUDI):  # not himself, not his subordinates
        assert "tidak berwenang" in _press_as(world, settings, who, approve)
    assert "disetujui" in _press_as(world, settings, KALAPAS, approve)
    rows = world.call(lambda s: s.exec(select(Leave)).all())
    assert [(r.employee_id, r.created_by) for r in rows] == [(yusuf.id, f"tg:{KALAPAS}")]
    assert world.call(lambda s: len(s.exec(select(LeaveRequest)).all())) == 1


def test_kplp_leave_goes_to_the_kalapas_chat_when_not_on_the_roster(world, settings):
    """Lapas Cilacap's Kalapas is known only as the unit's Kalapas chat (config.toml)."""
    def seed(s):
        add_employee(s, "lapas-cilacap", 12, "Bambang KPLP", "kplp", None, 2102, True)

    world.call(seed)
    own = world.call(lambda s: leave.command(s, settings, actor=actor_for(s, settings, 2102),
                                             text="saya 02-12-2024 cuti", now=NOW))
    assert own.context["result"] == "requested"
    approve = _approve_button(world, KALAPAS_CILACAP)
    assert "tidak berwenang" in _press_as(world, settings, KALAPAS, approve)  # another unit's
    assert "disetujui" in _press_as(world, settings, KALAPAS_CILACAP, approve)


def test_officer_cannot_record_own_leave_by_button_or_directly(world, settings):
    karupam = _actor(world, settings, KARUPAM_D)
    hendra = _employee(world, KARUPAM_D)
    day = ua.DAY + timedelta(days=1)
    pressed = world.call(lambda s: leave.press(
        s, settings, actor=karupam, data=f"c:d:{hendra.id}:20241127:20241127:s", now=NOW))
    assert "diri sendiri" in pressed.toast
    assert pressed.reply.template == "own_record_refused"
    assert "/cuti saya" in pressed.reply.text()
    direct = world.call(lambda s: leave.record(
        s, actor=actor_for(s, settings, KARUPAM_D), scope=leave.manage_scope(s, karupam),
        employee=s.get(Employee, hendra.id), start=day, end=day, reason="Sakit", now=NOW))
    assert direct.template == "own_record_refused"
    assert world.call(lambda s: s.exec(select(Leave)).all()) == []


def test_officer_cannot_correct_own_missed_apel(world, settings):
    apel_id = ua._closed_pagi(world, settings)
    now = ua.utc(1, 0, day=26)
    # The Kalapas stands no apel (config attendance), so only the KPLP has one to miss.
    kalapas = _employee(world, KALAPAS)
    assert world.call(lambda s: s.get(ApelExpected, (apel_id, kalapas.id))) is None
    for tg in (KPLP,):
        me = _employee(world, tg)
        out = world.call(lambda s, tg=tg, me=me: corrections.press(
            s, settings, actor=actor_for(s, settings, tg),
            data=f"k:r:{apel_id}:{me.id}:sampai", now=now))
        assert "sendiri" in out.toast and out.reply.template == "own_record_refused"
        choose = world.call(lambda s, tg=tg, me=me: corrections.press(
            s, settings, actor=actor_for(s, settings, tg), data=f"k:e:{apel_id}:{me.id}",
            now=now))
        assert "sendiri" in choose.toast or "tidak ditemukan" in choose.toast
    assert world.call(lambda s: s.exec(select(Correction)).all()) == []
    # Others are still corrected as before.
    dewi = _employee(world, ua.DEWI)
    done = world.call(lambda s: corrections.press(
        s, settings, actor=actor_for(s, settings, KPLP), data=f"k:r:{apel_id}:{dewi.id}:sampai",
        now=now))
    assert "tercatat" in done.toast
