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
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from connector.sandbox.bigcommerce import BigCommerceSimulator
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


# Every status appears once (when there are enough orders); the rest are drawn with these weights:
# most orders are paid and waiting, shipped or completed; the odd ones stay rare.
STATUS_WEIGHTS = {0: 1, 1: 1, 2: 6, 3: 1, 4: 1, 5: 1, 6: 1, 7: 3, 8: 1, 9: 2, 10: 6, 11: 12, 12: 2, 13: 1, 14: 1}
# Statuses an order only reaches through later staff actions: it was modified after creation.
LATER_STATUSES = frozenset({2, 3, 4, 5, 10, 14})

PRODUCT_NAMES = [
    ("Canvas Tote Bag", "TOTE"), ("Ceramic Mug", "mug"), ("Linen Tea Towel", "TWL"),
    ("Wool Beanie", "BEAN"), ("Leather Wallet", "WLT"), ("Dotted Notebook A5", "nb-a5"),
    ("Insulated Water Bottle", "BTL"), ("Soy Scented Candle", "CNDL"), ("Organic Cotton Tee", "TEE"),
    ("Denim Jacket", "DNM-JKT"), ("Loose Leaf Tea Sampler", "tea"), ("Bamboo Phone Case", "CASE"),
    ("Enamel Pin Set", "PIN"), ("Merino Socks", "SOCK"), ("Walnut Cutting Board", "BRD"),
    ("Stoneware Bowl", "Bowl"), ("Hand Cream", "HC"), ("Silk Scarf", "SCRF"),
]
VARIANT_OPTIONS = {
    "Size": ["S", "M", "L", "XL"],
    "Colour": ["Black", "Natural", "Navy", "Rust"],
}
FIRST_NAMES = ["Jane", "Omar", "Mei", "Lucas", "Priya", "Sven", "Ana", "Kofi", "Hana", "Diego", "Ivy", "Noah"]
LAST_NAMES = ["Doe", "Haddad", "Chen", "Silva", "Patel", "Berg", "Kowalski", "Mensah", "Sato", "Lopez"]
CITIES = [("Austin", "Texas", "78701"), ("Portland", "Oregon", "97205"), ("Denver", "Colorado", "80202"),
          ("Boston", "Massachusetts", "02108"), ("Madison", "Wisconsin", "53703")]
PAYMENT_METHODS = [("Credit Card", 10), ("PayPal", 4), ("Cash", 1), ("Test Payment Gateway", 1),
                   ("Manual", 1), ("Bank Deposit", 1)]
CUSTOM_LINES = [("Gift engraving", "", Decimal("4.50")), ("Custom print", "CUSTOM-PRINT", Decimal("12.00")),
                ("Rush fee item", "rush-1", Decimal("7.25"))]
PRICES = [Decimal(p) for p in ("6.50", "9.95", "12.00", "14.99", "19.95", "24.00", "29.50", "34.99", "49.00", "79.95")]


@dataclass
class _Sellable:
    product_id: int
    variant_id: int
    sku: str
    name: str
    price: Decimal
    is_variant: bool
    family: str = ""  # a variant's catalogue product name
    options: dict[str, str] = field(default_factory=dict)  # a variant's {option: value}


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


def _unique_sku(candidate: str, taken: set[str]) -> str:
    # SKUs differ by more than case, so a case-insensitive POS lookup can never confuse two.
    sku, n = candidate, 2
    while sku.upper() in taken:
        sku = f"{candidate}-{n}"
        n += 1
    taken.add(sku.upper())
    return sku


