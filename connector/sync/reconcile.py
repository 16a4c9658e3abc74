"""Reconcile and recover (issue 16, point 6): BigCommerce orders against the register's X-Series
sales, what drifted, and what can safely be repaired.

Ours are the register's sales whose invoice is BC-<order>[-<generation>] (source BIGCOMMERCE when
the sale says); returns (BC-<order>-R<refund>) are the refunds' business. Drift per order: a sale
missing, two live sales, a sale in the wrong state (one the status table would write: void or
re-open), an amount that is not the order's, a sale the store does not know (unbound), and a sale
of ours whose order does not exist. `adopt` binds the unbound sales (no second sale is written);
`fix` mirrors missing orders and voids closed sales that should be voided, and opens the rest as
exceptions for a person. Mirroring a past order moves stock: unless the historical import is
enabled, an order the daemon never read (last changed before its first window) with no sale is no
drift but expected, counted apart, and `fix` leaves it alone.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from connector.clients.bigcommerce_models import Order
from connector.clients.xseries_sale_models import RegisterSale, RegisterSalePayment, RegisterSaleProduct, Sale
from connector.errors import LostStateError, NotFoundError
from connector.mapping.amounts import cents
from connector.mapping.register_sale import SOURCE
from connector.mapping.identity import invoice_number, order_content_hash, sale_content_hash, without_affixes
from connector.mapping.status_table import PosState
from connector.runtime import Runtime
from connector.store.repository import ORDERS_START_CURSOR
from connector.store.tables import OrderBinding
from connector.sync.cycle_report import CycleReport
from connector.sync.go_live import left_before
from connector.sync.order_mirror import Transition, decide
from connector.sync.pending import find_sale

log = logging.getLogger("connector.sync")

OURS = re.compile(r"^BC-(\d+)(?:-(\d+))?$")
# The newest orders the lost-state check samples: downtime of up to this many orders is still told.
LOST_STATE_PAGE = 50


@dataclass(frozen=True)
class Drift:
    kind: str  # missing | duplicate | wrong_state | amount | unbound | orphan
    bc_order_id: int
    detail: str
    sale_ids: tuple[str, ...] = ()
    due: str = ""  # wrong_state: the write the status table calls for (void | reopen)


@dataclass
class ReconcileReport:
    orders: int = 0
    sales: int = 0
    drift: list[Drift] = field(default_factory=list)
    adopted: list[int] = field(default_factory=list)
    fixed: list[int] = field(default_factory=list)
    # Orders --fix could not mirror → why (recorded in the failed queue, as the sync cycle records them).
    failed: dict[int, str] = field(default_factory=dict)
    exceptions: int = 0
    # Orders with no sale that are no drift: placed (and last changed) before going live, the
    # historical import's business, which is off.
    before_go_live: list[int] = field(default_factory=list)


class Reconciler:
    def __init__(self, runtime: Runtime) -> None:
        self.r = runtime

    async def run(self, since: datetime | None, until: datetime | None, *, adopt: bool = False,
                  fix: bool = False) -> ReconcileReport:
        report = ReconcileReport()
        orders = {o.id: o async for o in self.r.bc.iter_orders_created(
            since, until, on_invalid=lambda exc, raw: log.warning("reconcile: %s", exc))}
        sales = await self._our_sales()
        report.orders, report.sales = len(orders), sum(len(v) for v in sales.values())
        for order_id, order in sorted(orders.items()):
            report.drift += self._drift(order, sales.get(order_id, []))
        self._set_aside_the_past(report, orders)
        for order_id in sorted(set(sales) - set(orders)):
            if any(_within(s.sale_date, since, until) for s in sales[order_id]) and await self._gone(order_id):
                report.drift.append(Drift("orphan", order_id, "a sale of ours whose BigCommerce order does not"
                                          " exist", tuple(s.id for s in sales[order_id])))
        if adopt:
            for d in [d for d in report.drift if d.kind == "unbound"]:
                self._adopt(orders[d.bc_order_id], sales[d.bc_order_id])
                report.adopted.append(d.bc_order_id)
        if fix:
            await self._fix(report, orders)
        return report

    async def _our_sales(self) -> dict[int, list[Sale]]:
        """The register's sales of ours (not returns) by order id, oldest generation first."""
        found: dict[int, list[Sale]] = defaultdict(list)
        async for page in self.r.xs.iter_sales():
            for sale in page.items:
                match = OURS.match(without_affixes(sale.invoice_number or "", self.r.refs.invoice_affixes))
                if match and sale.register_id in (None, self.r.refs.register_id) and not sale.return_for \
                        and (sale.source or SOURCE).upper() == SOURCE:
                    found[int(match.group(1))].append(sale)
        for items in found.values():
            items.sort(key=lambda sale: _generation(sale, self.r.refs.invoice_affixes))
        return found

    def _drift(self, order: Order, sales: list[Sale]) -> list[Drift]:
        target = self.r.tables.statuses.pos_state(order.status_id)
        ids = tuple(s.id for s in sales)
        if not sales:
            if target in (PosState.CLOSED, PosState.VOIDED):
                return [Drift("missing", order.id, f"{order.status} order with no sale in X-Series")]
            return []
        found: list[Drift] = []
        live = [s for s in sales if not _voided(s)]
        if len(live) > 1:
            found.append(Drift("duplicate", order.id, f"{len(live)} live sales for one order", tuple(s.id for s in live)))
        latest = sales[-1]
        binding = self.r.store.order_binding(order.id)
        if binding is None or binding.sale_id != latest.id:
            found.append(Drift("unbound", order.id, f"sale {latest.invoice_number} is not bound in the store", ids))
        current = PosState.VOIDED if _voided(latest) else PosState.CLOSED
        transition, _ = decide(current, True, target or current, order.status_id)
        if transition in (Transition.VOID, Transition.REOPEN):
            found.append(Drift("wrong_state", order.id, f"sale {latest.invoice_number} is {latest.status_code} but the"
                               f" order is {order.status}", (latest.id,), due=transition.value))
        total = latest.total_including_tax
        if current is PosState.CLOSED and total is not None and cents(total) != cents(order.total_inc_tax):
            found.append(Drift("amount", order.id, f"sale {latest.invoice_number} totals {cents(total)}, the order"
                               f" {cents(order.total_inc_tax)}", (latest.id,)))
        return found

    def _set_aside_the_past(self, report: ReconcileReport, orders: dict[int, Order]) -> None:
        """Unless the historical import is enabled, an order the daemon never read has no sale by
        design (mirroring it moves stock): not drift, else a monitoring job's reconcile fails from day
        one for as long as that history exists. Counted apart."""
        if self.r.settings.historical_import.enabled or not any(d.kind == "missing" for d in report.drift):
            return
        go_live = self._go_live()
        missing = [d.bc_order_id for d in report.drift if d.kind == "missing"]
        # A sale order-sync wrote (an import's) that is gone is drift whenever its order was placed.
        written = {i for i, b in self.r.store.order_bindings(missing).items() if b.sale_id}
        # Never read by the daemon, or shipped before go-live: the sync's mirror refuses it too (go_live).
        report.before_go_live = [i for i in missing if i not in written and (
            orders[i].date_modified < go_live or left_before(orders[i], go_live))]
        past = set(report.before_go_live)
        report.drift = [d for d in report.drift if d.kind != "missing" or d.bc_order_id not in past]

    def _go_live(self) -> datetime:
        """Where the daemon's first window began (sync.start_at or its first run's now, less the
        overlap): an order last changed before it was never the daemon's to mirror. Never synced:
        now, every order is from before."""
        store = self.r.store
        return store.first_window_start("sync") or store.cursor(ORDERS_START_CURSOR) or store.clock.now()

    async def _gone(self, order_id: int) -> bool:
        # The order itself, not its parts: one whose /products could not be read is left out of the
        # listing (on_invalid), and a 404 there is no deleted order.
        try:
            await self.r.bc.get_order_status(order_id)
        except NotFoundError:
            return True
        return False

    def _adopt(self, order: Order, sales: list[Sale]) -> None:
        """Bind the order's latest sale as if order-sync had just written it (no X-Series write).
        A sale in another state than the order calls for is left for the next sync to settle."""
        store, latest = self.r.store, sales[-1]
        state = PosState.VOIDED if _voided(latest) else PosState.CLOSED
        transition, _ = decide(state, True, self.r.tables.statuses.pos_state(order.status_id) or state, order.status_id)
        now = store.clock.now()
        binding = store.order_binding(order.id) or OrderBinding(
            bc_order_id=order.id, invoice_number=latest.invoice_number, pos_state=state.value,
            bc_status_id=order.status_id, content_hash="", bc_date_modified=order.date_modified,
            created_at=now, updated_at=now)
        binding.generation = _generation(latest, self.r.refs.invoice_affixes)
        binding.invoice_number = invoice_number(order.id, binding.generation)
        binding.sale_id, binding.pos_state, binding.pending_state = latest.id, state.value, None
        binding.sale_body = _body_of(latest).to_json().decode()
        binding.bc_status_id, binding.bc_date_modified = order.status_id, order.date_modified
        binding.sale_hash = sale_content_hash(order)
        # Up to date only when nothing is due; else the next sync decides again (void, re-open).
        binding.content_hash = order_content_hash(order) if transition is Transition.NONE else ""
        store.settle_order(binding, audit=dict(
            platform="connector", action="adopt_sale", bc_order_id=order.id, target_id=latest.id,
            reason="reconcile --adopt: the sale exists in X-Series but the store did not know it",
            after=latest.status_code))

    async def _fix(self, report: ReconcileReport, orders: dict[int, Order]) -> None:
        # The cycle's own mirroring: a refused order (a currency, a mapping, a 422) is recorded as failed
        # and parked as the daemon would, and the drift after it is still fixed.
        cycle, mirrored = self.r.cycle(), CycleReport()
        for d in report.drift:
            # Read and saved under the order's lease: saved from an earlier read, the binding would wipe
            # a sale the daemon bound meanwhile (written again by the mirror below: a second sale).
            due = d.kind == "missing" or d.due == Transition.VOID.value
            if due:
                async with self.r.store.leases.hold(f"order:{d.bc_order_id}"):
                    bound = self.r.store.order_binding(d.bc_order_id)
                    due = d.kind == "missing" or (bound is not None and bound.sale_id == d.sale_ids[0])
                    if due and bound is not None:  # decide again from X-Series' state, not the recorded hash
                        bound.content_hash = ""
                        self.r.store.save_order_binding(bound)
            if due:
                written = mirrored.written
                if await cycle.mirror_one(orders[d.bc_order_id], mirrored) is None:
                    report.failed[d.bc_order_id] = mirrored.failed[d.bc_order_id]
                elif mirrored.written > written:  # fixed only when a sale was written or voided
                    report.fixed.append(d.bc_order_id)
            elif d.kind != "unbound" or d.bc_order_id not in report.adopted:
                report.exceptions += self.r.store.open_exception(d.bc_order_id, "drift", f"{d.kind}: {d.detail}",
                                                                 after=list(d.sale_ids)) is not None


