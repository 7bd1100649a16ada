"""Group commit: a batch whose connection is cut is written again on a new one; any other
failure reaches every caller of the batch, once."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.org.models import Unit
from bot.platform.batching import BatchWriter

AT = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def _add_units(session: Session, codes: list[str]) -> list[str]:
    for code in codes:
        session.add(Unit(code=code, name=f"Lapas {code}", kind="lapas", kanwil="Jawa Barat",
                         timezone="Asia/Jakarta", kalapas_chat_id=1, created_at=AT))
    session.flush()
    return codes


@pytest.mark.postgres
async def test_a_batch_whose_connection_is_cut_is_written_again(pg_db, caplog):
    calls = 0

    def cut_once(session: Session, codes: list[str]) -> list[str]:
        nonlocal calls
        calls += 1
        _add_units(session, codes)
        if calls == 1:  # as pg_terminate_backend from outside, mid-transaction
            session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return codes

    writer = BatchWriter(pg_db, cut_once)
    try:
        assert await asyncio.gather(writer.submit("u01"), writer.submit("u02")) == ["u01", "u02"]
    finally:
        await writer.close()
    assert calls == 2
    assert "connection lost" in caplog.text
    codes = pg_db.read(lambda s: sorted(s.exec(select(Unit.code)).all()))
    assert codes == ["u01", "u02"]  # the first attempt was rolled back: once each


async def test_another_failure_reaches_every_caller_once(db):
    calls = 0

    def doubled(session: Session, codes: list[str]) -> list[str]:
        nonlocal calls
        calls += 1
        return _add_units(session, codes)

    writer = BatchWriter(db, doubled)
    try:
        results = await asyncio.gather(writer.submit("u01"), writer.submit("u01"),
                                       return_exceptions=True)
    finally:
        await writer.close()
    assert all(isinstance(r, IntegrityError) for r in results)
    assert calls == 1


async def test_a_batch_does_not_queue_behind_the_shared_thread_pool(db):
    """Hundreds of updates handled at once share asyncio's default threads for their reads;
    the group commit every press waits for must not queue behind them."""
    loop = asyncio.get_running_loop()
    shared = ThreadPoolExecutor(max_workers=1)
    loop.set_default_executor(shared)
    release = threading.Event()
    busy = asyncio.to_thread(release.wait, 10)  # the shared pool's only thread, taken
    busy_task = asyncio.ensure_future(busy)
    writer = BatchWriter(db, _add_units)
    try:
        async with asyncio.timeout(5):
            assert await writer.submit("u1") == "u1"
    finally:
        release.set()
        await busy_task
        await writer.close()
    assert db.call(lambda s: s.exec(select(Unit.code)).all()) == ["u1"]
