"""Group commit: the writes that concurrent orders ask for within a couple of milliseconds of each
other share one transaction.

Why: an import mirrors 16 orders at once, and each order commits three to five times (its lease,
its pending binding, its settlement, a new customer or product). On SQLite a commit costs more
than the statements in it — taking the write lock, appending every page it touched to the WAL, and
the same pages again for the next order's commit — about 50 µs of CPU each on the 2-core benchmark
machine. Committed together, the writes of four orders cost about a third less per order
(issue 6: ≤ 1 ms of connector CPU per order).

Nothing is weaker for it: a caller's `await` returns only once its own write is committed, so
every step that must follow a durable write (a sale sent only after its pending binding is on
disk) still does; a crash before the commit loses the write exactly as it would have lost a
write of its own. A write that fails fails its own caller only: the batch is rolled back and
each write is done again in a transaction of its own, so one bad row never fails its neighbours.
Python side effects of a write (a cache entry, a lease marked released) run after the commit,
never before, and never for a write that was rolled back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from connector.event_loop import running_loop
from connector.store.direct_sql import DirectSql

T = TypeVar("T")

# A batch is one transaction: bounded, so no write waits behind hundreds of others.
MAX_BATCH = 64
# How long the first write of a batch waits for others (seconds). Flushed at once (0), a batch holds
# only the writes of tasks that happen to run in the same turn of the loop: 3.3 per commit in the
# benchmark. Waiting 2 ms gathers the writes of the orders whose answers arrive meanwhile: 8 per
# commit, a third fewer pages written to the WAL per order and 0.02–0.04 ms less system CPU per
# order (benchmarks/import_bench.py, 3,000–4,000 orders). 2 ms per awaited write is nothing
# beside the API calls between them; a write that needs no company still commits within 2 ms.
WINDOW = 0.002


@dataclass(slots=True)
class Write(Generic[T]):
    """One caller's write: `apply` runs its statements (inside a transaction it does not open)
    and returns its result; `after_commit` (optional) gets that result once it is committed."""

    apply: Callable[[DirectSql], T]
    after_commit: Callable[[T], None] | None = None


class GroupCommit:
    def __init__(self, sql: DirectSql, *, max_batch: int = MAX_BATCH, window: float = WINDOW) -> None:
        self.sql = sql
        self.max_batch = max_batch
        self.window = window
        self._queue: list[tuple[Write[Any], asyncio.Future]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0  # transactions committed, and the writes in them: figures for benchmarks
        self.writes = 0

    def now(self, write: Write[T]) -> T:
        """Commit `write` at once, alone (callers outside the event loop)."""
        with self.sql.transaction():
            result = write.apply(self.sql)
        if write.after_commit is not None:
            write.after_commit(result)
        return result

    async def commit(self, write: Write[T]) -> T:
        """Commit `write` with the others asked for within `window`; returns its result once committed."""
        loop = running_loop(self._loop)
        if self._loop is not loop:  # a new loop (a test, a new command): nothing of the old one is queued
            self._loop, self._queue = loop, []
        future = loop.create_future()
        self._queue.append((write, future))
        if len(self._queue) == 1:
            # The flush runs once the tasks woken in this turn have queued their writes too.
            if self.window > 0:
                loop.call_later(self.window, self._flush)
            else:
                loop.call_soon(self._flush)  # at once: after the tasks already woken in this turn
        return await future

    def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
            self._commit_batch(batch)

    def _commit_batch(self, batch: list[tuple[Write[Any], asyncio.Future]]) -> None:
        if len(batch) > 1:
            try:
                with self.sql.transaction():
                    results = [write.apply(self.sql) for write, _ in batch]
            except Exception:  # noqa: BLE001 - rolled back whole; each write is tried alone below
                pass
            else:
                self.batches += 1
                self.writes += len(batch)
                for (write, future), result in zip(batch, results):
                    self._settle(write, future, result)
                return
        for write, future in batch:
            try:
                with self.sql.transaction():
                    result = write.apply(self.sql)
            except Exception as exc:  # noqa: BLE001 - handed to the write's own caller
                if not future.done():
                    future.set_exception(exc)
                continue
            self.batches += 1
            self.writes += 1
            self._settle(write, future, result)

    @staticmethod
    def _settle(write: Write[Any], future: asyncio.Future, result: Any) -> None:
        # Committed: the caller's side effects apply even if the caller stopped waiting.
        try:
            if write.after_commit is not None:
                write.after_commit(result)
        except Exception as exc:  # noqa: BLE001 - the caller's own bug, not its neighbours'
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(result)
