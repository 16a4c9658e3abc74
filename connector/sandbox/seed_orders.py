"""The seeded store's order history: customers and guests, carts, statuses and a timeline of dates."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.seed_catalog import _Sellable

if TYPE_CHECKING:  # pragma: no cover
    from connector.sandbox.seed import SeedSpec, SeededStore


# Every status appears once (when there are enough orders); the rest are drawn with these weights:
# most orders are paid and waiting, shipped or completed; the odd ones stay rare.
STATUS_WEIGHTS = {0: 1, 1: 1, 2: 6, 3: 1, 4: 1, 5: 1, 6: 1, 7: 3, 8: 1, 9: 2, 10: 6, 11: 12, 12: 2, 13: 1, 14: 1}
# Statuses an order only reaches through later staff actions: it was modified after creation.
LATER_STATUSES = frozenset({2, 3, 4, 5, 10, 14})

FIRST_NAMES = ["Jane", "Omar", "Mei", "Lucas", "Priya", "Sven", "Ana", "Kofi", "Hana", "Diego", "Ivy", "Noah"]
LAST_NAMES = ["Doe", "Haddad", "Chen", "Silva", "Patel", "Berg", "Kowalski", "Mensah", "Sato", "Lopez"]
CITIES = [("Austin", "Texas", "78701"), ("Portland", "Oregon", "97205"), ("Denver", "Colorado", "80202"),
          ("Boston", "Massachusetts", "02108"), ("Madison", "Wisconsin", "53703")]
PAYMENT_METHODS = [("Credit Card", 10), ("PayPal", 4), ("Cash", 1), ("Test Payment Gateway", 1),
                   ("Manual", 1), ("Bank Deposit", 1)]
CUSTOM_LINES = [("Gift engraving", "", Decimal("4.50")), ("Custom print", "CUSTOM-PRINT", Decimal("12.00")),
                ("Rush fee item", "rush-1", Decimal("7.25"))]


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
