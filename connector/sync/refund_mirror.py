"""Mirror one BigCommerce refund as an X-Series return, exactly once (issue 16, point 1).

The same fixed sequence as a sale: skip if bound → take the refund's lease → look again → settle a
write left pending (look the return up by its invoice number) → the order's sale → plan → products
→ write → bind. A refund of an order with no sale (never imported, or voided) writes nothing and is
recorded — until the order gets a closed sale, when it is mirrored after all (refunds_due_again);
one X-Series cannot express, or whose return X-Series refuses for good, is recorded and opened as an
exception for a person, whose retry-failed posts it again (RefundBook.request_refund_retry).
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from collections.abc import AsyncIterator

from connector.clients.bigcommerce_v3_models import Refund
from connector.clients.xseries_sale_models import RegisterSale, WrittenSale
from connector.errors import (
    ApiError,
    MappingError,
    NotFoundError,
    OrderSyncError,
    PermanentApiError,
    UnknownWriteOutcome,
)
from connector.logs import redact
from connector.mapping.register_sale import refusal_fallbacks, register_return, with_invoice_affixes
from connector.mapping.return_plan import build_return_plan, return_invoice_number
from connector.mapping.status_table import PosState
from connector.store.refund_bindings import RETRY, VOIDING
from connector.store.tables import OrderBinding, RefundBinding
from connector.sync.as_sold import sold_payment_types, with_sold_taxes
from connector.sync.binders import not_there_yet
from connector.sync.go_live import skipped_before_go_live
from connector.sync.mirror_deps import MirrorDeps, plan_sale
from connector.sync.pending import (
    LandedNotShown,
    find_sale,
    landed_already,
    look_once_settled,
    names_duplicate_source_id,
    posted,
)
from connector.sync.product_binder import ProductBinder
from connector.sync.return_voids import settle_void
from connector.sync.sold_check import check_within_sale, returned_before

log = logging.getLogger("connector.sync")


class RefundMirror:
    def __init__(self, deps: MirrorDeps) -> None:
        self.d = deps
        self.step = "start"

    async def mirror(self, refund: Refund) -> str:
        """The refund's outcome: up_to_date | returned | recovered | recorded | exception | refused.
        Raises on a failure the next cycle retries (the binding stays pending when a write may have
        landed)."""
        store = self.d.store
        if _settled(store, store.refund_binding(refund.id)):
            return "up_to_date"
        self.step = "lock"
        # The order's lease first, as its cancel takes them (void_returns): a cancel meanwhile would
        # void the sale read below before this return lands on it (given back twice).
        async with store.leases.hold(f"order:{refund.order_id}"), store.leases.hold(f"refund:{refund.id}") as lease:
            binding = store.refund_binding(refund.id)
            if _settled(store, binding):
                return "up_to_date"
            if binding is not None and binding.outcome == VOIDING:
                if _retry_to_come(store, refund.order_id):  # its cancel, retried, voids the return again
                    raise OrderSyncError(f"refund {refund.id}: the void of its return is not recorded yet;"
                                         " the order is retried first")
                self.step = "recover"  # the return stands (its void did not land), or is returned again
                if not await settle_void(self.d, binding, lease):
                    return "up_to_date"
            now = store.clock.now()
            binding = binding or RefundBinding(
                refund_id=refund.id, bc_order_id=refund.order_id, created_at=now, updated_at=now,
                invoice_number=return_invoice_number(refund.order_id, refund.id))
            after_lost = binding.pending  # a refusal of the next write as a duplicate says it landed (_write)
            if after_lost:
                self.step = "recover"
                # Not shown by the search: looked up once more if it was sent (at the pending save)
                # less than sync.lost_write_settle_seconds ago, as a sale is (pending.py).
                found = await self._find_return(binding) or await look_once_settled(
                    store.clock, f"return {binding.invoice_number}", binding.updated_at, self.d.lost_write_settle,
                    lambda: self._find_return(binding))
                if found is not None:
                    self._bound(binding, found.id)
                    if binding.return_body:  # the found return's line and payment ids, for its void (§8.3)
                        sent = RegisterSale.model_validate_json(binding.return_body)
                        binding.return_body = WrittenSale.of(found).ids_into(sent).to_json().decode()
                    store.save_refund_binding(binding, lease=lease, audit=dict(
                        platform="connector", action="recover_return", bc_order_id=refund.order_id,
                        target_id=found.id, reason="an earlier return write had no answer; the return was found"))
                    return "recovered"
                binding.pending, binding.return_body = False, None
            sale = store.order_binding(refund.order_id)
            if sale is not None and sale.pending_state is not None:
                # A write to its sale may have landed (a void after its returns were voided, a
                # create): returned now, it could be against a sale about to be voided, or none.
                raise OrderSyncError(f"refund {refund.id}: a write to the order's sale is not settled yet"
                                     f" ({sale.pending_state}); the refund waits for it")
            if (sale is None or sale.sale_id is None) and _retry_to_come(store, refund.order_id):
                # Its sale failed and the failed queue writes it later: returned then, not now.
                raise OrderSyncError(f"refund {refund.id}: the order's sale is not written yet (the order"
                                     " failed and will be retried); the refund waits for it")
            if sale is None or sale.sale_id is None or sale.pos_state != PosState.CLOSED.value:
                # Not for good: an order parked, not imported yet, voided or outside the range
                # mirrored may get a closed sale later (retry-failed, a new status, import-history,
                # a re-opened order); the refund is mirrored then (refunds_due_again, _settled).
                why = (skipped_before_go_live(store, refund.order_id) or "the order has no sale in X-Series") \
                    if sale is None else "the order has no sale in X-Series" if sale.sale_id is None \
                    else f"the order's sale is {sale.pos_state}"
                return self._record(binding, lease, f"refund {refund.id}: {why}; nothing to return"
                                    " (returned if the order gets a closed sale later)")
            try:
                return await self._return(refund, binding, sale, lease, after_lost)
            except (PermanentApiError, NotFoundError) as exc:
                if binding.pending:  # a write may have landed (a search refused after a lost answer)
                    raise
                return self._refused(refund, binding, lease, exc)

    async def _return(self, refund: Refund, binding: RefundBinding, sale: OrderBinding, lease,
                      after_lost: bool = False) -> str:
        """Map, resolve the products, write and bind the return of the order's closed sale."""
        store = self.d.store
        self.step = "map"
        order = self.d.refunded_orders.get(refund.order_id) or await self.d.bc.get_order(refund.order_id)
        try:
            # Taxes and payment types as the sale used them: the tables may have changed since.
            order_plan = with_sold_taxes(plan_sale(order, self.d, sale.generation), sale.sale_body, store.product_id)
            earlier = returned_before(refund, store.refund_bindings(refund.order_id))
            fee_id = store.product_id("special:fee")
            fees_back = [(line.price, line.tax, line.tax_id) for line in earlier if line.product_id == fee_id]
            plan = build_return_plan(refund, order_plan, self.d.specials, self.d.refs.no_tax_id,
                                     restock=self.d.restock, fees_back=fees_back)
            # The order as it is now may have been edited since its sale was written.
            check_within_sale(refund, order_plan, sale, earlier, store.product_id,
                              self.d.refs.line_prices_include_tax)
            # A refund whose return was voided with its order's sale is returned again under a
            # number (and source id, as a re-opened order's sale) of its own (return_voids): the
            # voided return keeps the first ones.
            again = binding.invoice_number[len(plan.invoice_number):]
            plan = replace(plan, invoice_number=binding.invoice_number, source_id=plan.source_id + again)
            sold = sold_payment_types(order_plan, sale.sale_body)
            type_ids = [sold.get(p.tender) or self.d.refs.payment_type_ids[self.d.payments.targets([p], order.id)[0]]
                        for p in plan.payments]
        except MappingError as exc:
            # Named by its refund: mirroring the order later does not resolve it (resolve_mapping_exceptions).
            store.open_exception(refund.order_id, exc.kind, str(exc.args[0]), before={"refund": refund.id})
            return self._record(binding, lease, str(exc.args[0]), outcome="exception")
        self.step = "products"
        products = ProductBinder(store, self.d.xs, None, self.d.refs)
        product_ids = {line.product_key: await products.resolve(line, refund.order_id) for line in plan.lines}
        customer_id = _customer_of(sale.sale_body)
        body = register_return(plan, self.d.refs, product_ids, customer_id, type_ids, return_for=sale.sale_id)

        self.step = "write"
        binding.pending = True
        try:
            written, body = await self._write(body, binding, lease, after_lost)
        except UnknownWriteOutcome as exc:
            # The attempt whose answer was lost, as it was sent (its affixes, return_for or not).
            body = RegisterSale.model_validate_json(binding.return_body)
            written = await self._find_return(binding)
            if written is None:
                raise not_there_yet("the return write", f"no return {plan.invoice_number}", exc) from exc
        except LandedNotShown:
            raise  # the binding stays pending: the return exists, and is looked up before anything is written
        except ApiError:
            binding.pending, binding.return_body = False, None  # refused or never sent: nothing exists in X-Series
            store.save_refund_binding(binding)
            raise
        self._bound(binding, written.id)
        # With its lines' and payments' ids: a void that named none would void new lines (§8.3).
        binding.return_body = WrittenSale.of(written).ids_into(body).to_json().decode()
        store.save_refund_binding(binding, lease=lease, audit=dict(
            platform="xseries", action="create_return", bc_order_id=refund.order_id, target_id=written.id,
            reason=f"BigCommerce refund {refund.id} of {plan.total_inc_tax}", before=sale.sale_id,
            after=plan.invoice_number,
            detail={"refund_id": refund.id, "total": str(plan.total_inc_tax), "lines": len(plan.lines),
                    "units": -sum(line.quantity for line in plan.lines if line.kind == "product"),
                    "adjustment": str(plan.adjustment), "tenders": [p.tender for p in plan.payments]},
        ))
        log.info("order %s: refund %s returned as %s", refund.order_id, refund.id, plan.invoice_number,
                 extra={"order_id": refund.order_id})
        return "returned"

    async def _write(self, body: RegisterSale, binding: RefundBinding, lease,
                     after_lost: bool = False) -> tuple[WrittenSale, RegisterSale]:
        """Post the return. Whether the 0.9 body takes `return_for` is unverified (§8.2): refused (a
        400/422: nothing was applied), the return is posted again without it — its negative
        quantities make it a return, and its note names the sale. Whatever the error says: a strict
        server need not name the field it refuses; a refusal for another reason comes back again.
        So is a given invoice number without the register's prefix/suffix (§8.2 "should use"):
        refused still, the return goes with them (then without return_for too), as sales do."""
        xs, affixes = self.d.xs, self.d.refs.invoice_affixes
        if xs.invoices_affixed:
            body = with_invoice_affixes(body, affixes) or body
        plain = body.model_copy()
        delattr(plain, "return_for")
        fallbacks = refusal_fallbacks(body, plain, affixes)
        while True:
            # Kept with the pending state, each attempt as it is sent: a return found on a later
            # pass (its answer lost) is voided with its order's sale by re-posting this body, with
            # the found return's ids put into it — the first attempt's would carry a return_for or
            # an invoice number the server refused (§8.2).
            encoded = body.to_json()
            binding.return_body = encoded.decode()
            self.d.store.save_refund_binding(binding)
            try:
                # Not sent once the refund's lease may have lapsed (SaleWrites._held): it stays pending.
                held = self.d.store.leases.before_send(lease, self.d.lease_margin)
                written = await xs.create_sale_document(encoded, answer=WrittenSale, before_send=held)
            except PermanentApiError as exc:
                if after_lost and names_duplicate_source_id(exc):  # ours landed: found, or looked for again
                    sent = posted(binding.return_body, binding.updated_at, self.d.store.clock.now())
                    return await landed_already(xs, self.d.refs, binding.invoice_number, sent, exc), body
                if exc.status not in (400, 422) or not fallbacks:
                    raise
                body = fallbacks.pop(0)
                log.info("X-Series refused the return (%s); posted again%s%s", exc,
                         "" if "return_for" in (body.model_extra or {}) else " without return_for",
                         f" as invoice {body.invoice_number}" if body.invoice_number != plain.invoice_number else "")
                continue
            xs.invoices_affixed |= body.invoice_number != plain.invoice_number
            return written, body

    def _refused(self, refund: Refund, binding: RefundBinding, lease, exc: ApiError) -> str:
        """X-Series (or BigCommerce, a 404) refused for good: sent again unchanged it is refused again,
        so it is neither retried each cycle nor allowed to hold the refunds cursor (which re-read a
        growing window for ever while nobody was told). Recorded as refused, with an exception a
        person sees; retry-failed posts it again once the cause is fixed (request_refund_retry),
        while that exception is open. binding.reason is the exception's summary: that is the link."""
        why = redact(f"refund {refund.id}: its return was refused at {self.step} ({exc}); fix the cause and"
                     f" run `order-sync retry-failed --order {refund.order_id}` to post it again, or return it"
                     " in X-Series by hand and resolve this")
        log.error("order %s: %s", refund.order_id, why, extra={"order_id": refund.order_id})
        self.d.store.open_exception(refund.order_id, "refund", why)
        return self._record(binding, lease, why, outcome="refused")

    def _record(self, binding: RefundBinding, lease, why: str, *, outcome: str = "recorded") -> str:
        binding.outcome, binding.reason, binding.pending = outcome, why, False
        self.d.store.save_refund_binding(binding, lease=lease, audit=dict(
            platform="connector", action="record_refund", bc_order_id=binding.bc_order_id,
            target_id=str(binding.refund_id), reason=why))
        return outcome

    async def _find_return(self, binding: RefundBinding):
        """The return of a write left pending: by its invoice number, else by the source_id it was
        given (a server that numbers sales itself keeps none of our numbers, §8.2)."""
        sent = posted(binding.return_body, binding.updated_at, self.d.store.clock.now())
        return await find_sale(self.d.xs, self.d.refs, binding.invoice_number, sent=sent)

    @staticmethod
    def _bound(binding: RefundBinding, sale_id: str) -> None:
        binding.return_sale_id, binding.pending, binding.outcome, binding.reason = sale_id, False, "returned", ""


