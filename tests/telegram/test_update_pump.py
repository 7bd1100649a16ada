"""The update pump under a burst: thousands of stored updates waiting for their turn."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from sqlmodel import select

from bot.delivery.models import InboxUpdate
from bot.platform.clock import FakeClock
from bot.telegram import updates as pump_module
from bot.telegram.ops_server import NotReceiving
from bot.telegram.updates import CONCURRENCY, UpdatePump
from tests.factories import utc


class _App:
    """Just what the pump calls: the bot (for parsing) and process_update."""

    def __init__(self) -> None:
        self.bot = None
        self.handled = 0

    async def process_update(self, update) -> None:  # noqa: ANN001
        # Handlers end one by one, as presses waiting on the database do.
        await asyncio.sleep((update.update_id % 17) / 2000)
        self.handled += 1


async def test_a_burst_is_handled_without_waiting_on_every_held_update(sqlite_db, monkeypatch):
    """Waiting for room among thousands of held updates must not look at all of them each
    time one ends: that is time squared in the burst (p50 5 s on PostgreSQL, issue 17)."""
    looked_at = 0
    real_wait = asyncio.wait

    async def counting_wait(tasks, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        nonlocal looked_at
        tasks = list(tasks)
        looked_at += len(tasks)
        return await real_wait(tasks, *args, **kwargs)

    monkeypatch.setattr(pump_module.asyncio, "wait", counting_wait)
    monkeypatch.setattr(pump_module.Update, "de_json",
                        staticmethod(lambda payload, bot: SimpleNamespace(**payload)))
    app = _App()
    pump = UpdatePump(app, sqlite_db, FakeClock(utc(23, 0)), allowed_updates=[])
    burst = 12 * CONCURRENCY
    await pump.receive([{"update_id": i} for i in range(1, burst + 1)])
    pump.start(poll=False)
    try:
        async with asyncio.timeout(60):
            while app.handled < burst or pump._working:
                await asyncio.sleep(0.01)
    finally:
        await pump.stop()
    assert app.handled == burst
    assert burst > 10 * CONCURRENCY
    # Stopping may wait once on whatever is left; the old wait for room looked at every held
    # update after each ending: ten times the burst here, burst² / 2 when they end one by one.
    assert looked_at <= burst, looked_at


async def test_a_batch_that_could_not_be_stored_is_asked_for_again(sqlite_db, monkeypatch):
    """The offset moves on only once a batch is committed: a database failure while storing
    one (a cut connection) asks Telegram for the same updates again, and polling goes on."""
    asked: list[int | None] = []
    batch = [{"update_id": 41}, {"update_id": 42}]

    class Bot:
        async def do_api_request(self, method, api_kwargs, read_timeout):  # noqa: ANN001, ANN202
            asked.append(api_kwargs["offset"])
            await asyncio.sleep(0)
            return batch if len(asked) < 3 else []

    app = _App()
    app.bot = Bot()
    pump = UpdatePump(app, sqlite_db, FakeClock(utc(23, 0)), allowed_updates=[])
    stored: list[list[dict]] = []

    async def receive_failing_once(updates: list[dict]) -> None:
        if not stored:
            stored.append([])
            raise RuntimeError("server closed the connection unexpectedly")
        stored.append(updates)

    monkeypatch.setattr(pump, "receive", receive_failing_once)
    monkeypatch.setattr(pump_module.asyncio, "sleep", _no_wait(asyncio.sleep))
    pump.start_polling()
    try:
        async with asyncio.timeout(10):
            while len(asked) < 3:
                await asyncio.sleep(0.01)
    finally:
        await pump.stop()
    assert asked[:3] == [None, None, 43]
    assert stored[1] == batch


def _no_wait(real_sleep):  # noqa: ANN001, ANN202
    async def sleep(seconds: float) -> None:
        await real_sleep(0)
    return sleep


async def test_a_fenced_process_stops_polling_and_resumes_when_it_leads_on(sqlite_db):
    """A leader that lost its lock calls getUpdates no more (each call would end the new
    leader's long poll with a 409); leading on again, it polls again."""
    asked: list[int | None] = []
    leading = {"now": False}

    class Bot:
        async def do_api_request(self, method, api_kwargs, read_timeout):  # noqa: ANN001, ANN202
            asked.append(api_kwargs["offset"])
            await asyncio.sleep(0.01)
            return []

    app = _App()
    app.bot = Bot()
    pump = UpdatePump(app, sqlite_db, FakeClock(utc(23, 0)), allowed_updates=[],
                      may_poll=lambda: leading["now"])
    pump.start_polling()
    try:
        await asyncio.sleep(0.3)
        assert asked == []
        leading["now"] = True
        async with asyncio.timeout(5):
            while not asked:
                await asyncio.sleep(0.01)
    finally:
        await pump.stop()


async def test_a_stopping_pump_stores_no_webhook_update(sqlite_db):
    """Stopping, the process answers 503 (Telegram delivers the update again, to whichever
    process receives then) instead of storing it held for itself, where it would wait until
    the hold ran out."""
    pump = UpdatePump(_App(), sqlite_db, FakeClock(utc(23, 0)), allowed_updates=[])
    pump.start(poll=False)
    await pump.receive_one({"update_id": 1})
    await pump.stop()
    with pytest.raises(NotReceiving):
        await pump.receive_one({"update_id": 2})
    stored = sqlite_db.read(lambda s: s.exec(select(InboxUpdate.update_id)).all())
    assert stored == [1]


@pytest.mark.postgres
async def test_updates_of_a_process_without_presence_are_freed_at_the_second_look(pg_db):
    """One look without its presence lock may be a cut session (taken again at its own next
    look); at the second look in a row the process is gone, and its updates are free."""
    from bot.delivery import inbox

    now = utc(23, 0)
    pg_db.call(lambda s: inbox.store_claimed(s, [{"update_id": 1}], now, "ghost"))
    pump = UpdatePump(_App(), pg_db, FakeClock(now), allowed_updates=[])
    held = lambda: pg_db.read(lambda s: s.exec(select(InboxUpdate.claimed_by)).all())  # noqa: E731
    try:
        await pump.announce()
        await pump._take_up_the_gones()
        assert held() == ["ghost"]
        pump._gone_checked_at = float("-inf")  # the next look is due
        await pump._take_up_the_gones()
        assert held() == [None]
    finally:
        pump.presence.close()
