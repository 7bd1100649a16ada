"""Where the signed audit checkpoints go: an archive chat when one is set (after every apel and
daily), otherwise one a day to each Kalapas. Never beside every report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from bot.delivery.models import OutboxMessage
from bot.org.units import sync_config
from bot.scheduler import ApelScheduler
from tests.factories import add_employee

ARCHIVE = -1009000000777
PALU_KALAPAS = 5000001
START = datetime(2024, 11, 25, 22, 50, tzinfo=UTC)  # 06.50 WITA, Tuesday 26 Nov


def run_a_day(db, settings, clock) -> dict[int, int]:  # noqa: ANN001
    """Every apel of a day opened and closed, in steps of five minutes: checkpoints per chat."""
    db.call(lambda s: sync_config(s, settings, clock.now()))
    db.call(lambda s: add_employee(s, "lapas-palu", 1, "Budi Santoso", "anggota", "Regu D", 3001))
    scheduler = ApelScheduler(db, settings, clock)
    closed = 0
    while clock.now() < START + timedelta(hours=23):
        closed += scheduler.reconcile().closed
        clock.advance(minutes=5)
    assert closed >= 3  # pagi, siang and malam closed in at least one unit
    rows = db.call(lambda s: s.exec(select(OutboxMessage.chat_id).where(
        col(OutboxMessage.key).startswith("checkpoint:"))).all())
    return {chat: rows.count(chat) for chat in set(rows)}


def with_audit(settings, tmp_path, **update):  # noqa: ANN001
    audit = settings.audit.model_copy(update={"key_file": str(tmp_path / "audit.key"), **update})
    return settings.model_copy(update={"audit": audit})


def test_without_an_archive_each_kalapas_gets_one_a_day(db, settings, clock, tmp_path):
    clock.set(START)
    sent = run_a_day(db, with_audit(settings, tmp_path), clock)
    assert sent[PALU_KALAPAS] == 1
    assert ARCHIVE not in sent


def test_an_archive_chat_keeps_every_checkpoint_and_the_kalapas_none(db, settings, clock,
                                                                      tmp_path):
    clock.set(START)
    sent = run_a_day(db, with_audit(settings, tmp_path, archive_chat_id=ARCHIVE), clock)
    assert PALU_KALAPAS not in sent
    assert sent[ARCHIVE] >= 4  # the first daily one, then one after each close
