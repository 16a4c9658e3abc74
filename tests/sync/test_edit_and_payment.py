"""An on-account order edited and paid between two cycles: the edit is an exception (sync.on_edit:
exception) and the payment is written when it settles the sale as written. Before, the edit took the
mirror's branch alone, the paid status was recorded as the one the sale had, and the sale stayed
ONACCOUNT for good. An edit that changed the amount is not settled at all: the old lines would be
closed against the new payment (review); a person settles it (an exception of kind settle).
The orders are bank transfers (payment_status empty), paid when the merchant moves their status."""

from __future__ import annotations

from decimal import Decimal

from connector.sync.order_mirror import Outcome
from sync_world import line, sale_paid


async def test_an_edit_and_a_payment_in_one_window_still_settle(db_world):
    world = db_world
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")  # Awaiting Payment
    await world.cycle()
    before = world.sale(order_id)
    assert before["status"] == "ONACCOUNT"
    assert world.xs.customers[before["customer_id"]]["balance"] < 0
    stock = world.stock("TEE-M")

    # Between two cycles the merchant swaps a tee for another size (same price) and marks the
    # transfer received.
    world.edit_lines(order_id, [line("TEE-M", 1), line("TEE-L", 1, product_id=112)])
    world.set_status(order_id, 11)
    report = await world.cycle()

    assert report.outcomes[Outcome.SETTLED] == 1 and not report.failed
    [exc] = world.store.exceptions()  # the edit is still for a person to see
    assert (exc.bc_order_id, exc.kind) == (order_id, "edit")
    sale = world.sale(order_id)  # the same sale, closed with the payment BigCommerce took
    assert sale["id"] == before["id"] and sale["status"] == "ONACCOUNT_CLOSED"
    assert sale_paid(sale) == Decimal(world.order(order_id)["total_inc_tax"])
    assert world.xs.customers[sale["customer_id"]]["balance"] == 0
    assert world.stock("TEE-M") == stock  # the sale's lines as written: the edit is the person's
    assert [e.action for e in world.store.audit_entries(order_id)].count("settle_sale") == 1

    # Shipped later: nothing more to write, the edit not reported again.
    writes = world.xs_writes()
    world.set_status(order_id, 2)
    report = await world.cycle(advance=60)
    assert report.outcomes[Outcome.RECORDED] == 1 and world.xs_writes() == writes
    assert len(world.store.exceptions()) == 1


async def test_an_edit_that_changed_the_amount_is_not_settled_but_flagged(db_world):
    world = db_world
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    await world.cycle()
    writes = world.xs_writes()
    world.edit_lines(order_id, [line("TEE-M", 1)])  # half the amount, then paid
    world.set_status(order_id, 11)
    report = await world.cycle()
    assert report.outcomes[Outcome.RECORDED] == 1 and not report.failed
    assert world.sale(order_id)["status"] == "ONACCOUNT" and world.xs_writes() == writes
    settle = [e for e in world.store.exceptions() if e.kind == "settle"]
    assert [e.kind for e in world.store.exceptions()] == ["edit", "settle"] and len(settle) == 1
    assert settle[0].summary.startswith("paid 22") and "44" in settle[0].summary
    # Read again: nothing written, nothing reported twice.
    world.bc.touch(order_id)
    await world.cycle(advance=60)
    assert world.xs_writes() == writes and len(world.store.exceptions()) == 2


async def test_an_edit_alone_of_an_unpaid_order_does_not_settle(world):
    order_id = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")
    await world.cycle()
    world.edit_lines(order_id, [line("TEE-M", 1), line("TEE-L", 1, product_id=112)])
    report = await world.cycle()
    assert report.outcomes[Outcome.RECORDED] == 1
    assert world.sale(order_id)["status"] == "ONACCOUNT"
    assert [e.kind for e in world.store.exceptions()] == ["edit"]
    # Paid in a later cycle: settled then.
    world.set_status(order_id, 11)
    assert (await world.cycle()).outcomes[Outcome.SETTLED] == 1
    assert world.sale(order_id)["status"] == "ONACCOUNT_CLOSED"
