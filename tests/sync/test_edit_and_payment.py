"""An on-account order edited and paid between two cycles: the edit is an exception (sync.on_edit:
exception) and the payment is still written. Before, the edit took the mirror's branch alone, the
paid status was recorded as the one the sale had, and the sale stayed ONACCOUNT for good."""

from __future__ import annotations

from decimal import Decimal

from connector.sync.order_mirror import Outcome
from sync_world import line, sale_paid


async def test_an_edit_and_a_payment_in_one_window_still_settle(db_world):
    world = db_world
    order_id = world.add_order([line("TEE-M", 2)], status_id=7)  # Awaiting Payment
    await world.cycle()
    before = world.sale(order_id)
    assert before["status"] == "ONACCOUNT"
    assert world.xs.customers[before["customer_id"]]["balance"] < 0
    stock = world.stock("TEE-M")

    # Between two cycles the merchant edits a line and marks the transfer received.
    world.edit_lines(order_id, [line("TEE-M", 1)])
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


async def test_an_edit_alone_of_an_unpaid_order_does_not_settle(world):
    order_id = world.add_order([line("TEE-M", 2)], status_id=7)
    await world.cycle()
    world.edit_lines(order_id, [line("TEE-M", 1)])
    report = await world.cycle()
    assert report.outcomes[Outcome.RECORDED] == 1
    assert world.sale(order_id)["status"] == "ONACCOUNT"
    assert [e.kind for e in world.store.exceptions()] == ["edit"]
    # Paid in a later cycle: settled then.
    world.set_status(order_id, 11)
    assert (await world.cycle()).outcomes[Outcome.SETTLED] == 1
    assert world.sale(order_id)["status"] == "ONACCOUNT_CLOSED"
