"""`order-sync import-history`: the orders created in a range, through the daemon's pipeline.

Same steps and bindings as the daemon (SyncCycle.mirror_one), so nothing is imported twice and the
daemon may run alongside (order leases keep them apart). Orders are read by creation date and
mirrored several at a time, the pacers keeping the slower API's quota busy; a checkpoint lets an
interrupted import go on where it stopped. On a stop only the orders that ended (mirrored, or
recorded as failed) count as settled, so the checkpoint never passes one a stop left unfinished.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from connector import interrupts
from connector.clients.bigcommerce_models import Order, OrderValidationError
from connector.clients.bigcommerce_pacer import BigCommercePacer
from connector.clients.xseries_pacer import XSeriesPacer
from connector.history.dry_run import DryRunPlanner, DryRunReport
from connector.history.progress import Progress, SettledCounts
from connector.runtime import Runtime
from connector.store.import_runs import ImportRuns
from connector.store.repository import ORDERS_START_CURSOR
from connector.sync.cycle import _raw_date
from connector.sync.cycle_report import CycleReport
from connector.values import parse_rfc2822

log = logging.getLogger("connector.import")

DISABLED_MESSAGE = (
    "historical import is off by default because importing past orders changes stock levels in "
    "X-Series: every imported order moves stock at the outlet. Lightspeed Retail Support enables it "
    "on request; to enable it, set `historical_import: {enabled: true}` in the config file, run the "
    "import once, and set it back to false."
)

# Until the pacers learn the quotas: X-Series with one register, BigCommerce's Standard / Plus plan.
DEFAULT_XS_LIMIT = 350
DEFAULT_BC_QUOTA, DEFAULT_BC_WINDOW = 150, 30.0
RESUME_MARGIN = timedelta(minutes=1)  # a resumed import reads again from this long before its checkpoint


def quota_seconds(xs: XSeriesPacer, bc: BigCommercePacer, xseries_calls: float, bigcommerce_calls: float) -> float:
    """How long these calls take at the quotas (the slower API bounds the import). An order costs
    about one X-Series write (plus the creates it needs) and 1/250 of a BigCommerce list call."""
    xs_per_second = (xs.limit or DEFAULT_XS_LIMIT) / xs.window_seconds
    bc_per_second = (bc.quota or DEFAULT_BC_QUOTA) / (bc.window or DEFAULT_BC_WINDOW)
    return max(xseries_calls / xs_per_second, bigcommerce_calls / bc_per_second)


@dataclass
class ImportReport:
    since: datetime | None
    until: datetime | None
    total: int = 0
    cycle: CycleReport = field(default_factory=CycleReport)
    resumed_from: datetime | None = None
    interrupted: bool = False
    dry_run: DryRunReport | None = None
    estimated_seconds: float | None = None


class SettledFrontier:
    """Which orders are settled. Orders arrive by date_created and finish out of order; the
    checkpoint is the creation date of the oldest order still in flight, else of the last one seen
    (a resumed import re-reads from a minute before it, and the bindings skip what is done)."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int]] = []
        self._in_flight: set[int] = set()
        self._last_seen: datetime | None = None

    def started(self, order_id: int, created: datetime) -> None:
        self._in_flight.add(order_id)
        heapq.heappush(self._heap, (created, order_id))
        if self._last_seen is None or created > self._last_seen:
            self._last_seen = created

    def settled(self, order_id: int) -> None:
        self._in_flight.discard(order_id)

    def checkpoint(self) -> datetime | None:
        while self._heap and self._heap[0][1] not in self._in_flight:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else self._last_seen

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)


