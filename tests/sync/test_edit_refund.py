"""An order edited after its sale was written (sync.on_edit: exception: nothing written), then
refunded: the refund is checked against the X-Series sale as written, not the order as it is now —
a return of what the sale never sold would put into stock what X-Series never took out."""
from __future__ import annotations

from sync_world import line


def product_line(world, order_id: int, sku: str) -> dict:
    return next(p for p in world.bc.products(order_id) if p["sku"] == sku)


def refund_of(world, order_id: int, sku: str, units: int) -> None:
    item = product_line(world, order_id, sku)
    world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": item["id"], "quantity": units}])


def refund_exceptions(world) -> list[str]:
    return [e.summary for e in world.store.exceptions() if e.kind == "refund"]


async def test_a_refund_of_a_line_added_after_the_sale_is_for_a_person(world):
    order_id = world.add_order([line("TEE-M", 2)], status_id=11)
    await world.cycle()
    world.edit_lines(order_id, [line("TEE-M", 2), line("MUG-01", 1, "10.00", product_id=222)])
    await world.cycle()  # the edit is an exception; the sale stays as written
    refund_of(world, order_id, "MUG-01", 1)
    report = await world.cycle()

    assert report.refunds["exception"] == 1 and not report.refunds["returned"]
    assert world.xs.sales_of_order(order_id, returns=True) == []
    assert world.stock("MUG-01") == 30  # no mug was sold, none comes back
    [why] = refund_exceptions(world)
    assert f"order {order_id}" in why and "1 × MUG-01" in why and "sold 0" in why
    assert world.store.refund_bindings(order_id)[0].outcome == "exception"
    # The units the sale did sell are returned as before.
    refund_of(world, order_id, "TEE-M", 2)
    report = await world.cycle()
    assert report.refunds["returned"] == 1
    assert world.stock("TEE-M") == 50


async def test_a_refund_beyond_the_units_sold_and_returned_already_is_for_a_person(world):
    order_id = world.add_order([line("TEE-M", 2)], status_id=11)
    await world.cycle()
    refund_of(world, order_id, "TEE-M", 1)
    await world.cycle()
    assert world.stock("TEE-M") == 49
    world.edit_lines(order_id, [line("TEE-M", 3)])  # one more tee, never written to the sale
    await world.cycle()
    refund_of(world, order_id, "TEE-M", 2)  # two sold, one returned already: one is left
    report = await world.cycle()

    assert report.refunds["exception"] == 1 and not report.refunds["returned"]
    assert world.stock("TEE-M") == 49
    assert [s["invoice_number"] for s in world.xs.sales_of_order(order_id, returns=True)] == [f"BC-{order_id}-R1"]
    [why] = refund_exceptions(world)
    assert "2 × TEE-M" in why and "sold 2" in why and "1 returned already" in why


async def test_a_refund_after_its_product_was_deleted_and_its_sku_bound_again_is_for_a_person(world):
    """The merchant deletes the product in X-Series and a later order binds its SKU to a new one:
    the older order's sale names the old product, which its SKU is no longer bound to. Which sale
    line a refund line is cannot be told safely (an edit may have put another product at the same
    place), so the refund is held for a person, visibly, rather than returned."""
    first = world.add_order([line("NEW-SKU-1", 2, "15.00", name="New thing")], status_id=11)
    await world.cycle()
    [old] = world.products_with_sku("NEW-SKU-1")
    world.xs.delete_product(old["id"])
    world.add_order([line("NEW-SKU-1", 1, "15.00", name="New thing")], status_id=11)
    await world.cycle()
    assert world.store.product_id("sku:new-sku-1") not in (None, old["id"])
    refund_of(world, first, "NEW-SKU-1", 1)
    report = await world.cycle()
    assert report.refunds["exception"] == 1 and not report.refunds["returned"]
    [why] = refund_exceptions(world)
    assert "NEW-SKU-1" in why and "sold 0" in why


async def test_a_refund_of_a_product_that_replaced_another_at_the_same_place_is_for_a_person(world):
    """An edit replaces the order's tee by a mug at the same quantity and price: the sale sold the
    tee, so a refund of the mug is not returned (no mug came out of stock), but held for a person."""
    order_id = world.add_order([line("TEE-M", 1, "10.00")], status_id=11)
    await world.cycle()
    world.edit_lines(order_id, [line("MUG-01", 1, "10.00", product_id=222)])
    await world.cycle()  # the edit is an exception; the sale stays as written
    mugs = world.stock("MUG-01")
    refund_of(world, order_id, "MUG-01", 1)
    report = await world.cycle()
    assert report.refunds["exception"] == 1 and not report.refunds["returned"]
    assert world.stock("MUG-01") == mugs
    assert any("MUG-01" in why and "sold 0" in why for why in refund_exceptions(world))
