"""The order mirror's writes to X-Series: a sale created, voided or paid, pending until answered.

A mixin of OrderMirror (connector.sync.order_mirror), which gives it `d`, `step`, `lease` and the binders."""

from __future__ import annotations

import logging

from connector.clients.bigcommerce_models import Order
from connector.clients.xseries_sale_models import RegisterSale, Sale, WrittenSale
from connector.errors import ApiError, PermanentApiError, TransientApiError, UnknownWriteOutcome
from connector.mapping.identity import sale_content_hash
from connector.mapping.register_sale import (
    changed_on_refusal,
    owed_on_settle,
    paid_now,
    refusal_fallbacks,
    register_sale,
    settle_shortfall,
    settled_on_account,
    total_gap,
    with_invoice_affixes,
    without_fulfilment,
)
from connector.mapping.line_prices import misread_refusal, misread_tax
from connector.mapping.planned_sale import DISCOUNT_KEY
from connector.mapping.status_table import PosState
from connector.store.tables import OrderBinding
from connector.sync.binders import not_there_yet
from connector.sync.mirror_deps import plan_sale
from connector.sync.pending import (
    Posted,
    find_sale,
    landed_already,
    names_duplicate_source_id,
    posted,
    read_by_id,
    voided_already,
)
from connector.sync.refund_pass import record_refunds_before
from connector.sync.sale_answers import SaleAnswers
from connector.sync.settled_by_hand import bind_paid_by_hand, closed_by_hand
from connector.sync.transitions import RESYNC_VOID, Outcome, next_generation_of

log = logging.getLogger("connector.sync")