async def refuse_lost_state(runtime: Runtime) -> None:
    """On a store with no bindings (a first run, or a state database lost), look up the sales of two
    mirrorable orders among the newest 50: if X-Series has either, the state was lost, and syncing
    would create every sale a second time. The newest one, and the oldest of the page: orders placed
    while order-sync was down with its database gone have no sale yet, the ones before them do.
    Costs one BigCommerce call and two to eight X-Series calls (each sale looked up with and without
    the register's invoice prefix, each by its key and, not found, by free text), only then."""
    if runtime.store.count_bindings_by_state():
        return
    statuses = runtime.tables.statuses
    mirrorable = [order_id for order_id, status_id in await runtime.bc.newest_orders(limit=LOST_STATE_PAGE)
                  if statuses.pos_state(status_id) in (PosState.CLOSED, PosState.VOIDED)]
    for order_id in dict.fromkeys(mirrorable[:1] + mirrorable[-1:]):  # newest, then oldest, once each
        existing = await find_sale(runtime.xs, runtime.refs, invoice_number(order_id))
        if existing is not None and (others := runtime.store.other_pairs_with_bindings()):
            names = ", ".join(repr(name) for name in others)
            raise LostStateError(
                f"the state database holds no state for pair {runtime.store.pair!r} but holds state for pair(s)"
                f" {names}, and X-Series already holds sale {existing.invoice_number} of order {order_id}:"
                f" was the pair renamed? name it {others[0]!r} to keep its state (adopting the sales under"
                f" {runtime.store.pair!r} would bind them apart from that state)")
        if existing is not None:
            raise LostStateError(
                f"the state database is empty but X-Series already holds sale {existing.invoice_number}"
                f" of order {order_id}: run `order-sync reconcile --adopt` to bind the sales that exist"
                " before syncing (else every sale would be created a second time)")


