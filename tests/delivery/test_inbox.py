"""The inbox on SQLite and PostgreSQL: an update delivered twice is kept once, a reused
update_id is not mistaken for it, claims keep two workers apart and run out when one dies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from bot.delivery import inbox
from bot.platform.db import libpq_dsn
from bot.platform.presence import Presence

T = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)


def press(update_id: int, query: str) -> dict:
    return {"update_id": update_id, "callback_query": {"id": query, "data": "p:1"}}


def test_a_redelivered_update_is_kept_once_a_reused_id_is_not_lost(db):
    db.call(lambda s: inbox.store(s, [press(1, "q1"), press(2, "q2")], T))
    db.call(lambda s: inbox.store(s, [press(2, "q2"), press(3, "q3")], T))  # redelivery
    db.call(lambda s: inbox.store(s, [press(1, "other")], T))  # a new token reuses id 1
    claimed = db.call(lambda s: inbox.claim(s, "a", T, 10))
    assert [p["callback_query"]["id"] for _, p, _ in claimed] == ["q1", "q2", "q3", "other"]


def test_claims_keep_workers_apart_until_they_run_out(db):
    db.call(lambda s: inbox.store(s, [press(i, f"q{i}") for i in range(1, 5)], T))
    first = db.call(lambda s: inbox.claim(s, "a", T, 3))
    second = db.call(lambda s: inbox.claim(s, "b", T, 3))
    assert len(first) == 3 and len(second) == 1  # nothing taken twice
    db.call(lambda s: inbox.mark_handled(s, [first[0][0]], T))
    later = T + timedelta(seconds=inbox.CLAIM_SECONDS + 1)  # "a" died holding two
    again = db.call(lambda s: inbox.claim(s, "b", later, 10))
    assert sorted(r[0] for r in again) == sorted(r[0] for r in [*first[1:], *second])
    assert db.read(inbox.open_count) == 3


def test_handled_updates_are_forgotten_after_a_day(db):
    db.call(lambda s: inbox.store(s, [press(1, "q1"), press(2, "q2")], T))
    (row, *_), = db.call(lambda s: inbox.claim(s, "a", T, 1))
    db.call(lambda s: inbox.mark_handled(s, [row], T))
    assert db.call(lambda s: inbox.prune(s, T + timedelta(hours=23))) == 0
    assert db.call(lambda s: inbox.prune(s, T + timedelta(days=1, minutes=1))) == 1
    assert db.read(inbox.open_count) == 1  # the unhandled one stays


def test_a_lone_process_takes_a_dead_holders_updates_at_once(db):
    """The SQLite lease says no other process runs: what another holder claimed is free now,
    not after its claim runs out; handled rows and this process's own stay as they are."""
    db.call(lambda s: inbox.store(s, [press(i, f"q{i}") for i in range(1, 6)], T))
    dead = db.call(lambda s: inbox.claim(s, "dead", T, 3))
    db.call(lambda s: inbox.mark_handled(s, [dead[0][0]], T))
    mine = db.call(lambda s: inbox.claim(s, "me", T, 1))
    unclaimed = db.read(lambda s: inbox.open_count(s)) - 3
    assert unclaimed == 1
    assert db.call(lambda s: inbox.release_others(s, "me")) == 2
    again = db.call(lambda s: inbox.claim(s, "me", T, 10))  # at T: no wait for CLAIM_SECONDS
    dead_ids, mine_ids = {r[0] for r in dead[1:]}, {r[0] for r in mine}
    assert dead_ids <= {r[0] for r in again} and len(again) == 3  # the dead's two + the free one
    assert not mine_ids & {r[0] for r in again}


def test_an_update_comes_back_from_the_database_exactly_as_telegram_sent_it(db):
    """Names in any script, emoji, big chat ids and nesting survive the JSON column's codec."""
    sent = {"update_id": 9, "message": {
        "message_id": 1, "date": 1_764_460_800, "text": "Salam 🇮🇩 — «Petugas» 名前 \\ \"ok\"",
        "chat": {"id": -1_009_876_543_210, "type": "supergroup", "title": "Regu Ä"},
        "entities": [{"type": "bold", "offset": 0, "length": 5}], "ratio": 0.5, "none": None}}
    [(_, payload, _)] = db.call(lambda s: inbox.store_claimed(s, [sent], T, "a"))
    assert payload == sent
    db.call(lambda s: inbox.release_others(s, "b"))
    [(_, stored, _)] = db.call(lambda s: inbox.claim(s, "b", T, 10))
    assert stored == sent


@pytest.mark.postgres
def test_updates_held_by_a_process_that_is_gone_are_freed_at_once(pg_db):
    """PostgreSQL: each process holds a presence lock for as long as it lives; the updates a
    killed one held are taken up at once, a living one's are left alone."""
    db = pg_db
    db.call(lambda s: inbox.store(s, [press(i, f"q{i}") for i in range(1, 5)], T))
    alive, killed, me = (Presence(db.url, name) for name in ("alive", "killed", "me"))
    try:
        for process in (alive, killed, me):
            process.announce()
        db.call(lambda s: inbox.claim(s, "alive", T, 1))
        db.call(lambda s: inbox.claim(s, "killed", T, 2))
        holders = db.read(lambda s: inbox.other_holders(s, "me", T))
        assert sorted(holders) == ["alive", "killed"] and me.missing(holders) == set()
        killed.close()  # its connection goes with the process
        assert me.missing(holders) == {"killed"}
        assert db.call(lambda s: inbox.release_held_by(s, ["killed"])) == 2
        taken = db.call(lambda s: inbox.claim(s, "me", T, 10))  # at T: no wait for the claim
        assert len(taken) == 3  # the killed one's two and the one nobody held
    finally:
        for process in (alive, killed, me):
            process.close()


@pytest.mark.postgres
def test_a_process_whose_presence_session_was_cut_is_present_again_at_its_next_look(pg_db):
    me, other = Presence(pg_db.url, "me"), Presence(pg_db.url, "other")
    try:
        me.announce()
        with psycopg.connect(libpq_dsn(pg_db.url), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (me._conn.info.backend_pid,))
        assert other.missing(["me"]) == {"me"}  # one look: not yet taken for gone
        me.announce()
        assert other.missing(["me"]) == set()
    finally:
        me.close()
        other.close()
