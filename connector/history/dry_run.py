"""What an import would do, nothing written: each order mapped as the import would map it; the
bindings and the X-Series index (read-only GETs) tell which products and customers would be created.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from connector.clients.bigcommerce_models import Order
from connector.clients.bigcommerce_v3_models import Refund
from connector.errors import MappingError
from connector.mapping.identity import order_content_hash
from connector.mapping.planned_sale import DISCOUNT_KEY
from connector.mapping.status_table import PosState
from connector.sync.binders import WALK_IN_CODE, walk_in_key
from connector.sync.mirror_deps import MirrorDeps, plan_sale


@dataclass
class DryRunReport:
    orders: int = 0
    already_mirrored: int = 0
    not_imported: int = 0  # their status writes no sale (Pending, Incomplete…)
    sales: Counter = field(default_factory=Counter)  # POS state → sales that would be created
    new_products: set[str] = field(default_factory=set)
    new_customers: set[str] = field(default_factory=set)
    stock: Counter = field(default_factory=Counter)  # sku → units that would leave the outlet
    problems: dict[int, str] = field(default_factory=dict)

    @property
    def xseries_writes(self) -> int:
        return sum(self.sales.values()) + len(self.new_products) + len(self.new_customers)


class DryRunPlanner:
    def __init__(self, deps: MirrorDeps) -> None:
        self.d = deps
        self.report = DryRunReport()
        self._stocked: dict[int, dict[int, str]] = {}  # order → its stock lines' SKUs by BigCommerce line id

    def account(self, order: Order) -> None:
        store, r = self.d.store, self.report
        r.orders += 1
        try:
            plan = plan_sale(order, self.d)
            if plan.pos_state is PosState.CLOSED and not plan.unpaid:
                self.d.payments.targets(plan.payments, order.id)
        except MappingError as exc:
            r.problems[order.id] = str(exc)
            return
        binding = store.order_binding(order.id)
        if binding is not None and (binding.sale_id or binding.content_hash == order_content_hash(order)):
            r.already_mirrored += 1
            return
        if plan.pos_state is PosState.NOT_IMPORTED:
            r.not_imported += 1
            return  # no sale, nothing created
        # An unpaid closed sale is written on account (register_sale): a balance the customer owes.
        r.sales["on account" if plan.pos_state is PosState.CLOSED and plan.unpaid else plan.pos_state.value] += 1
        key = plan.customer.email_key
        if not key and plan.pos_state is PosState.CLOSED and plan.unpaid and not self.d.walk_in_customer:
            key = walk_in_key(WALK_IN_CODE)  # order-sync's walk-in, created once (unless X-Series has it)
        if key and store.customer_id(key) is None and store.indexed_customer_id(key) is None:
            r.new_customers.add(key)
        for line in plan.lines:
            if line.product_key == DISCOUNT_KEY:
                continue  # the retailer's own discount product: never created, never stocked
            if store.product_id(line.product_key) is None and store.indexed_product_id(line.sku) is None:
                r.new_products.add(line.sku)
            if plan.pos_state is PosState.CLOSED and line.track_inventory:
                r.stock[line.sku] += Decimal(line.quantity)
                self._stocked.setdefault(order.id, {})[line.bc_line_id] = line.sku

    def returned(self, refund: Refund) -> None:
        """The import's return of a refund puts its units back in stock (refunds.restock: false puts
        them on the refund product): they do not leave the outlet."""
        lines = self._stocked.get(refund.order_id, {})
        for item in refund.items:
            if self.d.restock and item.item_type == "PRODUCT" and item.quantity and item.item_id in lines:
                self.report.stock[lines[item.item_id]] -= Decimal(item.quantity)