def _generation(sale: Sale, affixes: tuple[str, str]) -> int:
    match = OURS.match(without_affixes(sale.invoice_number or "", affixes))
    return int(match.group(2)) if match and match.group(2) else 1


def _voided(sale: Sale) -> bool:
    return sale.status_code == "VOIDED"


def _within(when: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    return when is None or ((since is None or when >= since) and (until is None or when <= until))


def _body_of(sale: Sale) -> RegisterSale:
    """The 0.9 body of a sale read back (2.0 names), kept as an adopted binding's sale_body: what a
    later void re-posts."""
    return RegisterSale(
        register_id=sale.register_id or "", user_id=sale.user_id or "", customer_id=sale.customer_id,
        sale_date=sale.sale_date, status=sale.status_code or "CLOSED", state=sale.state,
        register_sale_attributes=[str(a) for a in sale.attributes], note=sale.note,
        invoice_number=sale.invoice_number, source=sale.source or SOURCE, source_id=sale.source_id,
        register_sale_products=[
            RegisterSaleProduct(product_id=line.product_id or "", quantity=line.quantity or 0, price=line.price or 0,
                                tax=line.tax or 0, tax_id=line.tax_id or "", discount=line.discount,
                                cost=line.cost, sequence=index, price_set=True, id=line.id)
            for index, line in enumerate(sale.line_items)],
        register_sale_payments=[
            RegisterSalePayment(retailer_payment_type_id=p.retailer_payment_type_id or "", amount=p.amount or 0)
            for p in sale.payments],
    )