class HistoricalImport:
    def __init__(self, runtime: Runtime, *, since: datetime | None, until: datetime | None,
                 dry_run: bool = False, concurrency: int = 8, progress: Progress | None = None,
                 stop_event: asyncio.Event | None = None, checkpoint_every: int = 250) -> None:
        self.runtime = runtime
        self.since = since
        # By default up to where the daemon started: its first cursor, else sync.start_at, else now.
        # "Now" moves between two runs of the command, and a run resumes only the run of its exact
        # range: without --until and with "now" for default, the newest unfinished run from the same
        # --since goes on from its checkpoint, carried up to this now (never stopped at its own
        # until, which may be an older now or a narrower --until: the orders after it would be lost).
        store = runtime.store
        fixed = until or store.cursor(ORDERS_START_CURSOR) or runtime.settings.sync.start_at
        self.until = fixed or store.clock.now()
        self.carried = None if fixed else ImportRuns(store).unfinished(since)
        self.dry_run = dry_run
        self.concurrency = concurrency
        self.progress = progress
        self.stop_event = stop_event or interrupts.stop_event()
        self.checkpoint_every = checkpoint_every

    async def run(self) -> ImportReport:
        rt = self.runtime
        report = ImportReport(since=self.since, until=self.until)
        report.total = await rt.bc.count_orders(min_date_created=self.since, max_date_created=self.until)
        cycle = rt.cycle(stop_event=self.stop_event)
        # Its refund pass reads every refund since --since, which no order it imports is older than.
        cycle.d.refunds_from = self.since or datetime.min.replace(tzinfo=timezone.utc)
        cycle.d.go_live = None  # it mirrors past orders on purpose (the sync leaves them to it)
        await cycle.index.refresh()
        if self.progress is not None:
            self.progress.total = report.total
        if self.dry_run:
            return await self._dry_run(report)

        runs = ImportRuns(rt.store)
        if self.carried is not None:
            runs.carry_to(self.carried, self.until)
        run = runs.open(self.since, self.until, report.total)
        start = self.since
        report.resumed_from = run.checkpoint
        if run.checkpoint:
            # Whether min_date_created is inclusive is unverified (bigcommerce-api.md): from the
            # checkpoint's own second, an exclusive store would skip the orders placed in it that
            # were not done. A minute earlier costs a page's look at bindings that skip them.
            back = run.checkpoint - RESUME_MARGIN
            start = back if self.since is None else max(back, self.since)
            log.info("resuming the import from %s (checkpoint of run %s)", run.checkpoint.isoformat(), run.id)
        frontier = SettledFrontier()
        semaphore = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task] = set()
        # Each order counted once, the ones read again from before the checkpoint not again.
        counts = SettledCounts(run.checkpoint, run.done, run.failed) if run.checkpoint else SettledCounts(None)
        since_checkpoint = 0

        def save(**finished: bool) -> None:
            checkpoint = frontier.checkpoint()
            done, failed = counts.at_checkpoint(checkpoint)
            runs.save(run, checkpoint=checkpoint, done=done, failed=failed, **finished)

        async def mirror(order: Order) -> None:
            nonlocal since_checkpoint
            try:
                await cycle.mirror_one(order, report.cycle)
            finally:
                semaphore.release()
            # Only an order that ended is settled: one stopped mid-order (by the stop or an error)
            # keeps the checkpoint at it, and a resumed import redoes it.
            frontier.settled(order.id)
            counts.settled(order.date_created, failed=order.id in report.cycle.failed)
            since_checkpoint += 1

        def record_invalid(exc: OrderValidationError, raw: dict) -> None:
            raw_id = raw.get("id") if isinstance(raw, dict) else None
            if isinstance(raw_id, int):
                cycle.pages.take(raw_id)  # read with its page, never mirrored: not kept for the whole import
            order_id = exc.order_id if exc.order_id is not None else raw.get("id") if isinstance(raw, dict) else None
            if isinstance(order_id, int) and not isinstance(order_id, bool):  # JSON true is no order 1
                # Retryable: its parts could not be read; the daemon's failed queue reads it again.
                cycle._fail(order_id, "fetch" if exc.retryable else "parse", str(exc),
                            permanent=not exc.retryable, report=report.cycle, modified=_raw_date(raw, "date_modified"))
                counts.settled(_created(raw), done=False, failed=True)

        # Each page's bindings in one statement, before its orders start (PageBindings).
        orders = rt.bc.iter_orders_created(start, self.until, on_invalid=record_invalid, on_page=cycle.pages.read)
        completed = False
        try:
            async for order in orders:
                if self.stop_event.is_set():
                    break
                await semaphore.acquire()
                if self.stop_event.is_set():  # stopped while waiting for a free slot
                    semaphore.release()
                    break
                frontier.started(order.id, order.date_created)
                task = asyncio.create_task(mirror(order))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                if since_checkpoint >= self.checkpoint_every:
                    since_checkpoint = 0
                    save()
                if self.progress is not None:
                    remaining = max(0, report.total - counts.done)
                    eta = quota_seconds(rt.xs.pacer, rt.bc.pacer, remaining, remaining / 250)
                    self.progress.update(counts.done, counts.failed, eta)
            else:
                completed = True
            if tasks:
                await asyncio.gather(*tasks)
            if completed and not self.stop_event.is_set():
                # Refunded past orders get their returns, so the outlet's stock ends where it is:
                # one call per 250 refunds; refunds of orders outside the range are only recorded.
                await cycle.mirror_refunds(report.cycle, self.since)
        except interrupts.Stopping:
            pass  # the next page's wait was cut short by the stop: an interrupted import
        except asyncio.CancelledError:
            # The grace after Ctrl-C / SIGTERM is over: the orders still in hand are cut off too.
            for task in tasks:
                task.cancel()
            raise
        finally:
            if tasks:
                # Interrupted: let the orders in hand finish (within the stop's grace), never half-written.
                await _settle_in_hand(tasks)
            ran_to_the_end = completed and not self.stop_event.is_set() and frontier.in_flight == 0
            report.interrupted = not ran_to_the_end
            # A refund that failed is read by no later pass (the daemon's refunds cursor is past it):
            # the run stays unfinished, so running the import again resumes it and retries them.
            # (One that does not parse never will: its exception is the person's, it holds nothing.)
            finished = ran_to_the_end and not report.cycle.refunds_to_retry
            save(finished=finished)
            if self.progress is not None:
                self.progress.update(counts.done, counts.failed, 0 if finished else None, force=True)
                self.progress.finish()
        return report

    async def _dry_run(self, report: ImportReport) -> ImportReport:
        rt = self.runtime
        planner = DryRunPlanner(rt.deps())

        def record_invalid(exc: OrderValidationError, raw: dict) -> None:
            planner.report.problems[exc.order_id or -1] = str(exc)

        async for order in rt.bc.iter_orders_created(self.since, self.until, on_invalid=record_invalid):
            if self.stop_event.is_set():
                report.interrupted = True  # what was read so far is still reported
                break
            planner.account(order)
            if self.progress is not None:
                self.progress.update(planner.report.orders, len(planner.report.problems))
        if not report.interrupted:  # the refunds the import's refund pass reads (every one since --since)
            async for refund in rt.bc.iter_refunds(created_since=self.since, on_invalid=lambda row, what: None):
                planner.returned(refund)
        report.dry_run = planner.report
        report.estimated_seconds = quota_seconds(rt.xs.pacer, rt.bc.pacer, planner.report.xseries_writes,
                                                 report.total / 250 + 1)
        if self.progress is not None:
            self.progress.finish()
        return report


def _created(raw: object) -> datetime | None:
    """The creation date of an order that did not parse, if that date at least is readable."""
    try:
        return parse_rfc2822(raw.get("date_created")) if isinstance(raw, dict) else None
    except (TypeError, ValueError):
        return None


async def _settle_in_hand(tasks: set[asyncio.Task]) -> None:
    """Wait for the orders in hand; cancelled (the grace is over), cancel them and wait for them to
    unwind (each releases its lease)."""
    try:
        await asyncio.gather(*tasks, return_exceptions=True)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
