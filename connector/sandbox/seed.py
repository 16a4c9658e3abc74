"""A realistic, reproducible store: BigCommerce catalog and orders, and the POS side of the catalog.

One seed gives the same store every time. It mixes in what breaks connectors (domain.md §C): repeat
customers and guests, custom lines (product_id 0, some without a SKU), variant SKUs, SKUs with hyphens
and mixed case, shipping / handling / wrapping, discounts, tax-exempt orders, every status 0–14, late
modifications and orders sharing a date_modified second (the cursor-boundary case). Part of the SKUs
exist in the POS, some with too little stock or none (`stock_covers_orders` gives enough, as the demo
does); POS variants form one family per catalogue product, named like a store's ("Wool Beanie / M").
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.seed_catalog import _plan_pos, _seed_catalog, _Sellable
from connector.sandbox.seed_orders import _seed_orders
from connector.sandbox.xseries import XSeriesSimulator


@dataclass
class SeedSpec:
    orders: int = 50
    seed: int = 1
    tax_inclusive: bool = False
    start: datetime = field(default_factory=lambda: datetime(2025, 10, 1, 9, 0, tzinfo=timezone.utc))
    share_guest: float = 0.15
    share_repeat_customer: float = 0.4  # of registered-customer orders: a customer seen before
    share_custom_line: float = 0.05  # per line
    share_variant: float = 0.3  # per catalog line: a variant SKU rather than a simple product
    share_shipping: float = 0.8
    share_handling: float = 0.1
    share_wrapping: float = 0.05
    share_sku_in_pos: float = 0.7
    share_discount: float = 0.1
    share_tax_exempt: float = 0.05
    share_modified_later: float = 0.3
    share_same_second: float = 0.1  # date_modified equal to the previous order's
    tax_rate: Decimal = Decimal("0.10")
    products: int | None = None  # catalog size; None: grows with the number of orders
    # Raise each POS product's stock to at least the units the seeded orders hold, so mirroring
    # them never takes a level below zero. Draws nothing from the random stream: the same seed
    # gives the same catalog and orders either way.
    stock_covers_orders: bool = False


@dataclass
class SeededStore:
    order_ids: list[int] = field(default_factory=list)
    skus: list[str] = field(default_factory=list)  # every sellable BigCommerce SKU (simple + variant)
    pos_skus: set[str] = field(default_factory=set)
    pos_product_ids: dict[str, Any] = field(default_factory=dict)  # sku → X-Series product id
    initial_stock: dict[Any, int] = field(default_factory=dict)  # X-Series product id → units
    customer_emails: list[str] = field(default_factory=list)  # registered customers
    statuses: dict[int, int] = field(default_factory=dict)  # order id → status id at creation


def seed_store(bc: BigCommerceSimulator, xs: XSeriesSimulator, spec: SeedSpec) -> SeededStore:
    """Fill `bc` (catalog + orders) and `xs` (part of the catalog, with stock) from `spec`."""
    if bc.tax_inclusive != spec.tax_inclusive:
        raise ValueError(
            f"SeedSpec.tax_inclusive={spec.tax_inclusive} but the simulator was built with "
            f"tax_inclusive={bc.tax_inclusive}; a store has one tax mode"
        )
    if spec.start.tzinfo is None:
        raise ValueError("SeedSpec.start must be timezone-aware")
    rng = random.Random(spec.seed)
    store = SeededStore()
    simple, variants = _seed_catalog(bc, rng, spec, store)
    pos_plan = _plan_pos(rng, spec, simple + variants)
    ordered = _seed_orders(bc, rng, spec, simple, variants, store)
    # The POS products are created once the orders are known (the orders never touch the POS, so
    # the result is the same as creating them first), for stock_covers_orders to see the demand.
    created: dict[str, tuple[Any, int]] = {}  # sku → (POS product id, units)
    families: dict[int, list[tuple[_Sellable, Decimal, int]]] = {}
    for item, price_ex, inventory in pos_plan:
        if spec.stock_covers_orders:
            inventory = max(inventory, ordered.get(item.sku, 0))
        if item.is_variant:
            families.setdefault(item.product_id, []).append((item, price_ex, inventory))
        else:
            created[item.sku] = (xs.add_product(sku=item.sku, name=item.name, price_excluding_tax=price_ex,
                                                inventory=inventory), inventory)
    for members in families.values():
        ids = xs.add_family(name=members[0][0].family,
                            variants=[(item.sku, item.options, price_ex, units) for item, price_ex, units in members])
        created.update({item.sku: (ids[item.sku], units) for item, _, units in members})
    for sku, (product_id, inventory) in created.items():
        store.pos_skus.add(sku)
        store.pos_product_ids[sku] = product_id
        store.initial_stock[product_id] = inventory
    return store
