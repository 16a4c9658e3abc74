"""The refund pass of a cycle: the refunds created in its window, then the older ones due again."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from connector.clients.bigcommerce_models import Order
from connector.clients.bigcommerce_v3_models import Refund
from connector.errors import ApiError, CredentialsError, OrderSyncError
from connector.logs import redact
from connector.mapping.return_plan import return_invoice_number
from connector.store.leases import LeaseTimeout
from connector.store.tables import RefundBinding
from connector.sync.cycle_report import CycleReport
from connector.sync.mirror_deps import MirrorDeps
from connector.sync.refund_mirror import RefundMirror, refunds_due_again
from connector.sync.transitions import refunded

log = logging.getLogger("connector.sync")
REFUNDS_CURSOR = "refunds"  # up to when every refund is settled


def failure_reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def unread_summary(refund_id, wrong: str) -> str:
    return f"refund {refund_id} could not be read ({wrong}); return it in X-Series by hand if it should be"


async def record_refunds_before(d: MirrorDeps, order: Order) -> None:
    """Before an order's first sale is written: the refunds of an order placed before the refunds
    window (before go-live), which may be older than it and read by no pass. Read once (one call,
    only for such an order that shows a refund) and recorded as having no sale to return from, so
    the refund pass returns them once the sale is closed (refunds_due_again); one a pass read
    already keeps its binding."""
    since = d.refunds_from or d.store.cursor(REFUNDS_CURSOR)
    if d.bc is None or (since is not None and order.date_created >= since) or not (
            refunded(order) or order.refunded_amount > 0
            or any(getattr(line, "quantity_refunded", 0) for line in order.lines)):
        return
    now = d.store.clock.now()
    unread = lambda row, wrong: d.store.open_exception(order.id, "refund", unread_summary(  # noqa: E731
        row.get("id") if isinstance(row, dict) else None, wrong))
    async for refund in d.bc.iter_refunds(order_ids=(order.id,), on_invalid=unread):
        if d.store.refund_binding(refund.id) is None:
            why = f"refund {refund.id}: made before the order's sale was written; returned once it is"
            d.store.save_refund_binding(RefundBinding(
                refund_id=refund.id, bc_order_id=order.id, invoice_number=return_invoice_number(order.id, refund.id),
                outcome="recorded", reason=why, created_at=now, updated_at=now), audit=dict(
                platform="connector", action="record_refund", bc_order_id=order.id, target_id=str(refund.id),
                reason=why))


class RefundPass:
    """SyncCycle's refunds (it gives `d`, `bc` and `stop_event`)."""

    async def mirror_refunds(self, report: CycleReport, created_since: datetime | None) -> datetime:
        """Every refund created since then, in one call per 250 (§15); after the orders, so a refund of
        an order mirrored just now finds its sale. Returns up to when every refund is settled: the
        refunds cursor stays before one that failed, so the next cycle tries it again. Then the
        older refunds due again (refund_mirror.refunds_due_again), whatever the window."""
        settled_until = report.window_end or self.d.store.clock.now()
        # Up to the window's end: a refund made since then may be of an order the window did not
        # read (placed or changed since); the next cycle mirrors that order first, then the refund.
        def unreadable(row: Any, wrong: str) -> None:
            # Bad input from BigCommerce: a person returns it by hand; it must not hold the others back.
            refund_id, order_id = (row.get("id"), row.get("order_id")) if isinstance(row, dict) else (None, None)
            report.refunds_failed[refund_id] = wrong
            report.refunds_unreadable.add(refund_id)
            log.error("order %s: refund %s could not be read, not returned: %s", order_id, refund_id, wrong,
                      extra={"order_id": order_id})
            if isinstance(order_id, int) and not isinstance(order_id, bool):
                self.d.store.open_exception(order_id, "refund", unread_summary(refund_id, wrong))

        async for refund in self.bc.iter_refunds(created_since=created_since, created_until=report.window_end,
                                                 on_invalid=unreadable):
            if self.stop_event.is_set():
                return min(settled_until, refund.created)
            if not await self._mirror_refund(refund, report):
                settled_until = min(settled_until, refund.created)
        # Older refunds due again (their order got its sale, a person asked): they stay due until
        # settled, so they never hold the cursor, nor does a failure to read them.
        try:
            async for refund in refunds_due_again(self.d.store, self.bc, skip=set(report.refunds_failed)):
                if self.stop_event.is_set():
                    break
                await self._mirror_refund(refund, report)
        except CredentialsError:
            raise
        except ApiError as exc:
            log.warning("the refunds due again were not read (%s); the next cycle reads them", redact(failure_reason(exc)))
        return settled_until

    async def _mirror_refund(self, refund: Refund, report: CycleReport) -> bool:
        """Mirror one refund; False when it failed (retried next cycle). A refusal for good is no
        failure here: RefundMirror records it and opens an exception for a person."""
        mirror = RefundMirror(self.d)
        try:
            report.refunds[await mirror.mirror(refund)] += 1
            return True
        except CredentialsError:
            raise
        except (ApiError, LeaseTimeout, OrderSyncError) as exc:
            report.refunds_failed[refund.id] = reason = redact(failure_reason(exc))
            log.warning("order %s: refund %s failed at %s: %s", refund.order_id, refund.id, mirror.step, reason,
                        extra={"order_id": refund.order_id})
            return False
