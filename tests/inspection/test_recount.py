"""`verify --recount`: every closed apel's figures recomputed from the chain alone and compared
with what the reports show."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bot.audit.keys import load_signing_key
from bot.inspection.recount import Figures
from bot.inspection.verify import verify_database
from tests.audit.test_audit_world import build_world

ORIGIN = "apel-bot"


@pytest.fixture
def world(db, settings, tmp_path):
    w = build_world(db, settings)
    return db, w, [load_signing_key(tmp_path / "audit.key", ORIGIN).verifier]


def _recount(db, keys, recount=True):  # noqa: ANN001, ANN202
    return verify_database(db, keys=keys, origin=ORIGIN, recount=recount)


def test_the_figures_follow_from_the_chain(world):
    db, w, keys = world
    report = _recount(db, keys)
    assert report.ok, report.text()
    [apel] = report.figures
    # Regu D with the administration: Budi on time, Hendra late, Dewi on leave, Sari corrected.
    assert apel.apel_id == w.apel_id and apel.chain == apel.shown
    assert (apel.chain.on_time, apel.chain.late, apel.chain.leave, apel.chain.corrected) == (
        1, 1, 1, 1)
    assert apel.chain.expected == sum(apel.chain.as_dict().values()) - apel.chain.expected
    assert "not recomputed" not in report.text()
    assert "not recomputed" in _recount(db, keys, recount=False).text()


@pytest.mark.parametrize("sql", [
    # the stored counts the reports read
    "UPDATE apelstatuscount SET n = n + 1 WHERE status = 'on_time'",
    # someone taken off the frozen list, and the counts made stale so the reports re-classify
    "DELETE FROM apelexpected WHERE employee_id = (SELECT MIN(employee_id) FROM apelexpected "
    "WHERE employee_id NOT IN (SELECT employee_id FROM pledge)); "
    "UPDATE apel SET change_version = change_version + 1",
])
def test_figures_changed_behind_the_chain_are_caught(world, sql):
    db, w, keys = world
    with db.engine.begin() as conn:
        for statement in sql.split("; "):
            conn.execute(text(statement))
    assert _recount(db, keys, recount=False).ok  # only the recount sees these
    report = _recount(db, keys)
    [problem] = [p for p in report.problems if p.message.startswith(f"apel {w.apel_id} ")]
    assert "the reports show" in problem.message and problem.seq is not None


def test_figures_round_trip():
    f = Figures(7, 1, 2, 1, 1, 2)
    assert Figures.from_dict(f.as_dict()) == f
