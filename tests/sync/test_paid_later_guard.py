"""An on-account sale is settled when its order is paid, not when it merely leaves Awaiting Payment:
back to Pending (not imported) nothing was paid, and the customer's balance stays owed."""

from __future__ import annotations

from connector.sync.order_mirror import Outcome
from sync_world import line


async def test_back_to_pending_does_not_settle_and_paid_later_does(world):
    order_id = world.add_order([line("TEE-M", 2)], status_id=7)  # Awaiting Payment
    await world.cycle()
    assert world.sale(order_id)["status"] == "ONACCOUNT"
    world.set_status(order_id, 1)  # the merchant moves it back to Pending: still nothing paid
    report = await world.cycle()
    assert world.bc.orders[order_id]["payment_status"] not in ("captured", "paid")
    assert report.outcomes[Outcome.SETTLED] == 0 and world.sale(order_id)["status"] == "ONACCOUNT"
    world.set_status(order_id, 11)  # then the transfer arrives: Awaiting Fulfillment
    report = await world.cycle()
    assert report.outcomes[Outcome.SETTLED] == 1 and world.sale(order_id)["status"] == "ONACCOUNT_CLOSED"