def _seed_catalog(
    bc: BigCommerceSimulator, rng: random.Random, spec: SeedSpec, store: SeededStore,
) -> tuple[list[_Sellable], list[_Sellable]]:
    count = spec.products if spec.products is not None else max(8, spec.orders // 2)
    taken: set[str] = set()
    simple: list[_Sellable] = []
    variants: list[_Sellable] = []
    for index in range(count):
        base_name, prefix = PRODUCT_NAMES[index % len(PRODUCT_NAMES)]
        series = index // len(PRODUCT_NAMES)
        name = base_name if series == 0 else f"{base_name} {series + 1}"
        style = index % 4
        if style == 0:
            candidate = f"{prefix.upper()}-{index + 1:03d}"
        elif style == 1:
            candidate = f"{prefix.lower()}-{rng.choice(['blk', 'wht', 'nat'])}-{index + 1}"
        elif style == 2:
            candidate = f"SKU{10000 + index * 7}"
        else:
            candidate = f"{prefix.capitalize()}{index + 1}-{rng.choice(['XL', 'Std', 'v2'])}"
        sku = _unique_sku(candidate, taken)
        price = rng.choice(PRICES)
        # Every third product has options (size or colour), so both kinds always exist.
        if index % 3 == 1:
            option = rng.choice(sorted(VARIANT_OPTIONS))
            labels = rng.sample(VARIANT_OPTIONS[option], k=rng.randint(2, 4))
            specs = [{
                "sku": _unique_sku(f"{sku}-{label[:3].upper()}", taken),
                "price": price + Decimal("5.00") if label in ("XL", "Rust") else None,
                "option_values": [{"label": label, "option_display_name": option}],
            } for label in labels]
            product = bc.add_catalog_product(sku=sku, name=name, price=price, variants=specs)
            for variant in product["variants"]:
                label = variant["option_values"][0]["label"]
                variant_price = Decimal(str(variant["price"])) if variant["price"] is not None else price
                variants.append(_Sellable(product["id"], variant["id"], variant["sku"], f"{name} - {label}",
                                          variant_price, True, family=name, options={option: label}))
        else:
            product = bc.add_catalog_product(sku=sku, name=name, price=price)
            simple.append(_Sellable(product["id"], product["base_variant_id"], sku, name, price, False))
    store.skus = [s.sku for s in simple + variants]
    return simple, variants


def _plan_pos(
    rng: random.Random, spec: SeedSpec, sellables: list[_Sellable],
) -> list[tuple[_Sellable, Decimal, int]]:
    """Which sellables exist in the POS, at what price excluding tax, with what stock."""
    plan: list[tuple[_Sellable, Decimal, int]] = []
    for item in sellables:
        if rng.random() >= spec.share_sku_in_pos:
            continue
        price_ex = (item.price / (1 + spec.tax_rate)).quantize(Decimal("0.00001")) if spec.tax_inclusive else item.price
        # Some POS products are out of stock: a sale must still be recorded for them.
        inventory = 0 if rng.random() < 0.1 else rng.randint(1, 40)
        plan.append((item, price_ex, inventory))
    return plan


def _status_plan(rng: random.Random, spec: SeedSpec) -> list[int]:
    plan = list(STATUS_WEIGHTS)
    rng.shuffle(plan)
    plan = plan[: spec.orders] + rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()),
                                             k=max(spec.orders - len(plan), 0))
    # Spread the "every status once" block over the whole history rather than the first orders.
    rng.shuffle(plan)
    return plan


def _seed_orders(
    bc: BigCommerceSimulator, rng: random.Random, spec: SeedSpec, simple: list[_Sellable],
    variants: list[_Sellable], store: SeededStore,
) -> Counter[str]:
    """Add the orders; return the units they hold per SKU."""
    ordered: Counter[str] = Counter()
    customers: list[dict[str, Any]] = []
    guests: list[dict[str, Any]] = []
    plan = _status_plan(rng, spec)
    timeline = _timeline(rng, spec, plan, bc.clock.now())
    for status_id, (created, modified) in zip(plan, timeline):
        customer = _pick_customer(rng, spec, customers, guests, store)
        lines = _pick_lines(rng, spec, simple, variants)
        subtotal = sum((line["unit_price"] * line["quantity"] for line in lines), Decimal(0))
        discount = Decimal(0)
        if rng.random() < spec.share_discount and subtotal >= Decimal("20"):
            discount = rng.choice([Decimal("5.00"), (subtotal / 10).quantize(Decimal("0.01"))])
        order = bc.add_order(
            customer=customer,
            lines=lines,
            status_id=status_id,
            shipping_ex_tax=rng.choice([Decimal("5.00"), Decimal("7.95"), Decimal("9.99"), Decimal("12.50")])
            if rng.random() < spec.share_shipping else Decimal(0),
            handling_ex_tax=rng.choice([Decimal("2.00"), Decimal("3.50")])
            if rng.random() < spec.share_handling else Decimal(0),
            wrapping_ex_tax=rng.choice([Decimal("3.00"), Decimal("4.95")])
            if rng.random() < spec.share_wrapping else Decimal(0),
            tax_rate=Decimal(0) if rng.random() < spec.share_tax_exempt else spec.tax_rate,
            discount=discount,
            payment_method=rng.choices([m for m, _ in PAYMENT_METHODS], weights=[w for _, w in PAYMENT_METHODS])[0],
            date_created=created,
            date_modified=modified,
            customer_message=rng.choice(["", "", "", "Please leave at the back door.", "Gift - no invoice please"]),
        )
        store.order_ids.append(order["id"])
        store.statuses[order["id"]] = status_id
        for line in lines:
            ordered[line["sku"]] += line["quantity"]
    return ordered


