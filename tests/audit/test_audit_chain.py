"""Appending and checkpointing through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from bot.audit import kinds
from bot.audit.chain import append
from bot.audit.checkpoint import sign_checkpoint
from bot.audit.keys import load_signing_key
from bot.audit.merkle import root
from bot.audit.note import open_note
from bot.platform.db import Database
from tests.audit.test_audit_support import ORIGIN, Golden, drop_triggers, entry_hash, rows, verify


@pytest.fixture
def key(tmp_path):
    return load_signing_key(tmp_path / "audit.key", ORIGIN)


def _pledge(session, clock, n: int):  # noqa: ANN001, ANN202
    return append(session, kind=kinds.PLEDGE_RECORDED, actor=f"tg:{n}", at=clock.now(),
                  payload={"apel_id": 1, "employee_id": n, "nip": "198507252009121001"})


def test_append_links_entries_and_returns_them(db, clock):
    with db.transaction() as s:
        first = _pledge(s, clock, 1)
        second = _pledge(s, clock, 2)
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == "0" * 64 and second.prev_hash == first.leaf_hash
    assert first.at == "2024-11-25T12:00:00.000000Z"
    with db.engine.connect() as conn:
        stored = rows(conn)
    assert [r["leaf_hash"] for r in stored] == [first.leaf_hash, second.leaf_hash]
    assert all(entry_hash(r) == r["leaf_hash"] for r in stored)
    assert stored[0]["payload"] == '{"apel_id":1,"employee_id":1,"nip":"198507252009121001"}'


def test_entry_rolls_back_with_the_change_it_records(db, clock):
    with pytest.raises(RuntimeError), db.transaction() as s:
        _pledge(s, clock, 1)
        raise RuntimeError("the pledge insert failed")
    with db.transaction() as s:
        assert _pledge(s, clock, 2).seq == 1


def test_savepoint_rollback_does_not_confuse_the_next_append(db, clock):
    with db.transaction() as s:
        first = _pledge(s, clock, 1)
        savepoint = s.begin_nested()
        _pledge(s, clock, 2)
        savepoint.rollback()
        third = _pledge(s, clock, 3)
        with s.begin_nested():
            fourth = _pledge(s, clock, 4)
        fifth = _pledge(s, clock, 5)
    assert (third.seq, third.prev_hash) == (2, first.leaf_hash)
    assert (fourth.seq, fifth.seq, fifth.prev_hash) == (3, 4, fourth.leaf_hash)
    with db.engine.connect() as conn:
        assert all(entry_hash(r) == r["leaf_hash"] for r in rows(conn))


def test_chain_time_never_runs_backwards(db, clock):
    with db.transaction() as s:
        late = _pledge(s, clock, 1)
        clock.advance(minutes=-5)  # a writer whose clock was read before the other's
        early = _pledge(s, clock, 2)
    assert early.at == late.at


def test_append_refuses_what_it_cannot_record_faithfully(db, clock):
    with db.transaction() as s:
        with pytest.raises(ValueError, match="unknown audit kind"):
            append(s, kind="pledge.deleted", actor="x", payload={}, at=clock.now())
        with pytest.raises(ValueError, match="actor"):
            append(s, kind=kinds.PLEDGE_RECORDED, actor="", payload={}, at=clock.now())
        with pytest.raises(TypeError, match="floats"):
            append(s, kind=kinds.PLEDGE_RECORDED, actor="x", payload={"v": 0.5}, at=clock.now())
        with pytest.raises(ValueError, match="aware"):
            append(s, kind=kinds.PLEDGE_RECORDED, actor="x", payload={},
                   at=clock.now().replace(tzinfo=None))


def test_checkpoint_covers_the_chain_and_is_recorded_in_it(db, clock, key):
    notes = []
    for batch in range(4):
        with db.transaction() as s:
            for n in range(batch + 3):
                _pledge(s, clock, n)
            notes.append(sign_checkpoint(s, at=clock.advance(minutes=1), key=key))
    with db.engine.connect() as conn:
        stored = rows(conn)
    last = notes[-1]
    leaves = [bytes.fromhex(r["leaf_hash"]) for r in stored[: last.tree_size]]
    body, _ = open_note(last.note, [key.verifier])
    assert body.size == last.tree_size == len(stored) - 1
    assert body.root == root(leaves)
    assert stored[-1]["kind"] == kinds.CHECKPOINT_SIGNED
    assert f'"tree_size":{last.tree_size}' in stored[-1]["payload"]


def test_checkpoint_survives_a_corrupted_frontier_cache(db, clock, key):
    with db.transaction() as s:
        for n in range(5):
            _pledge(s, clock, n)
        sign_checkpoint(s, at=clock.now(), key=key)
    with db.engine.begin() as conn:
        drop_triggers(conn)
        conn.execute(text("UPDATE auditcheckpoint SET frontier = :f"), {"f": "00" * 32})
    with db.transaction() as s:
        _pledge(s, clock, 9)
        cp = sign_checkpoint(s, at=clock.now(), key=key)
    with db.engine.connect() as conn:
        leaves = [bytes.fromhex(r["leaf_hash"]) for r in rows(conn)][: cp.tree_size]
    assert open_note(cp.note, [key.verifier])[0].root == root(leaves)


def test_concurrent_writers_produce_one_contiguous_chain(db, clock, key, tmp_path):
    """Separate engines (like separate processes) append and checkpoint at the same time."""
    threads, per_thread = 6, 25
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def writer(n: int) -> None:
        own = Database(db.url)
        try:
            start.wait()
            for i in range(per_thread):
                with own.transaction() as s:
                    append(s, kind=kinds.PLEDGE_RECORDED, actor=f"tg:{n}",
                           at=clock.now() + timedelta(microseconds=i),
                           payload={"thread": n, "i": i})
                    if i % 10 == 9:
                        sign_checkpoint(s, at=clock.now(), key=key)
        except BaseException as err:  # noqa: BLE001 (reported below)
            errors.append(err)
        finally:
            own.dispose()

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors
    with db.engine.connect() as conn:
        stored = rows(conn)
    expected = threads * per_thread + threads * (per_thread // 10)
    assert [r["seq"] for r in stored] == list(range(1, expected + 1))
    assert all(b["prev_hash"] == a["leaf_hash"] for a, b in zip(stored, stored[1:], strict=False))
    report = verify(db, Golden(db.url, tmp_path / "audit.key"))
    assert report.ok, report.text()
    assert report.checkpoints == threads * (per_thread // 10)
