"""Renaming a unit or moving groups between regu works in one start-up (one sync_config
transaction), on SQLite and PostgreSQL: the unique regu.chat_id is freed before it is taken."""

from __future__ import annotations

from sqlmodel import select

from bot.org.models import Regu, Unit
from bot.org.units import PARKED_CHAT_BASE, sync_config
from bot.platform.config import Settings
from bot.platform.config_loading import parse_settings
from tests.platform.test_config_checks import CILACAP_I, PALU_A, example

PALU_B = -1001000000002


def _settings(mutate=None) -> Settings:  # noqa: ANN001
    data = example()
    if mutate:
        mutate(data)
    return parse_settings(data)


def _sync(db, settings: Settings, clock) -> None:  # noqa: ANN001
    db.call(lambda s: sync_config(s, settings, clock.now()))


def _regu_by_chat(db) -> dict[int, tuple[str, str, bool]]:  # noqa: ANN001
    rows = db.read(lambda s: s.exec(
        select(Regu.chat_id, Unit.code, Regu.name, Regu.active).join(Unit)).all())
    return {chat: (code, name, active) for chat, code, name, active in rows}


def _swap(a: tuple[int, int], b: tuple[int, int]):  # noqa: ANN202
    def mutate(data: dict) -> None:
        (ua, ra), (ub, rb) = a, b
        first, second = data["units"][ua]["regu"][ra], data["units"][ub]["regu"][rb]
        first["chat_id"], second["chat_id"] = second["chat_id"], first["chat_id"]
    return mutate


def test_renamed_unit_takes_its_groups_over(db, clock):
    _sync(db, _settings(), clock)
    renamed = _settings(lambda d: d["units"][0].update(code="lapas-palu-baru"))
    _sync(db, renamed, clock)
    units = dict(db.read(lambda s: s.exec(select(Unit.code, Unit.active)).all()))
    assert units == {"lapas-palu": False, "lapas-palu-baru": True, "lapas-cilacap": True}
    by_chat = _regu_by_chat(db)
    for regu in renamed.units[0].regu:
        assert by_chat[regu.chat_id] == ("lapas-palu-baru", regu.name, True)
    parked = [v for chat, v in by_chat.items() if chat <= PARKED_CHAT_BASE]
    assert sorted(parked) == [("lapas-palu", f"Regu {c}", False) for c in "ABCD"]
    _sync(db, renamed, clock)  # and again: nothing moves
    assert _regu_by_chat(db) == by_chat


def test_regu_swap_their_groups_within_a_unit(db, clock):
    _sync(db, _settings(), clock)
    _sync(db, _settings(_swap((0, 0), (0, 1))), clock)
    by_chat = _regu_by_chat(db)
    assert by_chat[PALU_A] == ("lapas-palu", "Regu B", True)
    assert by_chat[PALU_B] == ("lapas-palu", "Regu A", True)


def test_regu_of_two_units_swap_their_groups(db, clock):
    _sync(db, _settings(), clock)
    _sync(db, _settings(_swap((0, 0), (1, 0))), clock)
    by_chat = _regu_by_chat(db)
    assert by_chat[PALU_A] == ("lapas-cilacap", "Regu I", True)
    assert by_chat[CILACAP_I] == ("lapas-palu", "Regu A", True)
    assert not any(chat <= PARKED_CHAT_BASE for chat in by_chat)  # every regu has a group
