"""Each sale adds up to its order to the cent, in tax-inclusive and tax-exclusive stores."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from sync_world import assert_sale_adds_up, cents, line, sale_paid, sale_total_inc

D = Decimal

ORDERS = {
    "3x10-with-discount": dict(lines=[line("TEE-M", 3, "10.00")], discount=D("5.00")),
    "uneven-split": dict(lines=[line("TEE-M", 3, "9.95"), line("MUG-01", 2, "6.50")], discount=D("3.33"),
                         shipping_ex_tax=D("7.95")),
    "all-charges": dict(lines=[line("BTL-07", 7, "0.99")], discount=D("1.00"), handling_ex_tax=D("2.00"),
                        wrapping_ex_tax=D("3.00"), shipping_ex_tax=D("12.50")),
    "odd-rate": dict(lines=[line("TEE-L", 3, "19.99"), line("MUG-01", 1, "6.50")], tax_rate=D("0.0825"),
                     discount=D("4.17")),
    "tax-exempt": dict(lines=[line("TEE-M", 2, "14.99")], tax_rate=D("0"), shipping_ex_tax=D("5.00")),
    "unpaid": dict(lines=[line("TEE-M", 3, "10.00")], discount=D("1.00"), status_id=7),
}


@pytest.mark.parametrize("tax_inclusive", [False, True], ids=["tax-exclusive", "tax-inclusive"])
async def test_each_sale_adds_up_to_its_order(world_factory, tax_inclusive):
    world = world_factory(tax_inclusive=tax_inclusive)
    ids = {name: world.add_order(**spec) for name, spec in ORDERS.items()}
    report = await world.cycle()
    assert not report.failed

    for name, order_id in ids.items():
        order, sale = world.order(order_id), world.sale(order_id)
        assert order["is_tax_inclusive_pricing"] is tax_inclusive
        assert_sale_adds_up(sale, order)
        assert all(li["price"] >= 0 and li["tax"] >= 0 for li in sale["line_items"]), name
        if name != "unpaid":
            assert sale_paid(sale) == cents(order["total_inc_tax"]), name
    # 3 × 10.00 less a 5.00 discount is not divisible by 3: the line is split, the units still 3.
    sale = world.sale(ids["3x10-with-discount"])
    assert sum(li["quantity"] for li in sale["line_items"] if li["product_id"] != world.xs.discount_product_id) == 3
    assert world.stock("TEE-M") == 50 - 3 - 3 - 2 - 3


@pytest.mark.parametrize("tax_inclusive", [False, True], ids=["tax-exclusive", "tax-inclusive"])
async def test_random_orders_add_up(world_factory, tax_inclusive):
    world = world_factory(tax_inclusive=tax_inclusive)
    rng = random.Random(20260110 + tax_inclusive)
    prices = ["0.99", "6.50", "9.95", "10.00", "14.99", "19.99", "33.33", "79.95"]
    ids = []
    for _ in range(40):
        lines = [line(sku, rng.choice([1, 2, 3, 7, 11, 240]), rng.choice(prices))
                 for sku in rng.sample(sorted(["TEE-M", "TEE-L", "MUG-01", "BTL-07"]), rng.randint(1, 3))]
        for li in lines:  # a product discount on each unit of a third of the lines
            if rng.random() < 0.33:
                li["unit_discount"] = (li["unit_price"] * rng.choice([D("0.1"), D("0.33")])).quantize(D("0.01"))
        subtotal = sum((li["unit_price"] * li["quantity"] for li in lines), D(0))
        ids.append(world.add_order(
            lines, discount=rng.choice([D(0), D("5.00"), (subtotal / 7).quantize(D("0.01"))]),
            tax_rate=rng.choice([D("0.10"), D("0.0825"), D("0.15"), D(0)]),
            shipping_ex_tax=rng.choice([D(0), D("7.95")]), handling_ex_tax=rng.choice([D(0), D("2.00")]),
            wrapping_ex_tax=rng.choice([D(0), D("4.95")]),
        ))
    report = await world.cycle()
    assert not report.failed
    for order_id in ids:
        order, sale = world.order(order_id), world.sale(order_id)
        assert_sale_adds_up(sale, order)
        assert cents(sale_total_inc(sale)) == sale_paid(sale)
        assert all(li["price"] >= 0 and li["tax"] >= 0 for li in sale["line_items"])  # no discount adds money
