"""Every row of the status table, end to end: one order per BigCommerce status, one cycle."""

from __future__ import annotations

import pytest

from connector.mapping.statuses import SYSTEM_NAMES
from sync_world import assert_sale_adds_up, line

NOT_IMPORTED = {0, 1}
VOIDED = {5, 6}
UNPAID = {7}  # Awaiting Payment: recorded on account, without a payment


@pytest.mark.parametrize("status_id", sorted(SYSTEM_NAMES), ids=lambda s: f"{s}-{SYSTEM_NAMES[s]}")
async def test_one_order_in_each_status(world, status_id):
    order_id = world.add_order([line("TEE-M", 2), line("MUG-01", 1, "10.00")], status_id=status_id,
                               shipping_ex_tax="5.00")
    before = {sku: world.stock(sku) for sku in ("TEE-M", "MUG-01")}

    report = await world.cycle()

    assert not report.failed
    binding = world.store.order_binding(order_id)
    sale = world.sale(order_id)
    moved = {sku: before[sku] - world.stock(sku) for sku in before}
    if status_id in NOT_IMPORTED:
        assert sale is None
        assert world.sales(order_id) == []
        assert binding.pos_state == "not_imported" and binding.sale_id is None
        assert moved == {"TEE-M": 0, "MUG-01": 0}
        return
    assert binding.sale_id == sale["id"] and binding.pending_state is None
    assert sale["invoice_number"] == f"BC-{order_id}"
    assert_sale_adds_up(sale, world.order(order_id))
    if status_id in VOIDED:
        assert binding.pos_state == "voided"
        assert sale["status"] == "VOIDED" and sale["state"] == "voided"
        assert moved == {"TEE-M": 0, "MUG-01": 0}  # a voided sale moves no stock
        return
    assert binding.pos_state == "closed"
    assert moved == {"TEE-M": 2, "MUG-01": 1}
    if status_id in UNPAID:
        # Shipped orders also carry the fulfilment attribute (issue 15, point 8).
        assert sale["status"] == "ONACCOUNT" and sale["attributes"] == ["onaccount", "delivery"]
        assert sale["payments"] == []
        assert sale["customer_id"] is not None
    else:
        assert sale["status"] == "CLOSED" and sale["state"] == "closed"
        assert len(sale["payments"]) == 1
        assert sale["payments"][0]["retailer_payment_type_id"] == world.xs.payment_type_ids["Credit Card"]
