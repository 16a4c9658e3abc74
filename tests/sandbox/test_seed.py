"""The store generator: realistic, complete and reproducible."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from connector.clock import FakeClock
from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.seed import SeedSpec, seed_store
from connector.values import parse_rfc2822

START = datetime(2025, 6, 1, 8, 0, tzinfo=timezone.utc)


class FakePos:
    """Stands in for the X-Series simulator: records add_product and add_family calls."""

    def __init__(self) -> None:
        self.products: dict[str, dict] = {}
        self.families: list[str] = []

    def add_product(self, *, sku: str, name: str, price_excluding_tax: Decimal, inventory: int,
                    family: str | None = None, options: dict[str, str] | None = None) -> str:
        assert isinstance(price_excluding_tax, Decimal) and isinstance(inventory, int)
        product_id = f"pos-{len(self.products) + 1}"
        self.products[product_id] = {"sku": sku, "name": name, "price": price_excluding_tax, "inventory": inventory,
                                     "family": family, "options": options}
        return product_id

    def add_family(self, *, name: str, variants: list[tuple[str, dict[str, str], Decimal, int]]) -> dict[str, str]:
        self.families.append(name)
        return {sku: self.add_product(sku=sku, name=name, price_excluding_tax=price, inventory=units,
                                      family=name, options=options)
                for sku, options, price, units in variants}


def seeded(spec: SeedSpec) -> tuple[BigCommerceSimulator, FakePos, object]:
    bc = BigCommerceSimulator(clock=FakeClock(datetime(2026, 1, 1, tzinfo=timezone.utc)),
                              tax_inclusive=spec.tax_inclusive)
    pos = FakePos()
    return bc, pos, seed_store(bc, pos, spec)


def test_same_seed_same_store_other_seed_other_store():
    spec = SeedSpec(orders=40, seed=7, start=START)
    bc1, pos1, store1 = seeded(spec)
    bc2, pos2, store2 = seeded(spec)
    assert bc1.orders == bc2.orders and bc1.order_products == bc2.order_products
    assert pos1.products == pos2.products and store1 == store2
    bc3, _, _ = seeded(SeedSpec(orders=40, seed=8, start=START))
    assert bc3.orders != bc1.orders


def test_every_status_appears():
    bc, _, store = seeded(SeedSpec(orders=30, start=START))
    assert set(store.statuses.values()) == set(range(15))
    assert {bc.orders[i]["status_id"] for i in store.order_ids} == set(range(15))
    assert len(store.order_ids) == 30


def test_customers_guests_and_repeat_emails():
    bc, _, store = seeded(SeedSpec(orders=80, start=START, share_guest=0.2, share_repeat_customer=0.5))
    orders = [bc.orders[i] for i in store.order_ids]
    guests = [o for o in orders if o["customer_id"] == 0]
    registered = [o for o in orders if o["customer_id"] != 0]
    assert guests and all(o["billing_address"]["email"] and o["billing_address"]["first_name"] for o in guests)
    per_email = Counter(o["billing_address"]["email"] for o in registered)
    assert max(per_email.values()) > 1  # repeat customers
    # one customer id ↔ one e-mail
    assert len({(o["customer_id"], o["billing_address"]["email"]) for o in registered}) == len(per_email)
    assert set(store.customer_emails) == set(per_email)


def test_lines_mix_simple_variant_and_custom_items():
    bc, _, store = seeded(SeedSpec(orders=60, start=START, share_custom_line=0.2, share_variant=0.4))
    lines = [p for i in store.order_ids for p in bc.order_products[i]]
    custom = [p for p in lines if p["product_id"] == 0]
    assert custom and all(p["variant_id"] == 0 for p in custom)
    assert any(p["sku"] == "" for p in custom)
    variant_skus = {v["sku"] for v in bc.catalog_variants.values()
                    if bc.catalog_products[v["product_id"]]["base_variant_id"] is None}
    variant_lines = [p for p in lines if p["sku"] in variant_skus]
    assert variant_lines
    for p in variant_lines:
        assert bc.catalog_variants[p["variant_id"]]["sku"] == p["sku"]
    catalog_lines = [p for p in lines if p["product_id"] != 0]
    assert all(p["sku"] in store.skus for p in catalog_lines)


def test_skus_are_realistic_and_pos_holds_a_share_with_stock():
    _, pos, store = seeded(SeedSpec(orders=60, start=START, share_sku_in_pos=0.5))
    assert any("-" in s for s in store.skus)
    assert any(s != s.upper() for s in store.skus) and any(s == s.upper() for s in store.skus)
    assert len({s.upper() for s in store.skus}) == len(store.skus)
    assert store.pos_skus < set(store.skus)
    assert 0.3 < len(store.pos_skus) / len(store.skus) < 0.7
    assert {p["sku"] for p in pos.products.values()} == store.pos_skus
    assert {store.pos_product_ids[p["sku"]]: p["inventory"] for p in pos.products.values()} == store.initial_stock
    assert any(v == 0 for v in store.initial_stock.values()) or len(store.initial_stock) < 10


def test_charges_and_discounts_appear():
    bc, _, store = seeded(SeedSpec(orders=80, start=START, share_handling=0.3, share_wrapping=0.3))
    orders = [bc.orders[i] for i in store.order_ids]
    for field in ("shipping_cost_ex_tax", "handling_cost_ex_tax", "wrapping_cost_ex_tax", "discount_amount"):
        assert any(Decimal(o[field]) > 0 for o in orders), field
        assert any(Decimal(o[field]) == 0 for o in orders), field


def test_dates_spread_from_start_with_later_modifications_and_ties():
    bc, _, store = seeded(SeedSpec(orders=60, start=START, share_same_second=0.3))
    orders = [bc.orders[i] for i in store.order_ids]
    created = [parse_rfc2822(o["date_created"]) for o in orders]
    modified = [parse_rfc2822(o["date_modified"]) for o in orders]
    assert min(created) > START and created == sorted(created)
    assert all(m >= c for m, c in zip(modified, created))
    assert sum(m > c for m, c in zip(modified, created)) >= 10
    assert max(Counter(modified).values()) > 1  # same-second date_modified across orders
    for order in orders:
        if order["status_id"] == 2:
            assert order["date_shipped"] != ""


@pytest.mark.parametrize("tax_inclusive", [False, True])
def test_both_tax_modes_give_consistent_totals(tax_inclusive):
    bc, pos, store = seeded(SeedSpec(orders=40, start=START, tax_inclusive=tax_inclusive))
    for order_id in store.order_ids:
        order = bc.orders[order_id]
        assert order["is_tax_inclusive_pricing"] is tax_inclusive
        parts = ("subtotal_inc_tax", "shipping_cost_inc_tax", "handling_cost_inc_tax", "wrapping_cost_inc_tax")
        assert Decimal(order["total_inc_tax"]) == sum(Decimal(order[p]) for p in parts) - Decimal(order["discount_amount"])
    catalog_price = {v["sku"]: Decimal(str(v["calculated_price"])) for v in bc.catalog_variants.values()}
    for product in pos.products.values():
        expected = catalog_price[product["sku"]]
        if tax_inclusive:
            assert abs(product["price"] * Decimal("1.10") - expected) < Decimal("0.0001")
        else:
            assert product["price"] == expected


def test_tax_mode_must_match_the_simulator():
    bc = BigCommerceSimulator(tax_inclusive=False)
    with pytest.raises(ValueError):
        seed_store(bc, FakePos(), SeedSpec(orders=5, tax_inclusive=True))


def test_history_that_would_run_past_the_clock_is_compressed_to_end_by_now():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    start = now - timedelta(days=1)  # 60 orders hours apart would need about a week
    bc, _, store = seeded(SeedSpec(orders=60, start=start, share_same_second=0.3))
    created = [parse_rfc2822(bc.orders[i]["date_created"]) for i in store.order_ids]
    modified = [parse_rfc2822(bc.orders[i]["date_modified"]) for i in store.order_ids]
    assert created == sorted(created) and start <= created[0]
    assert max(modified) <= now and all(m >= c for m, c in zip(modified, created))
    assert max(modified) > now - timedelta(hours=6)  # the history still reaches close to now
    assert max(Counter(modified).values()) > 1


def test_pos_variants_are_families_named_by_their_option():
    bc, pos, store = seeded(SeedSpec(orders=60, start=START, share_sku_in_pos=0.8))
    variants = {v["sku"]: v for v in bc.catalog_variants.values()
                if bc.catalog_products[v["product_id"]]["base_variant_id"] is None}
    in_pos = [p for p in pos.products.values() if p["sku"] in variants]
    assert in_pos and all(p["family"] for p in in_pos)
    assert not [p for p in pos.products.values() if p["sku"] not in variants and p["family"]]
    assert len(pos.families) == len(set(pos.families))  # one family per catalogue product
    for p in in_pos:
        variant = variants[p["sku"]]
        assert p["family"] == bc.catalog_products[variant["product_id"]]["name"]
        assert p["options"] == {o["option_display_name"]: o["label"] for o in variant["option_values"]}


def test_the_families_are_real_in_the_xseries_simulator():
    from connector.sandbox.xseries import XSeriesSimulator

    clock = FakeClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
    xs = XSeriesSimulator(clock=clock)
    store = seed_store(BigCommerceSimulator(clock=clock), xs, SeedSpec(orders=40, seed=3, start=START))
    variants = [xs.products[pid] for pid in store.pos_product_ids.values() if xs.products[pid]["variant_parent_id"]]
    assert variants
    for variant in variants:
        parent = xs.products[variant["variant_parent_id"]]
        assert parent["has_variants"] and parent["name"] == variant["name"]
        assert variant["variant_name"] == f"{variant['name']} / {variant['variant_options'][0]['value']}"
        assert variant["variant_options"][0]["name"] in xs.variant_attribute_ids
