"""Group commit for hot, small writes (pledge presses): many presses, one transaction, one fsync.

A burst of thousands of presses would otherwise queue behind one commit (and one fsync) each.
Each unit of work runs in its own savepoint, so one failure does not undo its neighbours; the
callers hear back only after the commit, so nothing acknowledged can be lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlmodel import Session

from bot.db import Database

log = logging.getLogger(__name__)
T = TypeVar("T")


class BatchWriter:
    def __init__(self, db: Database, *, max_batch: int = 500) -> None:
        self.db = db
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Callable[[Session], Any], asyncio.Future]] | None = None
        self._worker: asyncio.Task | None = None
        self.batches = 0

    async def submit(self, fn: Callable[[Session], T]) -> T:
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run(), name="batch-writer")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((fn, future))
        return await future

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None

    async def _run(self) -> None:
        queue = self._queue
        assert queue is not None
        while True:
            batch = [await queue.get()]
            while len(batch) < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                outcomes = await asyncio.to_thread(self._commit, [fn for fn, _ in batch])
            except Exception as err:  # the commit itself failed: nobody's work was saved
                log.error("batch of %d writes failed to commit: %s", len(batch), err)
                outcomes = [(False, err)] * len(batch)
            self.batches += 1
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _commit(self, fns: list[Callable[[Session], Any]]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        with self.db.transaction() as session:
            for fn in fns:
                try:
                    with session.begin_nested():
                        outcomes.append((True, fn(session)))
                except Exception as err:
                    outcomes.append((False, err))
        return outcomes
