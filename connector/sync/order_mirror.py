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
from dataclasses import dataclass, field
from datetime import timedelta

from connector.clients.bigcommerce import BigCommerceClient
from connector.clients.bigcommerce_models import Order
from connector.clients.xseries import XSeriesClient
from connector.clients.xseries_sale_models import RegisterSale, Sale, WrittenSale
from connector.errors import ApiError, MappingError, PermanentApiError, TransientApiError, UnknownWriteOutcome
from connector.mapping.edits import sale_edit
from connector.mapping.identity import invoice_forms, invoice_number, order_content_hash, sale_content_hash
from connector.mapping.payment_table import PaymentTable
from connector.mapping.planned_sale import DISCOUNT_KEY, SalePlan
from connector.mapping.register_sale import (
    PosRefs,
    owed_on_settle,
    paid_now,
    refusal_fallbacks,
    register_sale,
    settled_on_account,
    total_gap,
    with_invoice_affixes,
    without_fulfilment,
)
from connector.mapping.sale_plan import build_sale_plan, target_state
from connector.mapping.special_lines import SpecialLines
from connector.mapping.status_table import PosState, StatusTable
from connector.store.repository import Store
from connector.store.tables import OrderBinding
from connector.sync.binders import CustomerBinder, not_there_yet
from connector.sync.latest_copy import latest_copy, maybe_stale
from connector.sync.page_bindings import PageBindings
from connector.sync.pending import find_sale, settle_pending
from connector.sync.product_binder import FamilyFacts, ProductBinder
from connector.sync.transitions import (
    RESYNC_VOID,
    Outcome,
    Transition,
    decide,
    next_generation_of,
    on_account,
    paid_since,
    up_to_date,
)

# The failed step of an order whose re-post was answered with another sale (_same_sale).
OTHER_SALE = "other_sale"
log = logging.getLogger("connector.sync")


@dataclass
class MirrorDeps:
    store: Store
    xs: XSeriesClient
    refs: PosRefs
    statuses: StatusTable
    payments: PaymentTable
    specials: SpecialLines
    bc: BigCommerceClient | None = None  # the catalogue, for variant families
    # What the cycle learns once about variant families (not once per order or missing variant).
    families: FamilyFacts = field(default_factory=FamilyFacts)
    # Refunded and Partially Refunded orders the cycle read: their refunds are priced from them
    # rather than from a read of each (issue 16: ≤ 0.01 BigCommerce calls per order).
    refunded_orders: dict[int, Order] = field(default_factory=dict)
    on_edit: str = "exception"  # sync.on_edit: an edit after the write is an exception, or resync
    restock: bool = True  # refunds.restock: returned units go back to stock
    walk_in_customer: str | None = None  # xseries.walk_in_customer: a customer_code (None: order-sync's own)
    lost_write_settle: timedelta = timedelta(seconds=30)  # sync.lost_write_settle_seconds


