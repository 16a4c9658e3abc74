"""The worker's jobs: one pair's sync cycle, and one order mirrored by id (a webhook's).

A worker process starts each pair's Runtime on its first job for that pair and keeps it (clients,
X-Series references) until it stops; every pair shares the process's one Store (one connection
pool). Like the daemon's cycles, a job never crashes the worker: an API down, a refused token or bad
input is logged and the job ends; the next periodic sync tries again. A bad configuration file (checked
at the worker's start, met by a job all the same when X-Series lacks a name it gives) is logged as one
to fix and recorded for `order-sync status`. A lost state database is the
exception: the job fails (LostStateError), as the README says, since no retry gets past it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

from procrastinate import JobContext, builtin_tasks

from connector import interrupts
from connector.config import Settings, describe_failure
from connector.errors import ApiError, ConfigError, CredentialsError, LostStateError
from connector.runtime import Runtime
from connector.server.metrics import PairMetrics
from connector.store.repository import Store

log = logging.getLogger("connector.workers")


class PairRuntimes:
    """The worker process's runtimes, one per pair, started on first use."""

    def __init__(self, settings: Settings, store: Store, stop: asyncio.Event, **runtime_options: Any) -> None:
        self.views = {view.pair: view for view in settings.pair_settings()}
        self.store = store
        self.stop = stop  # set when the worker stops: cycles end after the orders in hand
        self.options = runtime_options
        self._runtimes: dict[str, tuple[Runtime, Any]] = {}
        self.started: dict[str, Runtime] = {}  # pair → Runtime, for this process's /metrics
        # The requests, quotas and cycles of this process, which no other process knows; the database's
        # totals and the queue's job counts are serve's (order_sync_jobs), or the workers' pages summed
        # would count every sale once per worker.
        self.metrics = PairMetrics(self.started, database=False)
        self.metrics.jobs = dict
        self._starting: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._recorded: dict[str, str] = {}  # pair → the configuration error recorded for it

    async def get(self, pair: str) -> tuple[Runtime, Any]:
        """The pair's Runtime and its ID-verification service (None when off)."""
        from connector.idv.service import start_if_enabled
        from connector.sync.reconcile import refuse_lost_state

        async with self._starting[pair]:  # two jobs of a pair starting together start it once
            if pair not in self._runtimes:
                view = self.views.get(pair)
                if view is None:
                    raise ConfigError(f"no store pair {pair!r} in this worker's configuration")
                runtime = await Runtime.start(view, store=self.store, **self.options)
                try:
                    await refuse_lost_state(runtime)  # a lost state database: every sale would be written twice
                    idv = await start_if_enabled(view, runtime.bc, runtime.store, runtime.idv_rules)
                except BaseException:
                    await runtime.aclose()
                    raise
                self._runtimes[pair] = (runtime, idv)
                self.started[pair] = runtime
            return self._runtimes[pair]

    async def sync(self, pair: str, job_id: int | None) -> str:
        from connector.idv.service import poll_once

        async def run() -> str:
            runtime, idv = await self.get(pair)
            await poll_once(idv, runtime.store)  # ID verification first, as the daemon does
            started = time.perf_counter()
            report = await runtime.cycle(stop_event=self.stop).run()
            self.metrics.observe_cycle(pair, time.perf_counter() - started)
            log.log(logging.WARNING if report.refunds_failed else logging.INFO, "pair %s: cycle: %s (%.1fs, job %s)",
                    pair, report.summary(), time.perf_counter() - started, job_id)
            return report.summary()

        log.info("pair %s: sync job %s started", pair, job_id)
        return await self._guarded(pair, "sync", run)

    async def mirror(self, pair: str, order_id: int, scope: str) -> str:
        async def run() -> str:
            runtime, _ = await self.get(pair)
            report = await runtime.mirror_event(order_id, scope, self.stop)
            if order_id in report.failed:
                # The job still succeeds: the failed queue owns the order's retries (backoff, parking),
                # shows it (status, console, order_sync_orders_failed) and clears it once mirrored. A
                # failed job would stay failed after that, and a retried one would try the order twice.
                why = report.failed[order_id]
                return f"order {order_id} not mirrored: {why}; in the failed queue, retried from there"
            return f"order {order_id} mirrored"

        return await self._guarded(pair, f"order {order_id}", run, order_id=order_id)

    async def _guarded(self, pair: str, what: str, run, **extra: Any) -> str:
        """Run a job's work; whatever it meets is logged and the job ends (the next sync tries again)."""
        try:
            return await run()
        except interrupts.Stopping:
            log.info("pair %s: %s stopped by the worker's stop; the next sync goes on from the cursor", pair, what)
        except LostStateError as exc:
            # Not a passing trouble the next sync gets past: every job of the pair fails until a
            # person adopts the sales, and a failed job (kept, shown by procrastinate) says so.
            log.error("pair %s: %s refused, needs a person: %s", pair, what, exc, extra=extra)
            raise
        except CredentialsError as exc:
            log.error("pair %s: %s stopped, credentials rejected (fix them; retrying next sync): %s", pair, what, exc,
                      extra=extra)
        except ConfigError as exc:
            # No retry gets past a file (or a name in it X-Series has not): said so, not as an outage.
            log.error("pair %s: %s stopped by its configuration (fix the file, then restart the worker): %s", pair,
                      what, exc, extra=extra)
            self._record(pair, exc)
        except ApiError as exc:
            log.error("pair %s: %s stopped, nothing lost (retrying next sync): %s", pair, what, exc, extra=extra)
        except Exception:  # a worker must survive anything a job meets
            log.exception("pair %s: %s failed; the next sync tries again", pair, what, extra=extra)
        return "stopped"

    def _record(self, pair: str, exc: ConfigError) -> None:
        """For `order-sync status`, as `run` records a refused start: once per pair and reason, not each job."""
        from connector.commands import START_FAILED

        view = self.views.get(pair)
        reason = describe_failure(view, exc)
        if view is None or self._recorded.get(pair) == reason:
            return
        self._recorded[pair] = reason
        try:
            self.store.for_pair(pair).audit(platform="connector", action=START_FAILED, target_id="worker",
                                            reason=reason)
        except Exception as failure:  # noqa: BLE001 - the log line above says it already
            log.debug("could not record the failure: %s", failure)

    async def aclose(self) -> None:
        runtimes, self._runtimes = self._runtimes, {}
        self.started.clear()
        await asyncio.gather(*(runtime.aclose() for runtime, _ in runtimes.values()), return_exceptions=True)


def _runtimes(context: JobContext) -> PairRuntimes:
    return context.additional_context["runtimes"]


async def sync_pair(context: JobContext, pair: str, timestamp: int | None = None) -> str:
    """One sync cycle of `pair` (deferred by the pair's periodic task, which passes `timestamp`)."""
    return await _runtimes(context).sync(pair, context.job.id)


async def mirror_order(context: JobContext, pair: str, order_id: int, scope: str) -> str:
    """Mirror one order of `pair` now, read afresh (a BigCommerce webhook's job)."""
    return await _runtimes(context).mirror(pair, order_id, scope)


async def remove_old_jobs(context: JobContext, keep_hours: int, timestamp: int | None = None) -> None:
    """Delete the jobs that succeeded more than `keep_hours` ago (procrastinate's built-in task; failed
    ones are kept for a person to look at)."""
    await builtin_tasks.remove_old_jobs(context, max_hours=keep_hours)
