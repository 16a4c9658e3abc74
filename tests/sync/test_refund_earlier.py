"""A refund is mirrored against the sale less what earlier returns of it gave back: a fee an earlier
refund gave back is not given back again; money back on a product beyond what the sale sold of it is
for a person."""
from __future__ import annotations

from decimal import Decimal

import pytest

from sync_world import line

D = Decimal


def returns(world, order_id: int) -> list[dict]:
    return world.xs.sales_of_order(order_id, returns=True)


def fee_lines(world, sale: dict) -> list[tuple[Decimal, Decimal]]:
    return [(D(str(li["price"])), D(str(li["tax"]))) for li in sale["line_items"]
            if world.xs.products[li["product_id"]]["sku"] == "bc-fee"]


async def test_a_fee_an_earlier_refund_gave_back_is_not_given_back_again(world):
    """Two fees of 5.50: Package Protection (5.00 + 0.50 tax) and an untaxed Donation. Refund 1 gives
    back Package Protection (its tax says which); refund 2 a tee and a fee whose amount it does not
    say (null, as the product's): the fee not given back yet is the Donation, not both again."""
    order_id = world.add_order([line("TEE-M", 1)], fees=[{"name": "Package Protection", "amount": D("5.00")},
                                                         {"name": "Donation", "amount": D("5.50"), "tax_rate": 0}])
    await world.cycle()
    first = world.bc.refund(order_id, [{"item_type": "FEE", "requested_amount": "5.50"}])
    world.bc.refunds[first["id"]]["total_tax"] = 0.5  # BigCommerce gives the fee's tax back with it
    await world.cycle()
    assert [fee_lines(world, r) for r in returns(world, order_id)] == [[(D("5.00"), D("0.50"))]]

    tee = next(p for p in world.bc.products(order_id) if p["sku"] == "TEE-M")
    second = world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1},
                                        {"item_type": "FEE", "requested_amount": "5.50"}])
    world.bc.refunds[second["id"]]["items"][1]["requested_amount"] = None
    report = await world.cycle()

    assert report.refunds["returned"] == 1
    ret = returns(world, order_id)[1]
    assert fee_lines(world, ret) == [(D("5.50"), D("0"))]
    assert not [li for li in ret["line_items"] if world.xs.products[li["product_id"]]["sku"] == "bc-refund"]


def money_back_on(world, order_id: int, sku: str, amount: str, tax: str) -> None:
    """The merchant gives `amount` (of it `tax`) back on the order's `sku` line and returns no unit."""
    item = next(p for p in world.bc.products(order_id) if p["sku"] == sku)
    refund = world.bc.refund(order_id, [{"item_type": "ORDER", "requested_amount": amount}])
    world.bc.refunds[refund["id"]].update(total_tax=float(tax), items=[
        {"item_type": "PRODUCT", "item_id": item["id"], "quantity": 0, "requested_amount": amount, "reason": ""}])


def refund_exceptions(world) -> list[str]:
    return [e.summary for e in world.store.exceptions() if e.kind == "refund"]


async def test_money_back_on_a_line_beyond_what_the_sale_sold_of_it_less_earlier_returns_is_for_a_person(world):
    """Two tees sold at 22.00 (20.00 + 10 %); one returned. Money back on the tee line without a unit:
    23.10 is more than the 22.00 the sale has left of it (a person records it), 11.00 is not (on the
    refund product at the tee's rate, as before)."""
    order_id = world.add_order([line("TEE-M", 2)])
    await world.cycle()
    tee = next(p for p in world.bc.products(order_id) if p["sku"] == "TEE-M")
    world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])
    await world.cycle()
    money_back_on(world, order_id, "TEE-M", "23.10", "2.10")
    report = await world.cycle()

    assert report.refunds["exception"] == 1 and not report.refunds["returned"]
    assert len(returns(world, order_id)) == 1
    [why] = refund_exceptions(world)
    assert "23.10" in why and "TEE-M" in why and "44.00" in why and "22.00 given back already" in why

    money_back_on(world, order_id, "TEE-M", "11.00", "1.00")
    report = await world.cycle()
    assert report.refunds["returned"] == 1 and len(returns(world, order_id)) == 2
    assert world.stock("TEE-M") == 49


@pytest.mark.parametrize("inclusive", [False, True])
async def test_a_unit_given_back_for_more_than_the_sale_sold_it_for_is_for_a_person(world_factory, inclusive):
    """A merchant's override: one tee sold at 22.00 (20.00 + 2.00 tax), returned with 23.00 back; the
    same where X-Series reads line prices incl. tax (the sale's line says 22.00 and 2.00 of it tax)."""
    world = world_factory(xs_options={"line_price_includes_tax": inclusive},
                          xseries_settings={"line_prices_include_tax": inclusive})
    order_id = world.add_order([line("TEE-M", 1)])
    await world.cycle()
    tee = next(p for p in world.bc.products(order_id) if p["sku"] == "TEE-M")
    refund = world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])
    world.bc.refunds[refund["id"]]["items"][0]["requested_amount"] = "23.00"
    world.bc.refunds[refund["id"]].update(total_amount=23.0, payments=[
        {**world.bc.refunds[refund["id"]]["payments"][0], "amount": 23.0}])
    report = await world.cycle()

    assert report.refunds["exception"] == 1 and returns(world, order_id) == []
    assert world.stock("TEE-M") == 49
    [why] = refund_exceptions(world)
    assert "23.00 on TEE-M" in why and "sold 22.00" in why
