"""Rules for who may act on whom, on SQLite and PostgreSQL: one rule for the units a person may
see (access.visible_units) everywhere; /jadwal for a person whose unit is inactive.

Same world as tests/test_unit_admin.py (Lapas Palu, 26 November 2024)."""

from __future__ import annotations

from sqlmodel import select

from bot.models import Employee, RoleGrant, Unit
from bot.services import corrections, pakta, report_views, swaps, unit_common
from bot.services.access import actor_for, visible_units
from tests import test_unit_admin as ua

world = ua.world  # the fixture
KPLP, KARUPAM_D, KALAPAS, AGUS, BUDI = ua.KPLP, ua.KARUPAM_D, ua.KALAPAS, ua.AGUS, ua.BUDI
KALAPAS_CILACAP = 5000002  # config.example.toml: known only as lapas-cilacap's Kalapas chat
SATGAS_KANWIL = 7009
NOW = ua.BEFORE_PAGI


def _actor(db, settings, user_id):
    return db.call(lambda s: actor_for(s, settings, user_id))


def _employee(db, tg):
    return db.call(lambda s: s.exec(select(Employee).where(Employee.telegram_user_id == tg)).one())


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
                    [u.id for u in report_views.scope_for(s, settings, tg).units],
                    unit_common.reader_scope(s, person),
                    pakta.command(s, settings, actor=person, text="", now=NOW).template)

        seen, reports, reader, pakta_reply = world.call(views)
        assert seen == reports == [unit.id]
        assert reader == unit_common.Scope(frozenset({unit.id}))
        assert pakta_reply == "pakta_status"
    # The Kalapas named only in config.toml may correct their unit; the Satgas may not.
    kalapas_scope = world.call(lambda s: corrections.correct_scope(
        s, actor_for(s, settings, KALAPAS_CILACAP)))
    assert kalapas_scope == unit_common.Scope(frozenset({cilacap.id}))
    assert world.call(lambda s: corrections.correct_scope(
        s, actor_for(s, settings, SATGAS_KANWIL))) is None
    # Role semantics otherwise as before: a guard sees nothing, the KPLP reads their unit.
    assert world.call(lambda s: visible_units(s, actor_for(s, settings, BUDI))) == []
    assert world.call(lambda s: unit_common.reader_scope(
        s, actor_for(s, settings, KPLP))) == unit_common.Scope(frozenset({palu.id}))


# --- /jadwal for somebody whose unit is inactive -------------------------------------------------


def test_jadwal_when_own_unit_is_inactive(world, settings):
    def deactivate(s):
        unit = s.exec(select(Unit).where(Unit.code == "lapas-palu")).one()
        unit.active = False
        s.add(unit)

    world.call(deactivate)
    reply = world.call(lambda s: swaps.schedule(s, settings, actor=actor_for(s, settings, AGUS),
                                                text="", now=NOW))
    assert reply.context["result"] == "usage"