def _retry_to_come(store, order_id: int) -> bool:
    """The order is in the failed queue and not parked: its sale may still be written."""
    failure = store.failure(order_id)
    return failure is not None and not failure.parked


def _settled(store, binding: RefundBinding | None) -> bool:
    """Nothing left to do for the refund. Not settled: new, pending, reopened by a person (retry),
    or recorded with no closed sale to return from when its order has one now (see
    RefundBook.refunds_due_again for why returning it then returns no unit twice)."""
    if binding is None or binding.pending or binding.outcome in ("pending", RETRY, VOIDING):
        return False
    if binding.outcome == "recorded":
        sale = store.order_binding(binding.bc_order_id)
        return sale is None or sale.sale_id is None or sale.pos_state != PosState.CLOSED.value
    return True


async def refunds_due_again(store, bc, skip: set[int]) -> AsyncIterator[Refund]:
    """The refunds settled once that are to be mirrored now (RefundBook.refunds_due_again), read
    afresh from BigCommerce: older than the refunds window, no pass would read them again. Nothing
    due (the steady state) costs no call; else one call per 50 of their orders. `skip`: refunds this
    pass tried already."""
    due = {b.refund_id: b.bc_order_id for b in store.refunds_due_again() if b.refund_id not in skip}
    orders = sorted(set(due.values()))
    for start in range(0, len(orders), 50):
        # A row that does not parse is no due refund (those parsed once): the refund pass that
        # read it first reported it, and it must not stop this read.
        async for refund in bc.iter_refunds(order_ids=tuple(orders[start:start + 50]),
                                            on_invalid=lambda row, wrong: None):
            if refund.id in due:
                yield refund


def _customer_of(sale_body: str | None) -> str | None:
    """The customer of the sale returned: the return goes on the same customer."""
    return json.loads(sale_body).get("customer_id") if sale_body else None
