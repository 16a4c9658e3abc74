"""Mirror one BigCommerce order into X-Series, exactly once.

The fixed sequence of steps: skip if the binding is up to date → take the order's lease → look
again → settle a write left pending → decide the transition → customer → products → plan → write →
bind. Every write to X-Series is audited; every decision not to write is recorded too.

Exactly once: before a sale is created the binding is committed with pending_state set. If the
answer is lost (UnknownWriteOutcome), or the process dies, the next attempt finds the binding
pending and looks the sale up by its deterministic invoice number before it ever creates again.
"""

from __future__ import annotations

import logging

from connector.clients.bigcommerce_models import Order
from connector.clients.xseries_sale_models import RegisterSale
from connector.errors import MappingError, PermanentApiError
from connector.mapping.edits import sale_edit
from connector.mapping.identity import invoice_number, order_content_hash, sale_content_hash
from connector.mapping.planned_sale import DISCOUNT_KEY, PlannedLine, product_key_for_sku
from connector.mapping.sale_plan import target_state
from connector.mapping.status_table import PosState
from connector.mapping.statuses import DECLINED, SHIPPED_OR_COMPLETED, shipped_after_declined
from connector.store.tables import OrderBinding
from connector.sync.binders import CustomerBinder
from connector.sync.go_live import record_skip
from connector.sync.id_check_moves import (
    first_sale_on_account,
    id_check_wrote,
    kept_on_account,
    later_sale_on_account,
    resynced_on_account,
)
from connector.sync.latest_copy import latest_copy, maybe_stale
from connector.sync.mirror_deps import MirrorDeps, plan_sale
from connector.sync.page_bindings import PageBindings
from connector.sync.pending import settle_pending
from connector.sync.product_binder import ProductBinder
from connector.sync.return_voids import void_returns
from connector.sync.sale_answers import OTHER_SALE
from connector.sync.sale_writes import SaleWrites
from connector.sync.transitions import (
    Outcome,
    Transition,
    decide,
    next_generation_of,
    on_account,
    paid_since,
    refunded,
    up_to_date,
)

log = logging.getLogger("connector.sync")