def _timeline(
    rng: random.Random, spec: SeedSpec, plan: list[int], now: datetime,
) -> list[tuple[datetime, datetime]]:
    """(date_created, date_modified) per order, spread from spec.start.

    Orders come minutes to hours apart; some are modified up to three days later (always those in
    a status only staff actions reach); some share the previous order's date_modified second.
    When spec.start is in the store's past, the whole history is compressed to end by the store's
    clock, so no order is dated in the future (a poller bounded by "now" would never see it).
    """
    offsets: list[tuple[int, int]] = []
    created = 0
    previous_modified: int | None = None
    for status_id in plan:
        created += rng.randint(5, 360) * 60 + rng.randint(0, 59)
        modified = created
        if status_id in LATER_STATUSES or rng.random() < spec.share_modified_later:
            modified = created + rng.randint(1, 3 * 24 * 60) * 60
        if previous_modified is not None and previous_modified >= created and rng.random() < spec.share_same_second:
            modified = previous_modified  # two orders in the same second of date_modified
        previous_modified = modified
        offsets.append((created, modified))
    span = max((m for _, m in offsets), default=0)
    room = int((now - spec.start).total_seconds())
    scale = room / span if 0 < room < span else 1.0
    # Scaling then flooring keeps the order of every date, and equal dates stay equal.
    return [
        (spec.start + timedelta(seconds=int(c * scale)), spec.start + timedelta(seconds=int(m * scale)))
        for c, m in offsets
    ]


def _pick_customer(
    rng: random.Random, spec: SeedSpec, customers: list[dict[str, Any]], guests: list[dict[str, Any]],
    store: SeededStore,
) -> dict[str, Any]:
    if rng.random() < spec.share_guest:
        if guests and rng.random() < 0.2:
            return rng.choice(guests)  # the same guest checks out again with the same e-mail
        guest = _person(rng, customer_id=0, serial=len(guests) + 1, guest=True)
        guests.append(guest)
        return guest
    if customers and rng.random() < spec.share_repeat_customer:
        return rng.choice(customers)
    customer = _person(rng, customer_id=len(customers) + 1, serial=len(customers) + 1, guest=False)
    customers.append(customer)
    store.customer_emails.append(customer["email"])
    return customer


def _person(rng: random.Random, *, customer_id: int, serial: int, guest: bool) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city, state, zip_code = rng.choice(CITIES)
    local = f"{first}.{last}{serial}" if rng.random() < 0.1 else f"{first.lower()}.{last.lower()}{serial}"
    domain = "guest.example.com" if guest else "example.com"
    return {
        "id": customer_id, "first_name": first, "last_name": last, "email": f"{local}@{domain}",
        "phone": f"512555{rng.randint(1000, 9999)}", "street_1": f"{rng.randint(1, 999)} Main Street",
        "city": city, "state": state, "zip": zip_code, "country": "United States", "country_iso2": "US",
    }


def _pick_lines(
    rng: random.Random, spec: SeedSpec, simple: list[_Sellable], variants: list[_Sellable],
) -> list[dict[str, Any]]:
    count = rng.choices([1, 2, 3, 4], weights=[50, 30, 15, 5])[0]
    lines: list[dict[str, Any]] = []
    used: set[str] = set()
    for _ in range(count):
        if rng.random() < spec.share_custom_line:
            name, sku, price = rng.choice(CUSTOM_LINES)
            lines.append({"product_id": 0, "variant_id": 0, "sku": sku, "name": name, "unit_price": price, "quantity": 1})
            continue
        pool = variants if variants and (rng.random() < spec.share_variant or not simple) else simple
        item = rng.choice(pool)
        if item.sku in used:
            continue  # one line per SKU, like a cart
        used.add(item.sku)
        lines.append({
            "product_id": item.product_id, "variant_id": item.variant_id, "sku": item.sku, "name": item.name,
            "unit_price": item.price, "quantity": rng.choices([1, 2, 3], weights=[70, 20, 10])[0],
        })
    return lines