class SaleWrites(SaleAnswers):
    # ---- writes -----------------------------------------------------------------------------
    async def _create(self, order: Order, target: PosState, content_hash: str,
                      binding: OrderBinding | None, why: str | None = None, after_lost: bool = False,
                      on_account: bool = False) -> Outcome:
        """on_account: written unpaid whatever the order's status says (plan_sale)."""
        store, refs = self.d.store, self.d.refs
        self.step = "map"
        plan = plan_sale(order, self.d, binding.generation if binding else 1, content_hash, on_account)
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

        if binding is None or binding.sale_id is None and binding.generation == 1:
            self.step = "refunds"
            await record_refunds_before(self.d, order)
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
                sale = await self.d.xs.create_sale_document(encoded, answer=WrittenSale, before_send=self._held)
            except UnknownWriteOutcome as exc:
                sale = await self._find_sale(plan.invoice_number, sent=self._sent(binding))
                if sale is None:  # the binding stays pending: the next attempt looks again before creating
                    raise not_there_yet("the sale write", f"no sale {plan.invoice_number}", exc) from exc
                log.info("order %s: sale write answer lost, found sale %s", order.id, sale.id)
            except ApiError as exc:
                if after_lost and names_duplicate_source_id(exc):  # ours landed: found, or looked for again
                    sale = await landed_already(self.d.xs, self.d.refs, plan.invoice_number, self._sent(binding), exc)
                    break
                if exc.status in (400, 422) and fallbacks:  # refused, so nothing was written: once more
                    body = fallbacks.pop(0)
                    log.warning("order %s: X-Series refused the sale (%s); posting it once more %s", order.id, exc,
                                changed_on_refusal(first, body), extra={"order_id": order.id})
                    continue
                # The write was refused or never sent (4xx, 429s exhausted, connection refused):
                # nothing exists in X-Series, so the binding is no longer pending. Any other error
                # (an answer that cannot be read, a bug, a cancellation) may follow an applied write:
                # the binding stays pending and the sale is looked up before any new write.
                binding.pending_state = None
                store.save_order_binding(binding)
                raise misread_refusal(exc, body, refs.line_prices_include_tax) or exc
            break
        # Taken changed after a refusal: the change was the reason, so the rest go so at once. Kept on
        # the client, which lives as long as the process's Runtime of this pair (MirrorDeps is per cycle).
        self.d.xs.fulfilment_refused |= body.register_sale_attributes != first.register_sale_attributes
        self.d.xs.invoices_affixed |= body.invoice_number != first.invoice_number
        # The ids of the sale's lines and payments, the answer's or the look-up's, for a later void (§8.3).
        binding.sale_body = WrittenSale.of(sale).ids_into(body).to_json().decode()
        numbered = self._numbered_itself(order.id, sale, plan.invoice_number)
        self._bind(binding, order, sale.id, target, content_hash)
        store.settle_order(binding, lease=self.lease, audit=dict(
            platform="xseries", action="create_sale", bc_order_id=order.id, target_id=sale.id,
            reason=why or f"BigCommerce status {order.status_id} ({order.status}) → {target.value}",
            before=None, after=body.status,
            detail={"invoice_number": plan.invoice_number, "total": str(plan.total_inc_tax),
                    "bc_status_id": order.status_id,  # the status it saw (id_check_moves.mirror_saw)
                    "lines": len(plan.lines), "unpaid": plan.unpaid, "tenders": [p.tender for p in plan.payments],
                    # Lines whose rate X-Series has no tax for, on the default tax (issue 15, point 3).
                    "default_tax_lines": [line.sku for line in plan.lines if line.tax_source == "default"],
                    **({"answered_invoice_number": numbered} if numbered else {})},
        ))
        # One INFO line per order written (issue 14): what an operator greps the daemon's log for.
        log.info("order %s: sale %s created %s", order.id, plan.invoice_number, body.status,
                 extra={"order_id": order.id})
        inclusive = refs.line_prices_include_tax
        gap = total_gap(body, sale.total_price, sale.total_tax, inclusive) if isinstance(sale, WrittenSale) else None
        if gap is not None:  # the sale exists and stays bound: a person must look at its money
            why = (f"X-Series totals sale {plan.invoice_number} {gap:+.2f} away from its lines; " + (misread_tax(
                body, sale.total_price + sale.total_tax, inclusive) or "if the retailer is tax-inclusive, "
                "X-Series may read line prices as tax-inclusive"))
            log.error("order %s: %s", order.id, why, extra={"order_id": order.id})
            store.open_exception(order.id, "amount", why, after=str(sale.total_price + sale.total_tax))
        return Outcome.CREATED

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
        try:
            sale = await self.d.xs.update_sale(voided, encoded=encoded, answer=WrittenSale, before_send=self._held)
        except PermanentApiError as exc:
            # Our sale read voided is the void done (a repeat refused); read otherwise, the refusal
            # stands; unread, the void stays pending (voided_already).
            try:
                sale = await voided_already(self.d.xs, binding.sale_id, exc, f"sale {binding.invoice_number}")
            except PermanentApiError:
                # Refused for good, and the sale is not voided: it stands as it was, and so must its
                # binding, or its refunds (their returns voided first) would wait on it for ever.
                binding.pending_state = None
                store.save_order_binding(binding)
                raise
            log.info("order %s: X-Series refused the void of sale %s (%s), which is voided already", order.id,
                     binding.sale_id, exc, extra={"order_id": order.id})
        self._same_sale(order.id, binding, sale, "void")
        binding.sale_body = encoded.decode()
        self._bind(binding, order, sale.id, PosState.VOIDED, content_hash)
        reason = f"BigCommerce status {order.status_id} ({order.status}) → voided"
        # On account, its settle exceptions ask for a payment no longer owed.
        invoice = binding.invoice_number
        owed = (invoice, f"order-sync: sale {invoice} voided") if before == "ONACCOUNT" else None
        if next_generation:
            next_generation_of(binding)
            reason = "order edited after its sale was written (sync.on_edit: resync): voided, then written again"
        store.settle_order(binding, lease=None if next_generation else self.lease, owed_over=owed, audit=dict(
            platform="xseries", action="void_sale", bc_order_id=order.id, target_id=sale.id,
            reason=reason, before=before, after="VOIDED", detail={"bc_status_id": order.status_id},
        ))
        log.info("order %s: sale %s voided (was %s)", order.id, binding.invoice_number, before,
                 extra={"order_id": order.id})
        return Outcome.VOIDED

    def _settle_refused(self, order: Order, binding: OrderBinding, content_hash: str) -> str | None:
        """Why the order's payment cannot close its on-account sale (register_sale.settle_shortfall:
        edited since the sale was written, it pays another amount), or None when it can."""
        plan = plan_sale(order, self.d, binding.generation, content_hash)
        short = settle_shortfall(RegisterSale.model_validate_json(binding.sale_body),
                                 owed_on_settle(RegisterSale.model_validate_json(binding.sale_body), plan),
                                 self.d.refs.line_prices_include_tax)
        if short is None:
            return None
        return (f"paid {short[0]} against {short[1]} unpaid on sale {binding.invoice_number} (the order was edited"
                " after its sale was written): the sale stays on account; settle it in X-Series by hand")

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
        # The body replaces the sale whole: staff may have put it on another customer in the POS since
        # it was written, so it keeps the customer it has now (unread: the one it was written with).
        live, _ = await read_by_id(self.d.xs, binding.sale_id)
        if live is not None and live.id == binding.sale_id and closed_by_hand(live.status_code):
            self._bind(binding, order, live.id, PosState.CLOSED, content_hash)
            return bind_paid_by_hand(store, self.lease, order, binding, live.status_code)
        if live is not None and live.customer_id:
            body = body.model_copy(update={"customer_id": live.customer_id})
        self.step = "write"
        binding.pending_state = PosState.CLOSED.value
        store.save_order_binding(binding)
        encoded = body.to_json()
        try:
            sale = await self.d.xs.update_sale(body, encoded=encoded, answer=WrittenSale, safe_to_repeat=False,
                                               before_send=self._held)
        except UnknownWriteOutcome as exc:
            sale = await find_sale(self.d.xs, self.d.refs, binding.invoice_number, sent=self._sent(binding),
                                   known=binding.sale_id)
            if sale is None or sale.status_code == "ONACCOUNT":  # left pending, looked at again
                raise not_there_yet("the payment write", f"no closed sale {binding.invoice_number}", exc) from exc
        except ApiError as exc:
            binding.pending_state = None  # refused or never sent: the sale is as it was
            store.save_order_binding(binding)
            raise misread_refusal(exc, body, refs.line_prices_include_tax) or exc
        self._same_sale(order.id, binding, sale, "payment")
        binding.sale_body = encoded.decode()
        self._bind(binding, order, sale.id, PosState.CLOSED, content_hash)
        settled = (binding.invoice_number, f"order-sync: sale {binding.invoice_number} settled")
        store.settle_order(binding, lease=self.lease, owed_over=settled, audit=dict(
            platform="xseries", action="settle_sale", bc_order_id=order.id, target_id=sale.id,
            reason=f"BigCommerce order paid ({order.status}, payment_status {order.payment_status!r});"
                   " the on-account sale gets its payments",
            before="ONACCOUNT", after="ONACCOUNT_CLOSED",
            detail={"payments": [str(p.amount) for p in plan.payments], "tenders": [p.tender for p in plan.payments]},
        ))
        log.info("order %s: sale %s paid and closed (ONACCOUNT_CLOSED)", order.id, binding.invoice_number,
                 extra={"order_id": order.id})
        return Outcome.SETTLED

    # ---- helpers ----------------------------------------------------------------------------
    async def _held(self) -> None:
        """Each sale write's before_send: nothing goes out once the order's lease may have lapsed
        (Leases.confirm); the binding stays pending, and whoever holds the lease next settles it."""
        await self.d.store.leases.before_send(self.lease, self.d.lease_margin)()

    async def _find_sale(self, invoice: str, sale_id: str | None = None, sent: Posted | None = None) -> Sale | None:
        return await find_sale(self.d.xs, self.d.refs, invoice, sale_id, sent)

    def _sent(self, binding: OrderBinding) -> Posted | None:  # the write kept with its pending state
        return posted(binding.sale_body, binding.updated_at, self.d.store.clock.now())

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

