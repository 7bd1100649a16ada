"""/belum for a regu of 155 missing people with long names (a full-size Lapas regu): every
name, in order, over as many messages as it takes (found by hand: it was capped at 60 names,
cut at 4,096 characters, and 92 names were never shown)."""

from __future__ import annotations

import pytest

from tests.factories import KALAPAS, Member, running_bot, seed_crew, utc

pytestmark = pytest.mark.e2e

REGU_D = -1001000000004
FIRST = ["I Gusti Ngurah", "Muhammad", "Kurniawan", "Bambang", "Hendra"]
LAST = ["Kusuma Simanjuntak", "Pangaribuan Siregar", "Manurung Tanjung", "Setiawan Wibowo"]


def crew() -> list[Member]:
    people = [Member(n, f"{FIRST[n % 5]} {LAST[n % 4]}, S.H. ({n:03d})", "anggota", "Regu D")
              for n in range(1, 156)]
    return [*people, Member(200, "Kalapas Palu", "kalapas", None, KALAPAS, True)]


@pytest.fixture
async def world(settings, sqlite_db, clock):
    clock.set(utc(22, 0))  # 06.00 WITA, Tuesday 26 November 2024: Regu D stands pagi
    sqlite_db.call(lambda s: seed_crew(s, settings, clock.now(), crew()))
    async with running_bot(settings, sqlite_db, clock, [(KALAPAS, "Kalapas Palu")],
                           start=[KALAPAS]) as bot:
        yield bot


async def test_belum_for_a_big_regu_lists_everyone(world):
    server, clock = world.server, world.clock
    clock.set(utc(23, 0, 20))  # 07.00 WITA
    assert (await world.reconcile()).opened >= 1
    await server.wait_for_message(REGU_D, "APEL PAGI")
    clock.set(utc(23, 30, 5))  # the deadline: nobody pledged
    assert (await world.reconcile()).closed >= 1
    await server.wait_for_message(KALAPAS, "Pegawai yang belum berikrar telah diingatkan",
                                  timeout=60)
    clock.set(utc(23, 45))

    before = len(server.messages(KALAPAS))
    server.send_text(KALAPAS, KALAPAS, "/belum")
    await server.wait_for(lambda: any(m.reply_markup for m in server.messages(KALAPAS)[before:]
                                      if m.text and "Perbarui" in str(m.reply_markup)),
                          timeout=30, what="the /belum answer with its buttons")
    answer = [m for m in server.messages(KALAPAS)[before:] if m.text]
    listed = [line for m in answer for line in m.text.splitlines() if "(NIP " in line]
    assert len(listed) == 155 and len(answer) > 1, f"{len(answer)} messages, {len(listed)} names"
    assert all(len(m.text) <= 4096 for m in answer)
    assert "orang lainnya" not in "".join(m.text for m in answer)
