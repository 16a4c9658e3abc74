"""Deferring order-sync's jobs, counting them, and handing a dead worker's jobs to the living.

Each function takes an open App (build_app(settings), inside `async with app.open_async():`, for a
process that defers often) or the Settings (an App is opened for the one call).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from procrastinate import App, exceptions
from procrastinate.jobs import Status

from connector.config import Settings
from connector.runtime import REFUND_SCOPE
from connector.workers.app import MIRROR_TASK, SYNC_TASK, build_app, order_lock, pair_queue, sync_lock

log = logging.getLogger("connector.workers")

# The states of procrastinate's jobs, as list_queues_async counts them.
MAX_STALLED_ATTEMPTS = 5  # runs a job may be put back after, its worker silent each time
JOB_STATES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborted")


@contextlib.asynccontextmanager
async def _opened(app_or_settings: App | Settings) -> AsyncIterator[App]:
    if isinstance(app_or_settings, App):
        yield app_or_settings
        return
    app = build_app(app_or_settings)
    async with app.open_async():
        yield app


async def defer_sync(app_or_settings: App | Settings, pair: str) -> bool:
    """Defer a sync cycle of `pair` now. False when one is already waiting (the queueing lock)."""
    async with _opened(app_or_settings) as app:
        task = app.tasks[SYNC_TASK].configure(lock=sync_lock(pair), queueing_lock=sync_lock(pair),
                                              queue=pair_queue(pair))
        try:
            await task.defer_async(pair=pair)
        except exceptions.AlreadyEnqueued:
            return False
    return True


async def defer_order(app_or_settings: App | Settings, pair: str, order_id: int, scope: str) -> bool:
    """Defer mirror_order(pair, order_id, scope). False when a job of that order is already waiting:
    it reads the order afresh when it runs, so it covers this event too (a refund event's, another
    refund event: it reads the order's refunds)."""
    async with _opened(app_or_settings) as app:
        lock = order_lock(pair, order_id)
        # A refund event waits in its own place: the order's job mirrors the order, not its refunds.
        waiting = lock + (":refund" if scope == REFUND_SCOPE else "")
        task = app.tasks[MIRROR_TASK].configure(lock=lock, queueing_lock=waiting, queue=pair_queue(pair))
        try:
            await task.defer_async(pair=pair, order_id=order_id, scope=scope)
        except exceptions.AlreadyEnqueued:
            return False
    return True


async def job_counts(app_or_settings: App | Settings) -> dict[str, int]:
    """Jobs by state, every queue together: {"todo": n, "doing": n, …} (every state, 0 when none)."""
    async with _opened(app_or_settings) as app:
        queues = await app.job_manager.list_queues_async()
    return {state: sum(queue[state] for queue in queues) for state in JOB_STATES}


class JobQueueDeferrer:
    """`order-sync serve` on PostgreSQL: each accepted webhook becomes a mirror_order job that any
    `order-sync worker` runs (connector.server.deferral's interface)."""

    def __init__(self, app: App, *, count_every_seconds: float = 5.0) -> None:
        self.app = app
        self.every = count_every_seconds
        self.counts = dict.fromkeys(JOB_STATES, 0)
        self._opening = asyncio.Lock()
        self._opened = False

    async def _open(self) -> App:
        async with self._opening:  # the first webhook and the counting task may both ask
            if not self._opened:
                await self.app.open_async()
                self._opened = True
        return self.app

    async def defer(self, pair: str, order_id: int, scope: str) -> bool:
        return await defer_order(await self._open(), pair, order_id, scope)

    def states(self) -> dict[str, int]:
        return dict(self.counts)

    async def work(self) -> None:
        """Serve's background task: the job counts of /metrics, read every few seconds (a scrape
        must not wait on the queue), until cancelled; then the App is closed."""
        try:
            while True:
                try:
                    self.counts = await job_counts(await self._open())
                except Exception as exc:  # noqa: BLE001 - a count missed is a gauge a few seconds old
                    log.warning("job counts not read (%s); trying again", exc)
                await asyncio.sleep(self.every)
        finally:
            if self._opened:
                await self.app.close_async()


async def recover_stalled(app: App, stalled_seconds: float) -> list[int]:
    """Put back in the queue the running jobs of workers silent for `stalled_seconds` (killed, or cut
    off from the database), so another worker runs them: procrastinate's documented recovery
    (get_stalled_jobs, retry_job). Returns their ids. Every worker runs this; a job another worker put
    back first is skipped."""
    recovered = []
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_seconds):
        if job.attempts >= MAX_STALLED_ATTEMPTS:
            # A job whose workers all died running it may be what kills them: failed, not retried by
            # every worker in turn for ever (its order is still mirrored by the next sync).
            await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
            log.error("job %s (%s) stalled %s times: failed, not put back", job.id, job.call_string, job.attempts)
            continue
        if await _retry(app, job):
            log.warning("job %s (%s) of a worker silent for %ss is retried", job.id, job.call_string,
                        stalled_seconds)
            recovered.append(job.id)
    return recovered


async def _retry(app: App, job) -> bool:
    for _ in range(3):
        try:
            await app.job_manager.retry_job(job)
            return True
        except exceptions.UniqueViolation:
            # The same job (same queueing lock) was deferred again while this one ran: the waiting
            # copy is cancelled and the stalled one goes back in its place; they do the same work.
            for waiting in await app.job_manager.list_jobs_async(queueing_lock=job.queueing_lock, status="todo"):
                await app.job_manager.cancel_job_by_id_async(waiting.id)
        except exceptions.ConnectorException:
            return False  # no longer 'doing': another worker put it back first
    return False
