"""Group commit for hot, small writes (pledge presses): many presses, one transaction, one fsync.

A burst of thousands of presses would otherwise queue behind one commit (and one fsync) each.
Whatever is waiting when a commit ends goes into the next one. Callers hear back only after the
commit, so nothing acknowledged can be lost; if the commit fails, every caller gets the error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from sqlmodel import Session

from bot.platform.db import Database, connection_lost

log = logging.getLogger(__name__)
# A connection cut mid-commit (PostgreSQL restarted, a backend terminated) rolls the whole batch
# back; SQLAlchemy then drops the pool's connections, so the same batch on a new one goes in.
ATTEMPTS_ON_LOST_CONNECTION = 3
T = TypeVar("T")
R = TypeVar("R")

# process(session, items) -> one result per item, in order; an Exception instance as a result
# fails only that item's caller.
Process = Callable[[Session, list[Any]], list[Any]]


def each_in_savepoint(session: Session, fns: list[Callable[[Session], Any]]) -> list[Any]:
    """Run unrelated units of work; one failing (its savepoint rolled back) spares the rest."""
    results: list[Any] = []
    for fn in fns:
        try:
            with session.begin_nested():
                results.append(fn(session))
        except Exception as err:
            results.append(err)
    return results


class BatchWriter(Generic[T, R]):
    def __init__(self, db: Database, process: Process = each_in_savepoint, *,
                 max_batch: int = 500) -> None:
        self.db = db
        self.process = process
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[T, asyncio.Future]] | None = None
        self._worker: asyncio.Task | None = None
        # A thread of its own: batches go one at a time anyway, and in the shared pool they
        # would queue behind whatever the hundreds of updates being handled asked of it.
        self._thread: ThreadPoolExecutor | None = None
        self.batches = 0

    async def submit(self, item: T) -> R:
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-writer")
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run(), name="batch-writer")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, future))
        return await future

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
        if self._thread is not None:
            self._thread.shutdown(wait=False)
            self._thread = None

    async def _run(self) -> None:
        queue = self._queue
        assert queue is not None
        while True:
            batch = [await queue.get()]
            while len(batch) < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            items = [item for item, _ in batch]
            try:
                results = await asyncio.get_running_loop().run_in_executor(
                    self._thread, self._commit, items)
            except Exception as err:  # the commit itself failed: nobody's work was saved
                log.error("batch of %d writes failed to commit: %s", len(batch), err)
                results = [err] * len(batch)
            self.batches += 1
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def _commit(self, items: list[T]) -> list[Any]:
        """One transaction for the batch, again on a new connection if this one was lost:
        a press that arrived is recorded, not answered "press again" (the batch is idempotent
        and nothing of it was acknowledged yet)."""
        attempt = 1
        while True:
            try:
                with self.db.transaction() as session:
                    return self.process(session, items)
            except Exception as err:
                if not connection_lost(err) or attempt == ATTEMPTS_ON_LOST_CONNECTION:
                    raise
                attempt += 1
                log.warning("batch of %d writes: database connection lost (%s); "
                            "writing it again on a new one", len(items), err.orig or err)