class OrderMirror:
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
            recovered = False
            if binding is not None and binding.pending_state is not None:
                self._held_for_a_person(order.id)
                self.step = "recover"
                binding = await settle_pending(self.d.store, self.d.xs, self.d.refs, binding,
                                               settle=self.d.lost_write_settle)
                recovered = binding.pending_state is None and binding.sale_id is not None
            has_sale = binding is not None and binding.sale_id is not None
            current = PosState(binding.pos_state) if has_sale else PosState.NOT_IMPORTED
            transition, why = decide(current, has_sale, target, order.status_id)
            if archived:
                why = "archived in BigCommerce: " + ("its sale stays as it is (archiving is not cancelling)"
                                                     if has_sale else "not mirrored")
            if transition is Transition.REOPEN:
                next_generation_of(binding)
                return await self._create(order, target, content_hash, binding, why)
            if transition is Transition.CREATE:
                return await self._create(order, target, content_hash, binding)
            if transition is Transition.VOID:
                return await self._void(order, binding, content_hash)
            edit = self._edit(order, binding, content_hash) if transition is Transition.NONE and has_sale \
                and current is PosState.CLOSED and target is PosState.CLOSED else None
            if edit is not None and self.d.on_edit == "resync":
                # Stock and money follow the edit: the sale is voided and the next generation written.
                await self._void(order, binding, content_hash, next_generation=True)
                return await self._create(order, target, content_hash, binding,
                                          "order edited after its sale was written (sync.on_edit: resync)")
            if edit is not None:
                self.d.store.open_exception(order.id, "edit", edit["summary"], before=edit["before"],
                                            after=edit["after"])
                why = edit["summary"] + "; recorded as an exception (sync.on_edit: exception)"
            # Settled even when edited too: recorded alone, the paid status would be stored as the one
            # the sale has, paid_since never true again, and the sale on account for good. The payment
            # is the order's as it is now (what BigCommerce took), as when the edit and the payment come
            # in two cycles; the edit's exception tells a person that the sale's lines differ.
            if transition is Transition.NONE and current is PosState.CLOSED and on_account(binding) \
                    and paid_since(order, binding, self.d.statuses):
                return await self._settle(order, binding, content_hash)
            await self._record(order, binding, current if has_sale else PosState.NOT_IMPORTED, content_hash, why)
            if recovered:
                log.info("order %s: sale %s bound after a lost answer (%s)", order.id, binding.invoice_number,
                         binding.pos_state, extra={"order_id": order.id})
            return Outcome.RECOVERED if recovered else Outcome.RECORDED

    def _numbered_itself(self, order_id: int, sale: Sale | WrittenSale, invoice: str) -> str | None:
        """The invoice number X-Series answered the sale with when it is none of ours (ours, or ours
        with the register's prefix/suffix): a server that numbers sales itself. The sale is still
        the one the write made and is bound; but a write whose answer is lost on such a server cannot
        be found by our number, so the operator is told (once a process) and the audit keeps it."""
        answered = (sale.invoice_number or "").strip()
        forms = {form.casefold() for form in invoice_forms(invoice, self.d.refs.invoice_affixes)}
        if not answered or answered.casefold() in forms:
            return None
        if not self.d.xs.numbers_sales_itself:
            self.d.xs.numbers_sales_itself = True
            log.warning("order %s: X-Series numbered sale %s %s itself, not %s as sent: it is bound from the answer,"
                        " but on a server that ignores the invoice number given (§8.2) a sale write whose answer is"
                        " lost cannot be found again by its number", order_id, sale.id, answered, invoice,
                        extra={"order_id": order_id})
        return answered

    def _same_sale(self, order_id: int, binding: OrderBinding, sale: Sale | WrittenSale, write: str) -> None:
        """A re-post of the order's sale (its id given, §8.3) answered with another sale: the server
        made a new sale instead of changing ours (ours keeps its state and stock). Written again, it
        would make one more each time: the order is parked (PermanentApiError) with its write still
        pending, and audited, for a person to look at both sales."""
        if sale.id == binding.sale_id:
            return
        why = (f"X-Series answered the {write} of sale {binding.sale_id} ({binding.invoice_number}) with another"
               f" sale, {sale.id}: it may have made a new sale rather than change ours; both are to be checked"
               f" in X-Series before the order is retried")
        self.d.store.audit(platform="xseries", action="other_sale_answered", bc_order_id=order_id,
                           target_id=sale.id, reason=why, before=binding.sale_id)
        self.step = OTHER_SALE
        raise PermanentApiError(why, api="xseries", method="POST", path="/api/register_sales")

    def _held_for_a_person(self, order_id: int) -> None:
        """An order parked by _same_sale stays so, whatever else happens to it (an edit, a webhook),
        until a person releases it (retry-failed): its pending write, settled, would be posted again."""
        failure = self.d.store.failure(order_id)
        if failure is not None and failure.parked and failure.step == OTHER_SALE:
            self.step = OTHER_SALE
            raise PermanentApiError(failure.reason, api="xseries", method="POST", path="/api/register_sales")

    # ---- writes -----------------------------------------------------------------------------
    async def _create(self, order: Order, target: PosState, content_hash: str,
                      binding: OrderBinding | None, why: str | None = None) -> Outcome:
        store, refs = self.d.store, self.d.refs
        self.step = "map"
        plan = plan_sale(order, self.d, binding.generation if binding else 1, content_hash)
        payment_type_ids: list[str] = []
        if target is PosState.CLOSED:
            payment_type_ids = [refs.payment_type_ids[t] for t in self.d.payments.targets(paid_now(plan), order.id)]
        self.step = "customer"
        # The order's cached products and customer, checked against the index's deletions at once.
        live_products, live_customer = store.live_cached(
            (line.product_key for line in plan.lines if line.product_key != DISCOUNT_KEY), plan.customer.email_key)
        customer_id = await self.customers.resolve(plan.customer, order.id, live_customer)
        if target is PosState.CLOSED and plan.unpaid and customer_id is None:
            # An unpaid order without an e-mail goes on account to the walk-in customer: whether X-Series
            # takes a CLOSED sale paid below its total is open (§13), and such a sale could never take
            # its payment when the order is paid (a closed sale only becomes voided).
            customer_id = await self.customers.walk_in(self.d.walk_in_customer, order.id)
        self.step = "products"
        product_ids: dict[str, str] = {}
        for line in plan.lines:
            if line.product_key not in product_ids:
                product_ids[line.product_key] = await self.products.resolve(line, order.id, live_products)
        body = register_sale(plan, target, refs, product_ids, customer_id, payment_type_ids)

        self.step = "write"
        now = store.clock.now()
        binding = binding or OrderBinding(
            bc_order_id=order.id, invoice_number=plan.invoice_number, pos_state=PosState.NOT_IMPORTED.value,
            bc_status_id=order.status_id, content_hash="", bc_date_modified=order.date_modified,
            created_at=now, updated_at=now,
        )
        binding.pending_state = target.value
        if self.d.xs.fulfilment_refused:
            body = without_fulfilment(body) or body
        if self.d.xs.invoices_affixed:
            body = with_invoice_affixes(body, refs.invoice_affixes) or body
        first = body
        fallbacks = refusal_fallbacks(body, without_fulfilment(body), refs.invoice_affixes)
        while True:
            # Serialized once: the binding keeps exactly the document that is sent.
            encoded = body.to_json()
            binding.sale_body = encoded.decode()
            binding = store.save_order_binding(binding)
            try:
                sale = await self.d.xs.create_sale_document(encoded, answer=WrittenSale)
            except UnknownWriteOutcome as exc:
                sale = await self._find_sale(plan.invoice_number)
                if sale is None:  # the binding stays pending: the next attempt looks again before creating
                    raise not_there_yet("the sale write", f"no sale {plan.invoice_number}", exc) from exc
                log.info("order %s: sale write answer lost, found sale %s", order.id, sale.id)
            except ApiError as exc:
                if exc.status in (400, 422) and fallbacks:  # refused, so nothing was written: once more
                    body = fallbacks.pop(0)
                    log.warning("order %s: X-Series refused the sale (%s); posting it once more %s", order.id, exc,
                                _changed(first, body), extra={"order_id": order.id})
                    continue
                # The write was refused or never sent (4xx, 429s exhausted, connection refused):
                # nothing exists in X-Series, so the binding is no longer pending. Any other error
                # (an answer that cannot be read, a bug, a cancellation) may follow an applied write:
                # the binding stays pending and the sale is looked up before any new write.
                binding.pending_state = None
                store.save_order_binding(binding)
                raise
            break
        # Taken changed after a refusal: the change was the reason, so the rest go so at once. Kept on
        # the client, which lives as long as the process's Runtime of this pair (MirrorDeps is per cycle).
        self.d.xs.fulfilment_refused |= body.register_sale_attributes != first.register_sale_attributes
        self.d.xs.invoices_affixed |= body.invoice_number != first.invoice_number
        if isinstance(sale, WrittenSale):  # the answer's line ids, for a later void (not a lookup's)
            binding.sale_body = sale.ids_into(body).to_json().decode()
        numbered = self._numbered_itself(order.id, sale, plan.invoice_number)
        self._bind(binding, order, sale.id, target, content_hash)
        store.settle_order(binding, lease=self.lease, audit=dict(
            platform="xseries", action="create_sale", bc_order_id=order.id, target_id=sale.id,
            reason=why or f"BigCommerce status {order.status_id} ({order.status}) → {target.value}",
            before=None, after=body.status,
            detail={"invoice_number": plan.invoice_number, "total": str(plan.total_inc_tax),
                    "lines": len(plan.lines), "unpaid": plan.unpaid, "tenders": [p.tender for p in plan.payments],
                    # Lines whose rate X-Series has no tax for, on the default tax (issue 15, point 3).
                    "default_tax_lines": [line.sku for line in plan.lines if line.tax_source == "default"],
                    **({"answered_invoice_number": numbered} if numbered else {})},
        ))
        # One INFO line per order written (issue 14): what an operator greps the daemon's log for.
        log.info("order %s: sale %s created %s", order.id, plan.invoice_number, body.status,
                 extra={"order_id": order.id})
        gap = total_gap(body, sale.total_price, sale.total_tax) if isinstance(sale, WrittenSale) else None
        if gap is not None:  # the sale exists and stays bound: a person must look at its money
            why = (f"X-Series totals sale {plan.invoice_number} {gap:+.2f} away from its lines; if the "
                   "retailer is tax-inclusive, X-Series may read line prices as tax-inclusive")
            log.error("order %s: %s", order.id, why, extra={"order_id": order.id})
            store.open_exception(order.id, "amount", why, after=str(sale.total_price + sale.total_tax))
        return Outcome.CREATED

    def _edit(self, order: Order, binding: OrderBinding, content_hash: str) -> dict | None:
        """What an order edited after its sale was written changed (None: not edited). Told by the
        order's sale_content_hash, not by comparing the sale with a plan, so a sale written by an
        older version, or before a mapping changed, is not taken for an edit."""
        if not binding.sale_body or binding.sale_hash in (None, sale_content_hash(order)):
            return None
        self.step = "map"
        plan = plan_sale(order, self.d, binding.generation, content_hash)
        ids = {line.product_key: self.d.refs.discount_product_id if line.product_key == DISCOUNT_KEY
               else self.d.store.product_id(line.product_key) for line in plan.lines}
        return sale_edit(RegisterSale.model_validate_json(binding.sale_body), plan, ids)

    async def _void(self, order: Order, binding: OrderBinding, content_hash: str, *,
                    next_generation: bool = False) -> Outcome:
        """Re-post the sale as VOIDED. next_generation (an edit with sync.on_edit: resync): the
        binding moves on to the next generation, with no sale yet and the order's lease still
        held, in the same transaction, so a create that fails after the void is retried as a create."""
        store = self.d.store
        self.step = "write"
        body = RegisterSale.model_validate_json(binding.sale_body) if binding.sale_body else None
        if body is None:
            raise TransientApiError(
                f"sale {binding.sale_id} has no recorded body to void", api="xseries",
                method="POST", path="/api/register_sales",
            )
        before = body.status
        voided = body.model_copy(update={
            "id": binding.sale_id, "status": "VOIDED", "state": "voided",
            "register_sale_attributes": [], "register_sale_payments": [],
        })
        # A resync's void says so while pending: if its answer is lost, the recovery still moves the
        # binding on to the next generation (a Completed order would otherwise keep only a void).
        binding.pending_state = RESYNC_VOID if next_generation else PosState.VOIDED.value
        store.save_order_binding(binding)
        # A re-post of the whole sale as VOIDED sets the same final state when repeated: the
        # client marks it safe to repeat, so lost answers are retried rather than left unknown.
        encoded = voided.to_json()
        sale = await self.d.xs.update_sale(voided, encoded=encoded, answer=WrittenSale)
        self._same_sale(order.id, binding, sale, "void")
        binding.sale_body = encoded.decode()
        self._bind(binding, order, sale.id, PosState.VOIDED, content_hash)
        reason = f"BigCommerce status {order.status_id} ({order.status}) → voided"
        if next_generation:
            next_generation_of(binding)
            reason = "order edited after its sale was written (sync.on_edit: resync): voided, then written again"
        store.settle_order(binding, lease=None if next_generation else self.lease, audit=dict(
            platform="xseries", action="void_sale", bc_order_id=order.id, target_id=sale.id,
            reason=reason, before=before, after="VOIDED",
        ))
        log.info("order %s: sale %s voided (was %s)", order.id, binding.invoice_number, before,
                 extra={"order_id": order.id})
        return Outcome.VOIDED

    async def _settle(self, order: Order, binding: OrderBinding, content_hash: str) -> Outcome:
        """Payment captured later (issue 16, point 2): the ONACCOUNT sale, re-posted whole with its
        payments as ONACCOUNT_CLOSED. Not repeated blindly: X-Series refuses to change a closed
        sale, so a lost answer is settled by looking the sale up (settle_pending)."""
        store, refs = self.d.store, self.d.refs
        self.step = "map"
        plan = plan_sale(order, self.d, binding.generation, content_hash)
        sent = RegisterSale.model_validate_json(binding.sale_body)
        type_ids = [refs.payment_type_ids[t] for t in self.d.payments.targets(owed_on_settle(sent, plan), order.id)]
        body = settled_on_account(sent, binding.sale_id, plan, refs, type_ids, order.date_modified)
        self.step = "write"
        binding.pending_state = PosState.CLOSED.value
        store.save_order_binding(binding)
        encoded = body.to_json()
        try:
            sale = await self.d.xs.update_sale(body, encoded=encoded, answer=WrittenSale, safe_to_repeat=False)
        except UnknownWriteOutcome as exc:
            sale = await self._find_sale(binding.invoice_number)
            if sale is None or sale.status_code == "ONACCOUNT":  # left pending, looked at again
                raise not_there_yet("the payment write", f"no closed sale {binding.invoice_number}", exc) from exc
        except ApiError:
            binding.pending_state = None  # refused or never sent: the sale is as it was
            store.save_order_binding(binding)
            raise
        self._same_sale(order.id, binding, sale, "payment")
        binding.sale_body = encoded.decode()
        self._bind(binding, order, sale.id, PosState.CLOSED, content_hash)
        store.settle_order(binding, lease=self.lease, audit=dict(
            platform="xseries", action="settle_sale", bc_order_id=order.id, target_id=sale.id,
            reason=f"BigCommerce order paid ({order.status}, payment {order.payment_status or 'captured'});"
                   " the on-account sale gets its payments",
            before="ONACCOUNT", after="ONACCOUNT_CLOSED",
            detail={"payments": [str(p.amount) for p in plan.payments], "tenders": [p.tender for p in plan.payments]},
        ))
        log.info("order %s: sale %s paid and closed (ONACCOUNT_CLOSED)", order.id, binding.invoice_number,
                 extra={"order_id": order.id})
        return Outcome.SETTLED

    # ---- helpers ----------------------------------------------------------------------------
    async def _find_sale(self, invoice: str) -> Sale | None:
        return await find_sale(self.d.xs, self.d.refs, invoice)

    @staticmethod
    def _bind(binding: OrderBinding, order: Order, sale_id: str, state: PosState, content_hash: str) -> None:
        """The binding after a write (saved by the caller with its audit entry)."""
        binding.sale_id = sale_id
        binding.pos_state = state.value
        binding.pending_state = None
        binding.bc_status_id = order.status_id
        binding.content_hash = content_hash
        binding.sale_hash = sale_content_hash(order)
        binding.bc_date_modified = order.date_modified

    async def _record(self, order: Order, binding: OrderBinding | None, state: PosState, content_hash: str,
                      why: str) -> None:
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
        binding.sale_hash = sale_content_hash(order)  # an edit is reported once
        binding.bc_date_modified = order.date_modified
        binding.pos_state = binding.pos_state if binding.sale_id else state.value
        store.settle_order(binding, lease=self.lease, audit=dict(
            platform="connector", action="record", bc_order_id=order.id, target_id=binding.sale_id,
            reason=why, before=before_status, after=order.status_id,
        ))


def _changed(first: RegisterSale, body: RegisterSale) -> str:
    """How a sale posted again after a refusal differs from the one refused first."""
    changes = []
    dropped = [a for a in first.register_sale_attributes or [] if a not in (body.register_sale_attributes or [])]
    if dropped:
        changes.append(f"without its {'/'.join(dropped)} attribute")
    if body.invoice_number != first.invoice_number:
        changes.append(f"as invoice {body.invoice_number} (the register's prefix/suffix)")
    return " and ".join(changes)


def plan_sale(order: Order, deps: MirrorDeps, generation: int = 1, content_hash: str | None = None) -> SalePlan:
    """The order's SalePlan against this retailer; MappingError (parked) when the order is in a
    currency the register does not keep: it is never posted as if it were the same money."""
    plan = build_sale_plan(order, deps.statuses, deps.specials, deps.refs.tax_book, generation, content_hash)
    currency = deps.refs.currency
    if plan.currency and currency and plan.currency.upper() != currency.upper():
        raise MappingError(f"the order is in {plan.currency} but X-Series keeps {currency}; mirror it by hand"
                           " or convert it in BigCommerce", order_id=order.id, kind="currency")
    return plan
