"""SeedSpec.stock_covers_orders, which the demo uses so no stock level it prints goes below zero.

It must raise stock to what the seeded orders hold and change nothing else: the same seed gives the
same catalog and orders with it or without it (other suites depend on the default store).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from connector.clock import FakeClock
from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.seed import SeedSpec, seed_store
from connector.sandbox.xseries import XSeriesSimulator

START = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


def seeded(covers: bool):
    clock = FakeClock(datetime(2026, 3, 20, tzinfo=timezone.utc))
    bc, xs = BigCommerceSimulator(clock=clock), XSeriesSimulator(clock=clock)
    store = seed_store(bc, xs, SeedSpec(orders=40, seed=7, start=START, stock_covers_orders=covers))
    return bc, xs, store


def units_ordered(bc: BigCommerceSimulator) -> Counter[str]:
    ordered: Counter[str] = Counter()
    for order_id in bc.orders:
        for line in bc.products(order_id):
            ordered[line["sku"]] += int(line["quantity"])
    return ordered


def stock_by_sku(xs: XSeriesSimulator, store) -> dict[str, int]:
    return {sku: int(xs.stock(pid)) for sku, pid in store.pos_product_ids.items()}


def test_the_default_store_is_short_of_stock_for_some_orders():
    # What the option is for: without it, mirroring these orders takes some levels below zero.
    bc, xs, store = seeded(covers=False)
    ordered = units_ordered(bc)
    assert any(level < ordered[sku] for sku, level in stock_by_sku(xs, store).items())


def test_stock_covers_every_seeded_order():
    bc, xs, store = seeded(covers=True)
    ordered = units_ordered(bc)
    levels = stock_by_sku(xs, store)
    assert all(level >= ordered[sku] for sku, level in levels.items())
    assert {pid: int(n) for pid, n in store.initial_stock.items()} == {
        pid: levels[sku] for sku, pid in store.pos_product_ids.items()}


def test_only_stock_changes():
    bc0, xs0, store0 = seeded(covers=False)
    bc1, xs1, store1 = seeded(covers=True)
    assert [bc0.order(i) for i in sorted(bc0.orders)] == [bc1.order(i) for i in sorted(bc1.orders)]
    assert units_ordered(bc0) == units_ordered(bc1)
    assert store0.pos_skus == store1.pos_skus and store0.statuses == store1.statuses
    before, after = stock_by_sku(xs0, store0), stock_by_sku(xs1, store1)
    ordered = units_ordered(bc0)
    # Raised to exactly what the orders hold where that is more, untouched elsewhere.
    assert after == {sku: max(level, ordered[sku]) for sku, level in before.items()}
    assert after != before