class OrderMirror(SaleWrites):
    def __init__(self, deps: MirrorDeps) -> None:
        self.d = deps
        self.products = ProductBinder(deps.store, deps.xs, deps.bc, deps.refs, deps.families)
        self.customers = CustomerBinder(deps.store, deps.xs)
        self.step = "start"
        self.lease = None  # the order's lease while held; the settling write releases it

    async def mirror(self, order: Order, pages: PageBindings | None = None) -> Outcome:
        """Raises on failure; the caller records it with self.step (which step failed).

        pages: the bindings of the order's page, read before it started; else it is read now."""
        store = self.d.store
        # Taken first, whatever fails below: the importer never forgets a page, so an entry left by
        # an order that failed before it (an unmapped status) would stay for the whole import.
        read, binding = pages.take(order.id) if pages is not None else (False, None)
        self.step = "map"
        # An archived order (a test or a fraud the merchant deleted) is never mirrored; a sale it
        # already has stays as it is: archiving is not cancelling.
        archived = bool(order.is_deleted)
        target = PosState.NOT_IMPORTED if archived else target_state(order, self.d.statuses)
        content_hash = order_content_hash(order)
        if up_to_date(binding if read else store.order_binding(order.id), content_hash):
            return Outcome.UP_TO_DATE  # a shortcut past the lease only: see PageBindings
        self.step = "lock"
        async with store.leases.hold(f"order:{order.id}") as self.lease:
            binding = store.order_binding(order.id)
            if up_to_date(binding, content_hash):
                return Outcome.UP_TO_DATE
            # Decided on the binding read under the lease, never on a copy older than the one it was
            # written from (a page's copy after a webhook's newer one made a second sale): latest_copy.
            if maybe_stale(order, binding):
                self.step = "fetch"
                latest = await latest_copy(self.d.bc, order, binding)
                if latest is None:
                    return Outcome.UP_TO_DATE
                order, self.step = latest, "map"  # everything is taken from the copy read again
                archived = bool(order.is_deleted)
                target = PosState.NOT_IMPORTED if archived else target_state(order, self.d.statuses)
                content_hash = order_content_hash(order)
                if up_to_date(binding, content_hash):
                    return Outcome.UP_TO_DATE
                self.step = "lock"
            # Never mirrored and shipped before go-live: its sale would move stock again (issue 14).
            refused = self.d.go_live.refusal(order) if binding is None and self.d.go_live else None
            if refused is not None and store.failure(order.id) is not None:
                # An attempt failed: the historical import's, maybe, its one trace of the order (or
                # the daemon's own). Neither mirrored nor forgotten: a person decides (go_live).
                raise MappingError(f"{refused}; an earlier attempt failed (the failed queue says why): if"
                                   " import-history failed on it, run it again (it mirrors it), else resolve this",
                                   order_id=order.id, kind="go_live")
            if refused is not None:
                record_skip(store, order, content_hash, refused)
                return Outcome.SKIPPED
            recovered = False
            # A write whose answer was lost: a refusal of the next as a duplicate says it landed (_create).
            after_lost = binding is not None and binding.pending_state is not None
            if after_lost:
                self._held_for_a_person(order.id)
                self.step = "recover"
                binding = await settle_pending(self.d.store, self.d.xs, self.d.refs, binding,
                                               settle=self.d.lost_write_settle)
                recovered = binding.pending_state is None and binding.sale_id is not None
                if recovered and on_account(binding):  # written on account by _create_owed, not yet told
                    owed = self._owed(order, target, binding)
                    if owed is not None:
                        store.open_exception(order.id, "settle", owed)
            has_sale = binding is not None and binding.sale_id is not None
            current = PosState(binding.pos_state) if has_sale else PosState.NOT_IMPORTED
            transition, why = decide(current, has_sale, target, order.status_id)
            if archived:
                why = "archived in BigCommerce: " + ("its sale stays as it is (archiving is not cancelling)"
                                                     if has_sale else "not mirrored")
            if transition is Transition.REOPEN:
                next_generation_of(binding)
            if transition in (Transition.REOPEN, Transition.CREATE):
                return await self._create_owed(order, target, content_hash, binding, self._owed(order, target, binding),
                                               why if transition is Transition.REOPEN else None, after_lost)
            if transition is Transition.VOID:
                # Its returns first: the sale's void gives back every unit sold and all its money.
                self.step = "write"
                await void_returns(self.d, order.id)
                return await self._void(order, binding, content_hash)
            compared = transition is Transition.NONE and has_sale and current is PosState.CLOSED \
                and target is PosState.CLOSED
            edit = self._edit(order, binding, content_hash) if compared else None
            if edit is not None and self.d.on_edit == "resync":
                # Stock and money follow the edit: the sale is voided and the next generation written.
                # Its returns first, as for a cancel: the new sale takes them again (-R<id>-2), and a
                # return left on the voided sale could never be voided with the order later.
                # A sale on account stays so unless the order was paid since (resynced_on_account).
                owed = resynced_on_account(order, binding, self.d.statuses, self.d.store,
                                           invoice_number(order.id, binding.generation + 1))
                self.step = "write"
                await void_returns(self.d, order.id)
                await self._void(order, binding, content_hash, next_generation=True)
                return await self._create_owed(order, target, content_hash, binding, owed,
                                               "order edited after its sale was written (sync.on_edit: resync)")
            if edit is not None:
                self.d.store.open_exception(order.id, "edit", edit["summary"], before=edit["before"],
                                            after=edit["after"])
                why = edit["summary"] + "; recorded as an exception (sync.on_edit: exception)"
            if transition is Transition.NONE and current is PosState.VOIDED and has_sale \
                    and binding.bc_status_id == DECLINED and order.status_id in SHIPPED_OR_COMPLETED:
                self.d.store.open_exception(order.id, "status", shipped_after_declined(binding.invoice_number,
                                                                                        order.status_id))
                why += "; the goods may have left with no sale: recorded as an exception"
            # Settled even when edited too: recorded alone, the paid status would be stored as the one
            # the sale has, paid_since never true again, and the sale on account for good. But only
            # when the payment settles the sale as written: an edit that changed the amount would
            # close the old lines against the new payment; a person settles that one (an exception).
            owed = transition is Transition.NONE and current is PosState.CLOSED and on_account(binding)
            if owed and refunded(order):
                # Refunded, BigCommerce no longer says whether the rest was paid before: a person settles
                # it. Its refunds are returned as for any sale.
                why = (f"order refunded while sale {binding.invoice_number} is on account: BigCommerce does not"
                       " say whether it was paid before the refund; settle it in X-Series by hand")
                self.d.store.open_exception(order.id, "settle", why)
                why += "; recorded as an exception"
            elif owed and paid_since(order, binding, self.d.statuses):
                # Not when order-sync's own ID check made the move: no payment came. The new status is
                # recorded below, so the exception is opened once.
                kept = kept_on_account(order, binding, self.d.statuses, self.d.store)
                refused = kept or self._settle_refused(order, binding, content_hash)
                if refused is None:
                    return await self._settle(order, binding, content_hash)
                # One exception per sale owed: a re-opened sale's own (written on account) says it already.
                if not (kept and self.d.store.open_exception_naming(order.id, "settle", binding.invoice_number)):
                    self.d.store.open_exception(order.id, "settle", refused)
                why = refused + "; recorded as an exception"
            await self._record(order, binding, current if has_sale else PosState.NOT_IMPORTED, content_hash, why,
                               compared)
            if recovered:
                log.info("order %s: sale %s bound after a lost answer (%s)", order.id, binding.invoice_number,
                         binding.pos_state, extra={"order_id": order.id})
            return Outcome.RECOVERED if recovered else Outcome.RECORDED

    def _owed(self, order: Order, target: PosState, binding: OrderBinding | None) -> str | None:
        """Why the sale to write now is on account though the order's status says paid (the ID check's
        own move: no payment came), or None. The first (asked only when the check may have moved it), or
        one after a void (a retried check re-opened the order; an edit's resync retried)."""
        if binding is not None and binding.generation > 1:
            return later_sale_on_account(order, target, self.d.statuses, self.d.store, binding.invoice_number)
        if id_check_wrote(self.d.store, self.d.id_checks, self.d.id_check_known):
            return first_sale_on_account(order, target, self.d.statuses, self.d.store)
        return None

    async def _create_owed(self, order: Order, target: PosState, content_hash: str, binding: OrderBinding | None,
                           owed: str | None, why: str | None = None, after_lost: bool = False) -> Outcome:
        """_create; on account when `owed` says why, and then a settle exception says so. Once written:
        a write that fails is retried as it is then (the payment may be captured meanwhile); one whose
        answer is lost is told when its recovery binds it (mirror)."""
        outcome = await self._create(order, target, content_hash, binding, why, after_lost,
                                     on_account=owed is not None)
        if owed is not None:
            self.d.store.open_exception(order.id, "settle", owed)
        return outcome

    def _held_for_a_person(self, order_id: int) -> None:
        """An order parked by _same_sale stays so, whatever else happens to it (an edit, a webhook),
        until a person releases it (retry-failed): its pending write, settled, would be posted again."""
        failure = self.d.store.failure(order_id)
        if failure is not None and failure.parked and failure.step == OTHER_SALE:
            self.step = OTHER_SALE
            raise PermanentApiError(failure.reason, api="xseries", method="POST", path="/api/register_sales")

    def _edit(self, order: Order, binding: OrderBinding, content_hash: str) -> dict | None:
        """What an order edited after its sale was written changed (None: not edited). Told by the
        order's sale_content_hash, not by comparing the sale with a plan, so a sale written by an
        older version, or before a mapping changed, is not taken for an edit."""
        if not binding.sale_body or binding.sale_hash in (None, sale_content_hash(order)):
            return None
        self.step = "map"
        plan = plan_sale(order, self.d, binding.generation, content_hash)
        ids = {line.product_key: self.d.refs.discount_product_id if line.product_key == DISCOUNT_KEY
               else self._bound(line) for line in plan.lines}
        return sale_edit(RegisterSale.model_validate_json(binding.sale_body), plan, ids,
                         self.d.refs.line_prices_include_tax)

    def _bound(self, line: PlannedLine) -> str | None:
        """The product the line's key is bound to; a custom line's sale written before custom lines had
        keys of their own (custom:<sku>) bound its product under the SKU's (sku:<sku>)."""
        found = self.d.store.product_id(line.product_key)
        if found is None and line.product_key.startswith("custom:") and line.sku:
            found = self.d.store.product_id(product_key_for_sku(line.sku))
        return found

    async def _record(self, order: Order, binding: OrderBinding | None, state: PosState, content_hash: str,
                      why: str, compared: bool = False) -> None:
        """compared: the sale was checked for an edit (_edit) on this copy of the order."""
        store = self.d.store
        now = store.clock.now()
        before_status = binding.bc_status_id if binding else None
        if binding is None:
            binding = OrderBinding(
                bc_order_id=order.id, invoice_number=invoice_number(order.id), pos_state=state.value,
                bc_status_id=order.status_id, content_hash=content_hash,
                bc_date_modified=order.date_modified, created_at=now, updated_at=now,
            )
        binding.bc_status_id = order.status_id
        binding.content_hash = content_hash
        if compared:  # an edit is reported once; one made while not compared (back in Pending) waits
            binding.sale_hash = sale_content_hash(order)
        binding.bc_date_modified = order.date_modified
        binding.pos_state = binding.pos_state if binding.sale_id else state.value
        store.settle_order(binding, lease=self.lease, audit=dict(
            platform="connector", action="record", bc_order_id=order.id, target_id=binding.sale_id,
            reason=why, before=before_status, after=order.status_id,
        ))
