"""Tampering with a copy of a real audit database, as an owner of the database could.

A log of ~330 entries with a checkpoint after every apel (and a key rotation halfway) is
built once per backend through the API; each test tampers with a fresh copy using raw SQL
(triggers dropped first) and checks that verification names the right sequence number.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import text

from bot.audit.keys import SigningKey
from bot.audit.note import parse_note, sign_note
from bot.platform.db import Database
from tests.audit.test_audit_support import (
    ORIGIN,
    build_log,
    copy_sqlite,
    drop_triggers,
    edited_payload,
    fix_head,
    forged_after,
    insert_row,
    pg_create_copy,
    pg_drop,
    pledge_seq,
    rehash_from,
    renumber,
    rows,
    verify,
)
from tests.conftest import PG_ADMIN_DSN, REQUIRE_PG, _pg_available


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                               marks=pytest.mark.postgres)])
def golden(request, tmp_path_factory, _sqlite_template):
    base = tmp_path_factory.mktemp("golden")
    if request.param == "sqlite":
        url = copy_sqlite(_sqlite_template, base / "golden.db")
        template = None
    else:
        if not _pg_available():
            if REQUIRE_PG:
                pytest.fail("PostgreSQL required but not reachable")
            pytest.skip("PostgreSQL not reachable")
        template = f"apel_golden_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{template}"')
        url = PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + template
        fresh = Database(url)
        fresh.upgrade()
        fresh.dispose()
    db = Database(url)
    g = build_log(db, base / "audit.key")
    with db.engine.connect() as conn:
        g.rows = rows(conn)  # type: ignore[attr-defined]
    db.dispose()
    g.backend, g.template, g.base = request.param, template, base  # type: ignore[attr-defined]
    yield g
    if template:
        pg_drop(PG_ADMIN_DSN, url)


@pytest.fixture
def copy(golden, tmp_path):
    """A fresh copy of the golden database for one tampering."""
    if golden.backend == "sqlite":
        url = copy_sqlite(golden.base / "golden.db", tmp_path / "copy.db")
    else:
        url = pg_create_copy(PG_ADMIN_DSN, golden.template)
    db = Database(url)
    yield db
    db.dispose()
    if golden.backend == "postgres":
        pg_drop(PG_ADMIN_DSN, url)


def tamper(db: Database, *statements) -> None:  # noqa: ANN002
    with db.engine.begin() as conn:
        drop_triggers(conn)
        for step in statements:
            step(conn)


def first(report):  # noqa: ANN001, ANN201
    assert not report.ok, "tampering went unnoticed"
    return report.sorted_problems()[0]


def cp_with_size_above(golden, seq: int) -> tuple[int, str]:
    return next((s, n) for s, n in golden.notes if s >= seq)


def test_untouched_copy_verifies_including_old_key_checkpoints(golden, copy):
    report = verify(copy, golden, outside=[n for _, n in golden.notes[::7]])
    assert report.ok, report.text()
    assert report.entries == golden.last_seq > 300
    assert report.checkpoints == len(golden.notes) + 2  # the rotation signs two more
    assert len(report.keys) == 2


def test_triggers_refuse_update_and_delete(copy):
    from sqlalchemy.exc import DBAPIError

    for sql in ("UPDATE auditentry SET actor = 'x' WHERE seq = 1",
                "DELETE FROM auditentry WHERE seq = 1",
                "DELETE FROM auditcheckpoint"):
        with pytest.raises(DBAPIError, match="append-only"), copy.engine.begin() as conn:
            conn.execute(text(sql))


def test_edited_payload(golden, copy):
    k = pledge_seq(golden.rows, 120)

    def edit(conn):  # noqa: ANN001
        payload = conn.execute(text("SELECT payload FROM auditentry WHERE seq = :k"),
                               {"k": k}).scalar_one()
        conn.execute(text("UPDATE auditentry SET payload = :p WHERE seq = :k"),
                     {"p": edited_payload(payload), "k": k})

    tamper(copy, edit)
    problem = first(verify(copy, golden))
    assert problem.seq == k and problem.seq_end == k
    assert "edited" in problem.message


def test_edited_payload_with_every_later_hash_recomputed(golden, copy):
    k = pledge_seq(golden.rows, 120)

    def edit(conn):  # noqa: ANN001
        payload = conn.execute(text("SELECT payload FROM auditentry WHERE seq = :k"),
                               {"k": k}).scalar_one()
        conn.execute(text("UPDATE auditentry SET payload = :p WHERE seq = :k"),
                     {"p": edited_payload(payload), "k": k})
        rehash_from(conn, k)

    tamper(copy, edit)
    report = verify(copy, golden)
    problem = first(report)
    # The chain is self-consistent again; the signed roots pin the change between the last
    # checkpoint that still matches and the first that does not (one apel apart).
    assert problem.seq <= k <= problem.seq_end
    assert problem.seq_end - problem.seq < 12
    assert "no longer hash to the root" in problem.message


def test_deleted_entry(golden, copy):
    k = pledge_seq(golden.rows, 150)
    tamper(copy, lambda c: c.execute(text("DELETE FROM auditentry WHERE seq = :k"), {"k": k}))
    problem = first(verify(copy, golden))
    assert (problem.seq, problem.seq_end) == (k, k)
    assert "missing" in problem.message


def test_deleted_entry_and_rows_renumbered(golden, copy):
    k = pledge_seq(golden.rows, 150)
    tamper(copy, lambda c: c.execute(text("DELETE FROM auditentry WHERE seq = :k"), {"k": k}),
           lambda c: renumber(c, k + 1, -1), fix_head)
    problem = first(verify(copy, golden))
    assert problem.seq == k


def test_inserted_entry(golden, copy):
    k = pledge_seq(golden.rows, 90)

    def insert(conn):  # noqa: ANN001
        renumber(conn, k, +1)
        insert_row(conn, forged_after(conn, k))
        fix_head(conn)

    tamper(copy, insert)
    report = verify(copy, golden)
    problem = first(report)
    assert problem.seq == k
    assert "inserted" in problem.message


def test_swapped_entries(golden, copy):
    k = pledge_seq(golden.rows, 200)

    def swap(conn):  # noqa: ANN001
        conn.execute(text("UPDATE auditentry SET seq = -1 WHERE seq = :k"), {"k": k})
        conn.execute(text("UPDATE auditentry SET seq = :k WHERE seq = :k1"), {"k": k, "k1": k + 1})
        conn.execute(text("UPDATE auditentry SET seq = :k1 WHERE seq = -1"), {"k1": k + 1})

    tamper(copy, swap)
    report = verify(copy, golden)
    assert first(report).seq == k
    assert any(p.covers(k + 1) for p in report.problems)


def test_truncated_tail_caught_by_checkpoints(golden, copy):
    cut = golden.last_seq - 25
    tamper(copy, lambda c: c.execute(text("DELETE FROM auditentry WHERE seq > :c"), {"c": cut}),
           fix_head)
    problem = first(verify(copy, golden))
    assert problem.seq == cut + 1
    assert "missing" in problem.message


def test_truncated_tail_and_its_checkpoints_caught_by_outside_copy(golden, copy):
    cut = golden.last_seq - 25
    tamper(copy,
           lambda c: c.execute(text("DELETE FROM auditentry WHERE seq > :c"), {"c": cut}),
           lambda c: c.execute(text("DELETE FROM auditcheckpoint WHERE tree_size >= :c"),
                               {"c": cut}),
           fix_head)
    assert verify(copy, golden).ok  # nothing inside the database betrays it...
    held = golden.notes[-1][1]  # ...but the last note posted to the Kalapas chat does
    problem = first(verify(copy, golden, outside=[held]))
    assert problem.seq == cut + 1
    assert "held outside" in problem.message


def test_backdated_entry_appended_at_the_end(golden, copy):
    n = golden.last_seq
    forged = {}

    def append_backdated(conn):  # noqa: ANN001
        forged.update(forged_after(conn, n + 1, at=golden.rows[50]["at"]))
        insert_row(conn, forged)
        fix_head(conn)

    tamper(copy, append_backdated)
    problem = first(verify(copy, golden))
    assert problem.seq == n + 1
    assert "back-dated" in problem.message


def test_replaced_checkpoint(golden, copy):
    size, note = golden.notes[10]
    other_size, other_note = golden.notes[20]
    forged = note.replace(f"\n{size}\n", f"\n{size + 9}\n")  # claim more, keep the signature
    tamper(copy, lambda c: c.execute(text("UPDATE auditcheckpoint SET note = :n WHERE "
                                          "tree_size = :s"), {"n": forged, "s": size}))
    problem = first(verify(copy, golden))
    assert problem.seq == size + 1
    assert "does not verify" in problem.message


def test_checkpoint_resigned_with_another_key(golden, copy):
    size, note = golden.notes[25]
    attacker = SigningKey.generate(ORIGIN)
    body, _ = parse_note(note)
    resigned = sign_note(body, attacker)
    tamper(copy, lambda c: c.execute(text("UPDATE auditcheckpoint SET note = :n, key_id = :k "
                                          "WHERE tree_size = :s"),
                                     {"n": resigned, "k": attacker.verifier.key_id_hex,
                                      "s": size}))
    problem = first(verify(copy, golden))
    assert problem.seq == size + 1
    assert "unknown key" in problem.message


def test_wiped_checkpoint_table_caught_by_outside_copy(golden, copy):
    tamper(copy, lambda c: c.execute(text("DELETE FROM auditcheckpoint")))
    size, held = golden.notes[12]
    report = verify(copy, golden, outside=[held])
    assert any(p.seq == size + 1 and "held outside" in p.message for p in report.problems)
    # The chain's own checkpoint.signed records betray it as well.
    assert any(p.seq == golden.notes[0][0] + 1 for p in report.problems)
