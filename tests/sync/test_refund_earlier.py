"""A refund is mirrored against the sale less what earlier returns of it gave back: a fee an earlier
refund gave back is not given back again."""
from __future__ import annotations

from decimal import Decimal

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
