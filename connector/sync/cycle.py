"""One sync cycle: the window, the pages, the failed-order queue and the cursor.

Window = [cursor − overlap, cycle start], orders by date_modified ascending, the upper bound fixed
at the start so orders modified while we page fall into the next cycle instead of shifting pages;
its end is then pulled back to BigCommerce's own time (the listing's Date) if our clock runs ahead.
Orders are mirrored a page at a time (a few concurrently); once every order of a page is settled —
bound, recorded, or recorded as failed — the cursor moves to that page's last date_modified, and
to the window's end when the window is done. The cursor therefore passes no unsettled order by more
than the least overlap (config_sections.MIN_OVERLAP_SECONDS), and a crash costs only a re-read
(bindings make re-reads free).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from connector import interrupts
from connector.clients.bigcommerce import BigCommerceClient
from connector.clients.bigcommerce_models import Order, OrderValidationError
from connector.clock import read_until
from connector.errors import (
    ApiError,
    ConfigError,
    CredentialsError,
    MappingError,
    NotFoundError,
    OrderSyncError,
    PermanentApiError,
)
from connector.logs import current_order_id, redact
from connector.store.import_runs import ImportRuns
from connector.store.leases import LeaseTimeout
from connector.sync.cycle_report import CycleReport
from connector.sync.go_live import stale_first_cycle
from connector.sync.mirror_deps import MirrorDeps
from connector.sync.order_mirror import OrderMirror, Outcome
from connector.sync.page_bindings import PageBindings
from connector.sync.refund_pass import REFUNDS_CURSOR, RefundPass, failure_reason
from connector.sync.xseries_index import XSeriesIndex
from connector.values import parse_rfc2822

log = logging.getLogger("connector.sync")

PAGE = 250
REFUNDED_STATUSES = frozenset({4, 14})  # Refunded, Partially Refunded: where a refund moves an order


class SyncCycle(RefundPass):
    def __init__(self, deps: MirrorDeps, bc: BigCommerceClient, *, overlap_seconds: int,
                 start_at: datetime | None, max_attempts: int, concurrency: int = 4,
                 stop_event: asyncio.Event | None = None) -> None:
        self.d = deps
        self.bc = bc
        self.overlap = timedelta(seconds=overlap_seconds)
        self.start_at = start_at
        self.max_attempts = max_attempts
        self.concurrency = concurrency
        # Default: the running command's (Ctrl-C / SIGTERM set it, connector.interrupts).
        self.stop_event = stop_event or interrupts.stop_event()
        self.index = XSeriesIndex(deps.store, deps.xs)
        # The bindings of the orders in hand, read a page at a time (the importer's pages too).
        self.pages = PageBindings(deps.store)

    def _first_start(self) -> datetime | None:
        """Where an earlier first cycle, which failed before a cursor was saved, began (its window's
        start less the overlap taken off it). More than a day ago, going on from there would mirror past
        orders: refused as a restart is (ConfigError), whether or not the process restarted."""
        first = self.d.store.first_window_start("sync")
        # Not with the historical import enabled (the mirror then has no go-live gate): past orders are its.
        refused = first and self.d.go_live and stale_first_cycle(self.d.store.clock.now(), first, self.overlap)
        if refused:
            raise ConfigError(refused)
        return first + self.overlap if first else None

    async def run(self) -> CycleReport:
        store = self.d.store
        # BigCommerce stamps date_modified in whole seconds: an order changed later in this very
        # second gets a date_modified before now, perhaps after the listing was read. The window
        # (and so the cursor) ends at the start of this second, which every order it claims is
        # settled was modified before; orders of this second are read again by the next cycle.
        cycle_start = store.clock.now().replace(microsecond=0)
        # A first run without start_at goes on from where import-history read up to, if it ran: from
        # its own now, the orders placed in between would be in neither. One after a first cycle that
        # failed (no cursor yet) starts where that one did: go-live, not its own now.
        saved = store.cursor()
        imported = None if saved or self.start_at else ImportRuns(store).imported_until()
        cursor = saved or self.start_at or (imported and min(imported, cycle_start)) or self._first_start() \
            or cycle_start
        report = CycleReport(window_start=cursor - self.overlap, window_end=cycle_start)
        run_id = store.start_cycle("sync", report.window_start, report.window_end)
        refunds = store.cursor(REFUNDS_CURSOR)
        # No refunds cursor yet: from where the first cycle began (one that failed read no refund
        # either; a store upgraded from a version without refunds got one at its orders cursor: 26).
        self.d.refunds_from = refunds - self.overlap if refunds else \
            store.first_window_start("sync") or report.window_start
        outcome = "error"
        try:
            await self.index.refresh()
            await self._mirror_window(report)
            if report.completed:
                await self._retry_due_failures(report)
                settled = await self.mirror_refunds(report, self.d.refunds_from)
                store.set_cursor(settled, REFUNDS_CURSOR)
            outcome = "ok" if not (report.failed or report.refunds_failed) else "failures"  # status shows it
            if not report.completed and self.stop_event.is_set():
                outcome = "stopped"
            return report
        except (interrupts.Stopping, asyncio.CancelledError):
            if self.stop_event.is_set():
                outcome = "stopped"  # not an error: Ctrl-C or SIGTERM cut a wait or the grace short
            raise
        finally:
            store.finish_cycle(run_id, seen=report.seen, written=report.written,
                               failed=len(report.failed), outcome=outcome)

    async def _mirror_window(self, report: CycleReport) -> None:
        batch: list[Order] = []
        invalid: list[tuple[OrderValidationError, dict[str, Any]]] = []
        server_times: list[datetime] = []
        newest: datetime | None = None  # the latest change the listing showed, by the server's clock
        orders = self.bc.iter_orders_modified(
            report.window_start, report.window_end, on_invalid=lambda exc, raw: invalid.append((exc, raw)),
            on_server_time=server_times.append,
        )
        async for order in orders:
            batch.append(order)
            newest = order.date_modified if newest is None else max(newest, order.date_modified)
            if order.status_id in REFUNDED_STATUSES:
                self.d.refunded_orders[order.id] = order
            if len(batch) >= PAGE:
                if not await self._settle_batch(batch, invalid, report):
                    return
                batch, invalid = [], []
        if not await self._settle_batch(batch, invalid, report):
            return
        # BigCommerce stamps date_modified by its own clock. Ours running ahead put the window's end
        # past what the listing could show (orders modified since its first answer, by the server's
        # clock), and the next window, starting an overlap before that end, lost them.
        end = max(read_until(report.window_end, server_times, newest), report.window_start)
        if end < report.window_end:
            skew = report.window_end - end
            log.log(logging.WARNING if skew >= timedelta(seconds=5) else logging.DEBUG,
                    "BigCommerce's clock is %s behind ours: the window ends at its time", skew)
            report.window_end = end
        self.d.store.set_cursor(report.window_end)
        report.completed = True

    async def _settle_batch(self, batch: list[Order], invalid: list, report: CycleReport) -> bool:
        """Mirror a batch; move the cursor past it if all settled. False: stop requested."""
        waiting = self._waiting_failures()
        for exc, raw in invalid:
            order_id = exc.order_id if exc.order_id is not None else raw.get("id") if isinstance(raw, dict) else None
            if isinstance(order_id, int) and not isinstance(order_id, bool):  # JSON true is no order 1
                modified = _raw_date(raw, "date_modified")
                # Not changed since it failed: re-reading the same data says nothing new.
                if order_id in waiting and (modified is None or modified <= waiting[order_id]):
                    continue
                # Retryable: its parts could not be read; the failed queue reads it again by id.
                self._fail(order_id, "fetch" if exc.retryable else "parse", str(exc),
                           permanent=not exc.retryable, report=report, modified=modified)
            else:
                # No id to name it by: name it by what the control panel shows.
                log.error("an order without a usable id (date_created %r, total_inc_tax %r) could not be read: %s",
                          _raw_field(raw, "date_created"), _raw_field(raw, "total_inc_tax"), exc)
        if not batch:
            return not self.stop_event.is_set()
        semaphore = asyncio.Semaphore(self.concurrency)
        self.pages.read(o.id for o in batch)  # one statement, not one per order

        async def one(order: Order) -> bool:
            async with semaphore:
                if self.stop_event.is_set():
                    return False  # not started: the cursor must not pass it
                if order.id in waiting and order.date_modified <= waiting[order.id]:
                    return True  # recorded as failed since its last change, and not due: settled
                await self.mirror_one(order, report)
                return True

        # Every order of the batch ends before this returns, even when one raises: an order left
        # running would go on writing after the cycle (and its clients) ended.
        results = await asyncio.gather(*(one(o) for o in batch), return_exceptions=True)
        self.pages.forget()
        for result in results:
            # A stop cut the order's wait short (Stopping) or its grace ended (cancelled): the order
            # is not settled, so the cursor stays before it; anything else is the cycle's error.
            if isinstance(result, BaseException) and not isinstance(
                    result, (interrupts.Stopping, asyncio.CancelledError)):
                raise result
        if not all(r is True for r in results):
            return False
        self.d.store.set_cursor(max(o.date_modified for o in batch))
        return not self.stop_event.is_set()

    def _waiting_failures(self) -> dict[int, datetime]:
        """Failed orders the window's re-read must not retry: parked ones (until retry-failed) and
        those backing off (the failed queue retries them when due). Order id → the date_modified it
        failed at: an order changed since (the merchant fixed it) is retried all the same. Compared on
        BigCommerce's clock, not with the failure's time on ours: ours running ahead, a fix looked
        older than the failure. A row from before that was kept: the second before its last failure."""
        now = self.d.store.clock.now()
        return {f.bc_order_id: f.date_modified or f.last_failed_at.replace(microsecond=0) - timedelta(seconds=1)
                for f in self.d.store.failures() if f.parked or f.next_attempt_at > now}

    async def mirror_one(self, order: Order, report: CycleReport) -> Outcome | None:
        # Every log line while the order is in hand names it, and none after: the failed queue
        # mirrors orders in the cycle's own task, whose later lines are about no order.
        token = current_order_id.set(order.id)
        try:
            return await self._mirror_one(order, report)
        finally:
            current_order_id.reset(token)

    async def _mirror_one(self, order: Order, report: CycleReport) -> Outcome | None:
        mirror = OrderMirror(self.d)
        try:
            outcome = await mirror.mirror(order, self.pages)
        except CredentialsError:
            raise  # nothing will work: stop the cycle, a person must fix the token
        except (MappingError, PermanentApiError, NotFoundError) as exc:
            if isinstance(exc, MappingError) and self.d.store.resolved_by_hand(order.id, order.date_modified):
                report.outcomes[Outcome.UP_TO_DATE] += 1  # read again by the overlap, unchanged
                return Outcome.UP_TO_DATE
            self._fail(order.id, mirror.step, failure_reason(exc), permanent=True, report=report,
                       modified=order.date_modified)
            if isinstance(exc, MappingError):  # parked until a person fixes the order or the mapping
                self.d.store.open_exception(order.id, exc.kind, str(exc.args[0]))
            return None
        except (ApiError, LeaseTimeout, OrderSyncError) as exc:
            self._fail(order.id, mirror.step, failure_reason(exc), permanent=False, report=report,
                       modified=order.date_modified)
            return None
        except Exception as exc:  # a bug must not stop the batch, nor lose the order
            log.exception("order %s: unexpected error at step %s", order.id, mirror.step)
            self._fail(order.id, mirror.step, f"unexpected {type(exc).__name__}: {exc}", permanent=False,
                       report=report, modified=order.date_modified)
            return None
        report.outcomes[outcome] += 1
        report.failed.pop(order.id, None)
        return outcome

    async def _retry_due_failures(self, report: CycleReport) -> None:
        for failure in self.d.store.due_failures():
            if self.stop_event.is_set():
                return
            if failure.bc_order_id in report.failed:
                continue
            try:
                order = await self.bc.get_order(failure.bc_order_id)
            except OrderValidationError as exc:
                self._fail(failure.bc_order_id, "parse", str(exc), permanent=True, report=report)
                continue
            except CredentialsError:
                raise
            except ApiError as exc:
                self._fail(failure.bc_order_id, "fetch", failure_reason(exc),
                           permanent=isinstance(exc, NotFoundError), report=report)
                continue
            if await self.mirror_one(order, report) is not None:
                # Mirrored, or nothing left to write (a change the merchant reverted): a write
                # settles its failure, an order found up to date must drop it here.
                self.d.store.forget_failure(order.id)

    def _fail(self, order_id: int, step: str, reason: str, *, permanent: bool, report: CycleReport,
              modified: datetime | None = None) -> None:
        # The reason quotes the API's answer, which a misbehaving API or proxy may fill with our own
        # token: it is stored and logged, so it is masked first.
        reason = redact(reason)
        row = self.d.store.record_failure(order_id, step=step, reason=reason, permanent=permanent,
                     max_attempts=self.max_attempts, date_modified=modified)
        report.failed[order_id] = reason
        state = "parked" if row.parked else f"retry at {row.next_attempt_at:%Y-%m-%d %H:%M:%S}Z"
        log.warning("order %s failed at %s (attempt %d, %s): %s", order_id, step, row.attempts, state, reason,
                    extra={"order_id": order_id})


def _raw_field(raw: Any, name: str) -> Any:
    return raw.get(name) if isinstance(raw, dict) else None


def _raw_date(raw: Any, name: str) -> datetime | None:
    """A date of an order that did not parse, if that date at least is readable."""
    try:
        return parse_rfc2822(_raw_field(raw, name))
    except (TypeError, ValueError):
        return None
