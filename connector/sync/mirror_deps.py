"""What an order's mirror works with (MirrorDeps), and the sale plan it makes of an order."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connector.clients.bigcommerce import BigCommerceClient
from connector.clients.bigcommerce_models import Order
from connector.clients.xseries import XSeriesClient
from connector.errors import MappingError
from connector.mapping.amounts import cents_refusal
from connector.mapping.payment_table import PaymentTable
from connector.mapping.register_sale import PosRefs
from connector.mapping.planned_sale import SalePlan
from connector.mapping.sale_plan import build_sale_plan
from connector.mapping.special_lines import SpecialLines
from connector.mapping.status_table import StatusTable
from connector.store.repository import Store
from connector.sync.go_live import GoLive
from connector.sync.product_binder import FamilyFacts


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
    id_checks: bool = False  # id_verification.enabled: order-sync's own ID check moves order statuses
    # Whether the ID check ever wrote for the pair, once known this cycle (id_check_moves.id_check_wrote).
    id_check_known: list[bool] = field(default_factory=list)
    # Refunds created since then are read by this run's refund pass (a cycle's window, an import's
    # --since); None: the refunds cursor's. An order placed before has its own read (refund_pass).
    refunds_from: datetime | None = None
    # Orders never mirrored and placed long before it are left to the historical import (go_live);
    # None: the gate is open (historical_import.enabled, or the import itself).
    go_live: GoLive | None = None

    @property
    def lease_margin(self) -> timedelta:
        """How long the lease of a write must still be ours when the write is sent (Leases.confirm): it
        may land up to the transport's attempt deadline later, and whoever takes the lease over trusts
        a search that does not show it only lost_write_settle after that."""
        return self.lost_write_settle + timedelta(seconds=self.xs.transport.deadline)


def plan_sale(order: Order, deps: MirrorDeps, generation: int = 1, content_hash: str | None = None,
              on_account: bool = False) -> SalePlan:
    """The order's SalePlan against this retailer; MappingError (parked) when the order is in a
    currency the register does not keep, or of more decimals than cents: it is never posted as if it
    were the same money. on_account: written unpaid whatever its status says (build_sale_plan)."""
    plan = build_sale_plan(order, deps.statuses, deps.specials, deps.refs.tax_book, generation, content_hash,
                           on_account)
    refusal = cents_refusal(plan.currency)
    if refusal:  # start-up refuses such a register; an order in it is refused where its register says no currency
        raise MappingError(f"the order is in {plan.currency}: {refusal}; mirror it by hand", order_id=order.id,
                           kind="currency")
    currency = deps.refs.currency
    if plan.currency and currency and plan.currency.upper() != currency.upper():
        raise MappingError(f"the order is in {plan.currency} but X-Series keeps {currency}; mirror it by hand"
                           " or convert it in BigCommerce", order_id=order.id, kind="currency")
    return plan
